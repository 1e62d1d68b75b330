/**
 * The start-up sweep in the real process: writers SIGKILLed between their
 * temp write and the step that uses it (the link of a held-locks entry, the
 * removal of the readiness probe's file, the case probe's look-up, the link
 * of a rev) leave temp files naming them; a server started afterwards on
 * the data directory removes them all in the background once it listens,
 * without a request touching those stacks, logs how many, and answers
 * normally. A writer that still runs keeps its temp file.
 */
import t, { type Test } from 'tap'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { tempName } from '../../src/fs/temp-files.js'
import { type Child, ChildScripts } from '../helpers/child.js'
import { type ServerProcess, startServer } from '../helpers/server-process.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'
import { waitFor } from '../helpers/wait.js'

const children = new ChildScripts(t.testdir())
const GUARD_MS = 60_000
const FACTORY = 'cluster-deploy'

/** Starts `script` on `root`, sends `command` and waits until it stops after its temp write; returns the temp's path. */
async function pausedAt(
  t: Test,
  script: string,
  args: string[],
  command: string,
): Promise<{ child: Child; temp: string }> {
  const child = children.spawn(t, script, args)
  await child.line('ready')
  child.send(command)
  const temp = (await child.line('paused ')).slice('paused '.length)
  return { child, temp }
}

/** A writer of the data directory's own files, killed after its temp write: the temp's path. */
async function killedRootWriter(t: Test, root: string, command: string): Promise<string> {
  const { child, temp } = await pausedAt(t, 'paused-root-writer', [root], command)
  const path = join(root, temp)
  t.ok(existsSync(path), `${command}: the temp file is there while its writer is stopped`)
  t.equal((await child.kill()).signal, 'SIGKILL')
  t.ok(existsSync(path), `${command}: the kill leaves it behind`)
  return path
}

/** The start-up sweep's summary, once the server has logged it. */
async function sweepSummary(server: ServerProcess): Promise<{ removed: number; stacks: number; failed: number }> {
  const line = await waitFor(
    () => server.lines.find((l) => l.includes('start-up sweep: removed')),
    GUARD_MS,
    'the start-up sweep to log its summary',
  )
  return JSON.parse(line) as { removed: number; stacks: number; failed: number }
}

/** Every `.tmp-` name under `dir`, as paths relative to it. */
function tempsUnder(dir: string, at = ''): string[] {
  return readdirSync(join(dir, at), { withFileTypes: true }).flatMap((e) => {
    const rel = join(at, e.name)
    if (e.name.startsWith('.tmp-')) return [rel]
    return e.isDirectory() ? tempsUnder(dir, rel) : []
  })
}

t.test(
  'a server started after writers were killed between temp write and link removes every leftover and answers normally',
  async (t) => {
    const root = t.testdir()
    const seeded = makeRoot(root)
    const rev = (await seeded.stack(FACTORY, 'prod').write(sampleSnapshot(1), { payloadType: 'state' })).rev
    await seeded.stack(FACTORY, 'prod').setCurrent(rev)

    const leftovers = [
      await killedRootWriter(t, root, 'reserve ci@runner cluster-deploy prod'),
      await killedRootWriter(t, root, 'probe'),
      await killedRootWriter(t, root, 'case-probe'),
    ]
    t.match(leftovers[0], /\/\.held-locks\/[0-9a-f]{32}\/\.tmp-/, 'the reservation’s temp is in the held-locks index')
    t.equal(dirname(leftovers[1]!), root, 'the readiness probe’s is in the data directory')
    t.match(leftovers[2], /case-probe-Aa/, 'and so is the case probe’s')

    // A rev write killed before its link, in a stack no request will touch, and what a killed change left in its trash and metadata.
    const { child, temp } = await pausedAt(t, 'paused-writer', [root, FACTORY, 'quiet'], 'write 2')
    await child.kill()
    const quiet = join(root, FACTORY, 'quiet')
    leftovers.push(join(quiet, 'snapshots', temp))
    const dead = /^\.tmp-[0-9a-f]+-\d+-(\d+|x)-/.exec(temp)![0] // the dead writer's part of its temp names
    for (const sub of ['.trash', '.meta']) {
      mkdirSync(join(quiet, sub), { recursive: true })
      writeFileSync(join(quiet, sub, `${dead}removed-0`), 'left by a killed change')
      leftovers.push(join(quiet, sub, `${dead}removed-0`))
    }
    t.equal(leftovers.filter((p) => existsSync(p)).length, 6, 'six leftovers before the start')

    const server = await startServer(['--data-dir', root, '--log-level', 'info'])
    t.teardown(() => server.stop('SIGKILL'))
    const summary = await sweepSummary(server)
    t.same(
      leftovers.filter((p) => existsSync(p)),
      [],
      'the start-up sweep removed them all',
    )
    t.same(tempsUnder(root), [], 'no temp file is left anywhere in the data directory')
    t.equal(summary.removed, 6, 'the summary counts them')
    t.equal(summary.stacks, 2, 'it visited both stacks')
    t.equal(summary.failed, 0)
    const listening = server.lines.findIndex((l) => l.includes('Server listening at'))
    const swept = server.lines.findIndex((l) => l.includes('start-up sweep: removed'))
    t.ok(listening >= 0 && swept > listening, 'the sweep ran after the server was listening')

    const base = `${server.url}/v1/factories/${FACTORY}/stacks`
    t.equal((await fetch(`${server.url}/readyz`)).status, 200, 'ready')
    const factories = (await (await fetch(`${server.url}/v1/factories`)).json()) as { factories: unknown }
    t.same(factories.factories, [{ name: FACTORY, stacks: 2 }], 'the factory listing shows the two stacks only')
    const current = await fetch(`${base}/prod/current`)
    t.equal(current.status, 200, 'the existing state reads back')
    t.same(Buffer.from(await current.arrayBuffer()), sampleSnapshot(1))
    const lock = await fetch(`${base}/prod/lock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ who: 'ci@runner' }),
    })
    t.equal(lock.status, 201, 'the lock is free')
    const { id } = (await lock.json()) as { id: string }
    const write = await fetch(`${base}/quiet/snapshots?current=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: sampleSnapshot(3),
    })
    t.equal(write.status, 201, 'the stack whose write was killed takes a new one')
    const revs = (await (await fetch(`${base}/quiet/snapshots`)).json()) as { revs: unknown[] }
    t.equal(revs.revs.length, 1, 'and lists only it')
    t.equal((await fetch(`${base}/prod/lock?id=${encodeURIComponent(id)}`, { method: 'DELETE' })).status, 200)
    t.equal(await server.stop(), 0, 'and stops cleanly')
  },
)

t.test('the start-up sweep leaves the temp files of writers that still run', async (t) => {
  const root = t.testdir()
  await makeRoot(root).stack(FACTORY, 'prod').write(sampleSnapshot(1), { payloadType: 'state' })
  const reserving = await pausedAt(t, 'paused-root-writer', [root], 'reserve ci@runner cluster-deploy prod')
  // This test process runs too: a temp file naming it is a live writer's (another replica's writer is judged alike).
  const mine = join(root, FACTORY, 'prod', 'snapshots', tempName())
  writeFileSync(mine, 'a write in flight')
  const live = [join(root, reserving.temp), mine]

  const server = await startServer(['--data-dir', root, '--log-level', 'info'])
  t.teardown(() => server.stop('SIGKILL'))
  const summary = await sweepSummary(server)
  t.equal(summary.removed, 0, 'nothing removed')
  t.equal(summary.stacks, 1, 'though the stack was visited')
  t.same(
    live.filter((p) => existsSync(p)),
    live,
    'both live writers’ temp files are still there',
  )
  const revs = await fetch(`${server.url}/v1/factories/${FACTORY}/stacks/prod/snapshots`)
  t.equal(((await revs.json()) as { revs: unknown[] }).revs.length, 1, 'the temp file is not listed')
  t.same(
    live.filter((p) => existsSync(p)),
    live,
    'a read of the stack leaves them too',
  )
})

t.test('a data directory the start-up sweep cannot read is logged, never fatal', async (t) => {
  const dir = t.testdir({ 'plain-file': 'not a directory' })
  const server = await startServer(['--data-dir', join(dir, 'plain-file', 'data'), '--log-level', 'info'])
  t.teardown(() => server.stop('SIGKILL'))
  const summary = await sweepSummary(server)
  t.ok(summary.failed >= 1, `the summary counts the failure (${summary.failed})`)
  const warnings = server.lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.level === 40 && String(e.msg).startsWith('start-up sweep:'))
  t.equal(warnings.length, 1, 'one warning: its own sweep and its listing meet the same refusal, told once')
  t.match(warnings[0], { where: 'data directory', code: 'ENOTDIR', error: /not a directory/ }, 'it names where and why')
  t.notOk('err' in (warnings[0] ?? {}), 'a refusal of the filesystem is no bug: no stack trace')
  t.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the server keeps running')
  t.equal(await server.stop('SIGTERM'), 0, 'and stops cleanly')
})
