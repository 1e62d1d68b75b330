/**
 * Prometheus metrics: /metrics parses as Prometheus text, and each series
 * moves as requests drive the server: requests by route pattern, writes,
 * locks held and their age (read from disk, so a second replica sees them),
 * lock waits and waiters, force-unlocks, decrypt failures, the stack bound,
 * and the separate unauthenticated listener.
 */
import t, { type Test } from 'tap'
import type { App } from '../../src/http/app-type.js'
import { listenMetrics } from '../../src/http/metrics-listener.js'
import { Metrics } from '../../src/http/metrics.js'
import { Gauge } from 'prom-client'
import { Keyring } from '../../src/crypto/keyring.js'
import { keyFromEnv } from '../../src/crypto/keys.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { authFromText, bearer, newToken, terraformState, tokensFileText } from '../helpers/auth.js'
import { ManualClock } from '../helpers/clock.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'
import { type Exposition, parseExposition, sampleValue, samplesOf } from '../helpers/prom-text.js'
import { waitFor } from '../helpers/wait.js'

const JSON_TYPE = { 'content-type': 'application/json' }
const STATE_PATH = '/v1/factories/:factory/stacks/:stack'

/** Scrapes GET /metrics through `app` and parses it strictly. */
async function scrape(t: Test, app: App, headers: Record<string, string> = {}): Promise<Exposition> {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers })
  t.equal(res.statusCode, 200, 'GET /metrics answers 200')
  t.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/, 'Prometheus text content type')
  return parseExposition(res.body)
}

function keyring(name: string, fill: string): Keyring {
  return new Keyring(keyFromEnv({ [name]: Buffer.alloc(32, fill).toString('base64') }, name))
}

t.test('GET /metrics is Prometheus text with every documented family typed', async (t) => {
  const { app } = await buildTestApp(t)
  const metrics = await scrape(t, app)
  const expected: Record<string, string> = {
    unobin_state_http_requests_total: 'counter',
    unobin_state_http_request_duration_seconds: 'histogram',
    unobin_state_locks_held: 'gauge',
    unobin_state_lock_age_seconds: 'gauge',
    unobin_state_oldest_lock_age_seconds: 'gauge',
    unobin_state_lock_wait_seconds: 'histogram',
    unobin_state_lock_waiters: 'gauge',
    unobin_state_force_unlocks_total: 'counter',
    unobin_state_snapshot_write_bytes: 'histogram',
    unobin_state_snapshot_write_duration_seconds: 'histogram',
    unobin_state_revs: 'gauge',
    unobin_state_stacks: 'gauge',
    unobin_state_stack_series_omitted: 'gauge',
    unobin_state_decrypt_failures_total: 'counter',
    unobin_state_retention_revs_total: 'counter',
    unobin_state_reseal_revs_total: 'counter',
  }
  for (const [name, type] of Object.entries(expected)) t.equal(metrics.types.get(name), type, `${name} is a ${type}`)
})

t.test('request counters move by route pattern, method and status, never by raw URL', async (t) => {
  const { app } = await buildTestApp(t)
  const labels = { route: `${STATE_PATH}/current`, method: 'GET', status: '404' }
  const before = sampleValue(await scrape(t, app), 'unobin_state_http_requests_total', labels) ?? 0
  for (let i = 0; i < 3; i++)
    await app.inject({ method: 'GET', url: `${stackUrl('secret-factory', 'secret-stack')}/current` })
  await app.inject({ method: 'GET', url: '/no/such/route' })
  const after = await scrape(t, app)
  t.equal(sampleValue(after, 'unobin_state_http_requests_total', labels), before + 3, 'three more GET …/current 404')
  t.equal(
    sampleValue(after, 'unobin_state_http_request_duration_seconds_count', labels),
    before + 3,
    'and three latencies',
  )
  t.equal(
    sampleValue(after, 'unobin_state_http_requests_total', { route: 'unmatched', status: '404' }),
    1,
    'an unmatched path counts as route "unmatched"',
  )
  const routes = samplesOf(after, 'unobin_state_http_requests_total').map((s) => s.labels.route ?? '')
  t.notOk(
    routes.some((r) => r.includes('secret')),
    'no route label carries a name from the URL',
  )
})

t.test('snapshot writes feed the write size and latency histograms (native and Terraform)', async (t) => {
  const { app } = await buildTestApp(t)
  const body = sampleSnapshot(1)
  t.equal(
    (await app.inject({ method: 'POST', url: `${stackUrl()}/snapshots`, headers: JSON_TYPE, payload: body }))
      .statusCode,
    201,
  )
  const refused = await app.inject({
    method: 'POST',
    url: `${stackUrl()}/snapshots`,
    headers: JSON_TYPE,
    payload: '{"format-version": 2}',
  })
  t.equal(refused.statusCode, 422, 'a refused write is not a write')
  const tf = terraformState(1)
  t.equal(
    (await app.inject({ method: 'POST', url: `${stackUrl('f1', 'tf')}/terraform`, headers: JSON_TYPE, payload: tf }))
      .statusCode,
    200,
  )
  const metrics = await scrape(t, app)
  t.equal(sampleValue(metrics, 'unobin_state_snapshot_write_bytes_count'), 2)
  t.equal(sampleValue(metrics, 'unobin_state_snapshot_write_bytes_sum'), body.length + Buffer.byteLength(tf))
  t.equal(sampleValue(metrics, 'unobin_state_snapshot_write_duration_seconds_count'), 2)
  t.equal(sampleValue(metrics, 'unobin_state_revs', { factory: 'f1', stack: 's1' }), 1)
  t.equal(sampleValue(metrics, 'unobin_state_revs', { factory: 'f1', stack: 'tf' }), 1)
  t.equal(sampleValue(metrics, 'unobin_state_stacks'), 2)
})

t.test('locks held and lock age are read from disk, so another replica reports them too', async (t) => {
  const dir = t.testdir()
  const clock = new ManualClock('2026-07-10T12:00:00Z')
  const a = await buildTestApp(t, { dir, clock })
  const b = await buildTestApp(t, { dir, clock })
  t.equal(sampleValue(await scrape(t, b.app), 'unobin_state_locks_held'), 0)
  t.equal((await a.app.inject({ method: 'POST', url: `${stackUrl()}/lock`, payload: { who: 'ci' } })).statusCode, 201)
  t.equal(
    (await a.app.inject({ method: 'POST', url: `${stackUrl('f1', 's2')}/lock`, payload: { who: 'ci' } })).statusCode,
    201,
  )
  clock.advanceMs(90_000)
  const seen = await scrape(t, b.app)
  t.equal(sampleValue(seen, 'unobin_state_locks_held'), 2, 'the other replica counts both locks')
  t.equal(
    sampleValue(seen, 'unobin_state_lock_age_seconds', { factory: 'f1', stack: 's1' }),
    90,
    'age since the lock was taken',
  )
  t.equal((await a.app.inject({ method: 'DELETE', url: `${stackUrl()}/lock?force=true&reason=test` })).statusCode, 200)
  const after = await scrape(t, b.app)
  t.equal(sampleValue(after, 'unobin_state_locks_held'), 1)
  t.equal(
    sampleValue(after, 'unobin_state_lock_age_seconds', { factory: 'f1', stack: 's1' }),
    undefined,
    'a released lock has no age series',
  )
})

t.test('force-unlocks count only when they remove a holder', async (t) => {
  const { app } = await buildTestApp(t)
  await app.inject({ method: 'POST', url: `${stackUrl()}/lock`, payload: { who: 'ci' } })
  t.equal((await app.inject({ method: 'DELETE', url: `${stackUrl()}/lock?force=true&reason=gone` })).statusCode, 200)
  t.equal((await app.inject({ method: 'DELETE', url: `${stackUrl()}/lock?force=true&reason=again` })).statusCode, 200)
  t.equal(sampleValue(await scrape(t, app), 'unobin_state_force_unlocks_total'), 1)
})

t.test('a waiting lock request shows as a waiter, then as a lock wait once acquired', async (t) => {
  const { app } = await buildTestApp(t, { pollMs: 5 })
  const holder = (
    await app.inject({ method: 'POST', url: `${stackUrl()}/lock`, payload: { who: 'first' } })
  ).json() as { id: string }
  const waiting = app.inject({ method: 'POST', url: `${stackUrl()}/lock?wait=30`, payload: { who: 'second' } })
  const waiters = await waitFor(
    async () => sampleValue(await scrape(t, app), 'unobin_state_lock_waiters') ?? 0,
    30_000,
    'the waiter to show',
  )
  t.equal(waiters, 1, 'one waiter')
  await app.inject({ method: 'DELETE', url: `${stackUrl()}/lock?id=${holder.id}` })
  t.equal((await waiting).statusCode, 201, 'the waiter got the lock')
  const after = await scrape(t, app)
  t.equal(sampleValue(after, 'unobin_state_lock_waiters'), 0)
  t.equal(sampleValue(after, 'unobin_state_lock_wait_seconds_count', { outcome: 'acquired' }), 1, 'one wait, acquired')
  t.equal(sampleValue(after, 'unobin_state_lock_wait_seconds_count', { outcome: 'timeout' }), undefined, 'no timeout')
})

t.test('a wait that times out is observed as a timeout', async (t) => {
  const { app } = await buildTestApp(t, { pollMs: 5, maxWaitSeconds: 1 })
  await app.inject({ method: 'POST', url: `${stackUrl()}/lock`, payload: { who: 'first' } })
  t.equal(
    (await app.inject({ method: 'POST', url: `${stackUrl()}/lock?wait=1`, payload: { who: 'second' } })).statusCode,
    423,
  )
  t.equal(sampleValue(await scrape(t, app), 'unobin_state_lock_wait_seconds_count', { outcome: 'timeout' }), 1)
})

t.test('reading a rev sealed with a key the server lacks counts a decrypt failure', async (t) => {
  const dir = t.testdir()
  const writer = makeRoot(dir, { encrypter: keyring('KEY_A', 'a') })
  await writer.stack('f1', 's1').write(sampleSnapshot(1), { payloadType: 'state', makeCurrent: true })
  writer.close()
  const { app } = await buildTestApp(t, { dir, encrypter: keyring('KEY_B', 'b') })
  t.equal(sampleValue(await scrape(t, app), 'unobin_state_decrypt_failures_total'), 0)
  t.equal((await app.inject({ method: 'GET', url: `${stackUrl()}/current` })).statusCode, 500)
  t.equal((await app.inject({ method: 'GET', url: `${stackUrl()}/current` })).statusCode, 500)
  t.equal(sampleValue(await scrape(t, app), 'unobin_state_decrypt_failures_total'), 2)
})

t.test('above the stack bound, per-stack series are left out and the totals stay', async (t) => {
  const clock = new ManualClock('2026-07-10T12:00:00Z')
  const { app } = await buildTestApp(t, { clock, metrics: new Metrics({ maxStacks: 1 }) })
  for (const stack of ['s1', 's2'])
    await app.inject({
      method: 'POST',
      url: `${stackUrl('f1', stack)}/snapshots`,
      headers: JSON_TYPE,
      payload: sampleSnapshot(stack),
    })
  await app.inject({ method: 'POST', url: `${stackUrl('f1', 's2')}/lock`, payload: { who: 'ci' } })
  clock.advanceMs(30_000)
  const metrics = await scrape(t, app)
  t.equal(sampleValue(metrics, 'unobin_state_stacks'), 2)
  t.equal(sampleValue(metrics, 'unobin_state_stack_series_omitted'), 1)
  t.same(samplesOf(metrics, 'unobin_state_revs'), [], 'no revs series')
  t.same(samplesOf(metrics, 'unobin_state_lock_age_seconds'), [], 'no per-stack lock age')
  t.equal(sampleValue(metrics, 'unobin_state_locks_held'), 1, 'locks held still counted')
  t.equal(sampleValue(metrics, 'unobin_state_oldest_lock_age_seconds'), 30, 'oldest lock age still known')
})

t.test('with credentials, /metrics on the API listener needs read on every stack', async (t) => {
  const reader = newToken()
  const narrow = newToken()
  const auth = authFromText(
    tokensFileText([
      { name: 'prometheus', token: reader, grants: [{ scope: '*/*', allow: ['read'] }] },
      { name: 'ci', token: narrow, grants: [{ scope: 'f1/*', allow: ['read'] }] },
    ]),
  )
  const { app } = await buildTestApp(t, { auth })
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: bearer(narrow) })).statusCode, 403)
  await scrape(t, app, bearer(reader))
})

t.test('the separate listener serves the same metrics without credentials, and nothing else', async (t) => {
  const auth = authFromText(
    tokensFileText([{ name: 'x', token: newToken(), grants: [{ scope: '*/*', allow: ['*'] }] }]),
  )
  const { app, root, metrics } = await buildTestApp(t, { auth })
  const listener = await listenMetrics(metrics, root, '127.0.0.1', 0)
  t.teardown(() => listener.close())
  await app.inject({ method: 'GET', url: '/v1/factories' }) // 401: counted all the same
  const res = await fetch(`${listener.url}/metrics`)
  t.equal(res.status, 200)
  const exposition = parseExposition(await res.text())
  t.equal(
    sampleValue(exposition, 'unobin_state_http_requests_total', { route: '/v1/factories', status: '401' }),
    1,
    "the API listener's requests, through the shared registry",
  )
  t.equal((await fetch(`${listener.url}/v1/factories`)).status, 404, 'the API is not served there')
  t.equal((await fetch(`${listener.url}/metrics`, { method: 'POST' })).status, 405)
})

t.test(
  'a value that is not a number is rendered NaN, as the text format spells it (prom-client writes Nan)',
  async (t) => {
    const metrics = new Metrics()
    new Gauge({ name: 'test_not_a_number', help: 'a gauge set to NaN', registers: [metrics.registry] }).set(Number.NaN)
    const text = await metrics.render(makeRoot(t.testdir()))
    t.match(text, /^test_not_a_number NaN$/m)
    t.notMatch(text, / Nan$/m, 'no value spelled Nan')
    t.ok(Number.isNaN(sampleValue(parseExposition(text), 'test_not_a_number')), 'a strict parser reads it')
  },
)
