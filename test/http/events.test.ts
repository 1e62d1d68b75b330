/** GET …/events over a real socket: the first view, lock and rev events, changes by another store on the volume, heartbeats, the cap, auth, metrics and shutdown. */
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { authFromText, bearer, newToken, tokensFileText } from '../helpers/auth.js'
import { type SseStream, openEvents } from '../helpers/sse-client.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'
import { waitFor } from '../helpers/wait.js'

type Options = Parameters<typeof buildTestApp>[1]

/** A built app listening on 127.0.0.1, with its base URL. */
async function listening(t: Test, options: Options = {}) {
  const built = await buildTestApp(t, options)
  await built.app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(built.app.server.address() as AddressInfo).port}`
  return { ...built, base }
}

async function stream(t: Test, url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const s = await openEvents(url, headers)
  t.teardown(() => s.close())
  return s
}

t.test(
  'the stream starts with the stack as it is, then reports lock and rev events made through the API',
  async (t) => {
    const b = await listening(t)
    const url = stackUrl()
    const first = await b.app.inject({
      method: 'POST',
      url: `${url}/snapshots?current=true`,
      payload: sampleSnapshot(1),
      headers: { 'content-type': 'application/json' },
    })
    const s = await stream(t, `${b.base}${url}/events`)
    t.match(s.headers['content-type'], /^text\/event-stream/)
    const hello = await s.next('hello')
    t.match(hello.data, {
      factory: 'f1',
      stack: 's1',
      current: first.json().rev,
      lock: null,
      revs: 1,
      newest: first.json().rev,
    })

    const lock = (
      await b.app.inject({
        method: 'POST',
        url: `${url}/lock`,
        payload: { who: 'alice', operation: 'apply', ttl: 600 },
      })
    ).json() as { id: string }
    t.match((await s.next('lock.acquired')).data, { holder: { id: lock.id, who: 'alice', operation: 'apply' } })
    t.equal(
      (await b.app.inject({ method: 'PUT', url: `${url}/lock`, payload: { id: lock.id, ttl: 1200 } })).statusCode,
      200,
    )
    t.match((await s.next('lock.renewed')).data, { holder: { id: lock.id } })
    const written = await b.app.inject({
      method: 'POST',
      url: `${url}/snapshots?current=true`,
      payload: sampleSnapshot(2),
      headers: { 'content-type': 'application/json', 'lock-id': lock.id },
    })
    t.strictSame((await s.next('rev.written')).data, { rev: written.json().rev })
    t.strictSame((await s.next('current.moved')).data, { rev: written.json().rev, previous: first.json().rev })
    t.equal((await b.app.inject({ method: 'DELETE', url: `${url}/lock?id=${lock.id}` })).statusCode, 200)
    t.match((await s.next('lock.released')).data, { holder: { id: lock.id } })

    await b.app.inject({ method: 'POST', url: `${url}/lock`, payload: { who: 'ci' } })
    await s.next('lock.acquired')
    t.equal((await b.app.inject({ method: 'DELETE', url: `${url}/lock?force=true&reason=job%20died` })).statusCode, 200)
    t.match((await s.next('lock.force-unlocked')).data, { holder: { who: 'ci' }, reason: 'job died' })
  },
)

t.test('changes made by another store on the same volume show without any request to this server', async (t) => {
  const b = await listening(t)
  const other = makeRoot(b.dir)
  t.teardown(() => other.close())
  const s = await stream(t, `${b.base}${stackUrl('f1', 'fresh')}/events`)
  t.match((await s.next('hello')).data, { current: null, lock: null, revs: 0 })
  const store = other.stack('f1', 'fresh')
  const holder = await store.lock(
    { who: 'go-tool-like', operation: 'plan' },
    { principal: 'elsewhere' },
    { ttlMs: 60_000 },
  )
  t.match((await s.next('lock.acquired')).data, { holder: { id: holder.id, who: 'go-tool-like' } })
  const { rev } = await store.write(sampleSnapshot(5), {
    payloadType: 'state',
    makeCurrent: true,
    fence: { lockId: holder.id },
  })
  t.strictSame((await s.next('rev.written')).data, { rev })
  t.strictSame((await s.next('current.moved')).data, { rev, previous: null })
  await store.forceUnlock({ principal: 'ops', reason: 'maintenance' })
  t.match((await s.next('lock.force-unlocked')).data, { by: 'ops', reason: 'maintenance' })
})

t.test('a lease that runs out is reported as expired', async (t) => {
  const b = await listening(t, { events: { pollMs: 100 } })
  // Taken before the stream opens, with a lease long enough to be seen held even on a loaded machine.
  const holder = await b.root.stack('f1', 's1').lock({ who: 'short' }, {}, { ttlMs: 3000 })
  const s = await stream(t, `${b.base}${stackUrl()}/events`)
  t.match((await s.next('hello')).data, { lock: { id: holder.id } })
  t.match((await s.next('lock.expired', 20_000)).data, { holder: { who: 'short' } })
})

t.test('heartbeats are comment lines', async (t) => {
  const b = await listening(t, { events: { heartbeatMs: 50 } })
  const s = await stream(t, `${b.base}${stackUrl()}/events`)
  await s.until(() => s.comments.some((c) => c.startsWith('heartbeat')), 'a heartbeat')
  t.pass('a heartbeat arrived')
})

t.test('streams beyond the cap answer 503 too-many-streams, and the gauge counts open streams', async (t) => {
  const b = await listening(t, { events: { maxStreams: 1 } })
  const gauge = async () =>
    (await b.metrics.registry.getSingleMetric('unobin_state_event_streams')!.get()).values[0]?.value
  const s = await stream(t, `${b.base}${stackUrl()}/events`)
  await s.next('hello')
  t.equal(await gauge(), 1)
  const refused = await openEvents(`${b.base}${stackUrl('f1', 's2')}/events`).then(
    () => null,
    (err: { status: number; body: string }) => err,
  )
  t.equal(refused?.status, 503)
  t.equal(JSON.parse(refused!.body).code, 'too-many-streams')
  s.close()
  await s.ended
  await waitFor(async () => (await gauge()) === 0, 30_000, 'the closed stream to be uncounted')
  t.equal(await gauge(), 0, 'a closed stream is no longer counted')
  const again = await stream(t, `${b.base}${stackUrl('f1', 's2')}/events`)
  t.equal(again.status, 200, 'a slot is free again')
})

t.test('the stream needs read: an outputs-only caller is refused', async (t) => {
  const reader = newToken()
  const downstream = newToken()
  const b = await listening(t, {
    auth: authFromText(
      tokensFileText([
        { name: 'reader', token: reader, grants: [{ scope: '*/*', allow: ['read'] }] },
        { name: 'downstream', token: downstream, grants: [{ scope: '*/*', allow: ['outputs'] }] },
      ]),
    ),
  })
  const url = `${b.base}${stackUrl()}/events`
  t.equal((await openEvents(url).catch((e: { status: number }) => e)).status, 401)
  t.equal((await openEvents(url, bearer(downstream)).catch((e: { status: number }) => e)).status, 403)
  const s = await stream(t, url, bearer(reader))
  t.equal(s.status, 200)
})

t.test('closing the app ends open streams instead of hanging on them', async (t) => {
  const b = await listening(t)
  const s = await openEvents(`${b.base}${stackUrl()}/events`)
  await s.next('hello')
  await b.app.close()
  await s.ended
  t.pass('the stream ended and close() returned')
})

t.test('HEAD answers the head of a stream without opening one', async (t) => {
  const b = await buildTestApp(t)
  const res = await b.app.inject({ method: 'HEAD', url: `${stackUrl()}/events` })
  t.equal(res.statusCode, 200)
  t.match(String(res.headers['content-type']), /^text\/event-stream/)
})
