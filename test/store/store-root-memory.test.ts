import t from 'tap'
import { join } from 'node:path'
import { ChildScripts } from '../helpers/child.js'

// 100,000 injected requests take minutes on a loaded 2-core machine (a stop for stuck runs, not a timing claim).
t.setTimeout(900_000)

/**
 * Names asked for after the warm-up. A root that keeps a handle per name
 * (about 2 KB each) needs some 200 MB more for them, and dies in a 128 MB
 * heap; a bounded one stays near its warm baseline (about 40 MB, the app).
 * 64 MB would prove the same but leaves so little headroom over the app
 * that the collector runs all the time and the run takes many minutes.
 */
const NAMES = 100_000
/** The heap may grow this much over its warm baseline (allocator slack, the bounded handle cache), not with the names. */
const SLACK_BYTES = 8 * 1024 * 1024

t.test('100,000 distinct stack names asked over HTTP leave the heap within a fixed bound', async (t) => {
  const children = new ChildScripts(t.testdir())
  const child = children.spawn(t, 'name-flood', [join(t.testdir(), 'data'), String(NAMES)], {}, [
    '--expose-gc',
    '--max-old-space-size=128',
  ])
  // No line guard fits 100,000 requests on a loaded machine; the child's exit (OOM or done) ends the wait.
  const exit = await child.closed
  const line = child.lines.find((l) => l.startsWith('heap '))
  t.ok(line !== undefined && exit.code === 0, `the child finished (${JSON.stringify(exit)}); stderr: ${child.stderr}`)
  if (line === undefined) return
  const [baseline, after] = line.split(' ').slice(1).map(Number) as [number, number]
  t.comment(`heap used after gc: ${(baseline / 2 ** 20).toFixed(1)} MB warm, ${(after / 2 ** 20).toFixed(1)} MB after`)
  t.ok(after < 2 * baseline + SLACK_BYTES, `heap after ${after} B stays under 2 × ${baseline} B + ${SLACK_BYTES} B`)
})
