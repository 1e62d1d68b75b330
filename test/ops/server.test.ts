/**
 * The operations settings wired into the real process: the separate metrics
 * listener, the retention schedule, the readiness probe command, and a clean
 * SIGTERM with both running.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { builtEntry } from '../helpers/built.js'
import { startServer } from '../helpers/server-process.js'
import { sampleSnapshot } from '../helpers/store.js'
import { parseExposition, sampleValue } from '../helpers/prom-text.js'
import { waitFor } from '../helpers/wait.js'

const HEALTHCHECK = builtEntry('dist/src/tools/healthcheck.js')

/** Waits until `find` returns a value; fails after a generous guard instead of hanging. */
async function until<T>(find: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const box = await waitFor(
    async () => {
      const found = await find()
      return found === undefined ? undefined : { found }
    },
    60_000,
    'a condition of the running server',
  )
  return box.found
}

t.test('the server serves metrics on --metrics-listen, prunes on its schedule, and stops cleanly', async (t) => {
  const dir = t.testdir()
  const server = await startServer([
    '--data-dir',
    `${dir}/data`,
    '--metrics-listen',
    '127.0.0.1:0',
    '--retention-keep',
    '1',
    '--retention-interval',
    '1s',
    '--trash-days',
    '1',
    '--log-level',
    'info',
  ])
  t.teardown(() => server.stop('SIGKILL'))
  const metricsUrl = await until(() =>
    server.lines.map((l) => /"url":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/.exec(l)?.[1]).find((u) => u !== undefined),
  )
  const base = `${server.url}/v1/factories/f1/stacks/s1`
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${base}/snapshots?current=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: sampleSnapshot(i),
    })
    t.equal(res.status, 201)
  }
  const revs = await until(async () => {
    const list = (await (await fetch(`${base}/snapshots`)).json()) as { revs: string[] }
    return list.revs.length === 1 ? list.revs : undefined
  })
  t.equal(revs.length, 1, 'the schedule pruned the stack to its newest (current) rev')
  const trash = (await (await fetch(`${base}/trash`)).json()) as { revs: unknown[] }
  t.equal(trash.revs.length, 2, 'the pruned revs are in the trash')

  // The prune shows in the listing before its run ends and counts it (the run also sweeps, and a loaded machine
  // stretches that gap): wait for the count rather than read it once.
  const metrics = await until(async () => {
    const res = await fetch(metricsUrl)
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`)
    const parsed = parseExposition(await res.text())
    return sampleValue(parsed, 'unobin_state_retention_revs_total', { step: 'trashed' }) === undefined
      ? undefined
      : parsed
  })
  t.equal(
    sampleValue(metrics, 'unobin_state_retention_revs_total', { step: 'trashed' }),
    2,
    "the schedule's prune is counted",
  )
  t.equal(sampleValue(metrics, 'unobin_state_revs', { factory: 'f1', stack: 's1' }), 1)
  t.ok((sampleValue(metrics, 'process_resident_memory_bytes') ?? 0) > 0, 'process metrics are exported')

  const probe = await promisify(execFile)(process.execPath, [HEALTHCHECK, '/readyz'], {
    env: { PATH: process.env.PATH, UNOBIN_STATE_LISTEN: server.url.replace('http://', '') },
  }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? 1,
  )
  t.equal(probe, 0, 'the readiness probe command answers ready')

  t.equal(await server.stop('SIGTERM'), 0, 'SIGTERM exits 0 with the listener and the schedule running')
  await t.rejects(fetch(metricsUrl), 'the metrics listener is closed')
})
