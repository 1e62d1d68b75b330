/** The native lock routes through app.inject: take, inspect, renew, release, force-unlock, generations. */
import t from 'tap'
import { buildTestApp, stackUrl } from '../../helpers/app.js'
import { ManualClock } from '../../helpers/clock.js'
import { type Holder, assertProblem, ownStack, takeLock } from '../../helpers/api.js'

t.test('POST lock answers 201 with every holder field', async (t) => {
  const { app, url } = await ownStack()
  const res = await app.inject({
    method: 'POST',
    url: `${url}/lock`,
    payload: { who: 'ci@runner-7', operation: 'apply', info: 'job 42' },
  })
  t.equal(res.statusCode, 201)
  const holder = res.json() as Holder
  for (const field of [
    'id',
    'generation',
    'who',
    'operation',
    'info',
    'principal',
    'remote',
    'created',
    'expires',
    'pid',
    'host',
  ]) {
    t.ok(Object.hasOwn(holder, field), `holder has ${field}`)
  }
  t.type(holder.id, 'string')
  t.not(holder.id, '')
  t.equal(holder.generation, 1)
  t.equal(holder.who, 'ci@runner-7')
  t.equal(holder.operation, 'apply')
  t.equal(holder.info, 'job 42')
  t.equal(holder.principal, 'anonymous')
  t.equal(holder.remote, '127.0.0.1')
  t.type(holder.created, 'string')
  t.ok(Number.isFinite(Date.parse(String(holder.created))), 'created is an instant')
  t.equal(holder.expires, null, 'no ttl: no lease')
  t.equal(holder.pid, process.pid)
  t.equal(holder.host, 'test-host')
  t.equal(holder.legacy, false)
})

t.test('POST lock with a ttl records when the lease ends', async (t) => {
  const clock = new ManualClock('2026-07-10T12:00:00Z')
  const { app } = await buildTestApp(t, { clock })
  const url = stackUrl()
  const holder = await takeLock(app, url, { ttl: 90 })
  t.equal(holder.created, '2026-07-10T12:00:00Z')
  t.equal(holder.expires, '2026-07-10T12:01:30Z')
})

t.test('a second POST lock answers 423 locked with the holder', async (t) => {
  const { app, url } = await ownStack()
  const first = await takeLock(app, url, { who: 'first' })
  const res = await app.inject({ method: 'POST', url: `${url}/lock`, payload: { who: 'second' } })
  const problem = assertProblem(t, res, 423, 'locked')
  const holder = problem.holder as Holder
  t.equal(holder.id, first.id)
  t.equal(holder.who, 'first')
  t.equal(holder.generation, first.generation)
})

t.test('GET lock answers the holder, or 404 not-locked when free', async (t) => {
  const { app, url } = await ownStack()
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/lock` }), 404, 'not-locked')
  const holder = await takeLock(app, url, { who: 'me' })
  const res = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), holder)
  await app.inject({ method: 'DELETE', url: `${url}/lock?id=${holder.id}` })
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/lock` }), 404, 'not-locked')
})

t.test('PUT lock renews the lease by id in the body or in Lock-Id', async (t) => {
  const clock = new ManualClock('2026-07-10T12:00:00Z')
  const { app } = await buildTestApp(t, { clock })
  const url = stackUrl()
  const holder = await takeLock(app, url, { ttl: 60 })
  clock.advanceMs(30_000)
  const byBody = await app.inject({ method: 'PUT', url: `${url}/lock`, payload: { id: holder.id, ttl: 120 } })
  t.equal(byBody.statusCode, 200)
  t.equal((byBody.json() as Holder).expires, '2026-07-10T12:02:30Z')
  t.equal((byBody.json() as Holder).id, holder.id)
  clock.advanceMs(60_000)
  const byHeader = await app.inject({
    method: 'PUT',
    url: `${url}/lock`,
    headers: { 'lock-id': holder.id },
    payload: { ttl: 10 },
  })
  t.equal(byHeader.statusCode, 200)
  t.equal((byHeader.json() as Holder).expires, '2026-07-10T12:01:40Z')
  const forever = await app.inject({
    method: 'PUT',
    url: `${url}/lock`,
    headers: { 'lock-id': holder.id },
    payload: {},
  })
  t.equal(forever.statusCode, 200)
  t.equal((forever.json() as Holder).expires, null, 'renew without ttl: no lease')
  const got = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal((got.json() as Holder).expires, null)
})

t.test('PUT lock without an id answers 400 and with another id answers 423 locked', async (t) => {
  const { app, url } = await ownStack()
  const holder = await takeLock(app, url, { ttl: 60 })
  assertProblem(
    t,
    await app.inject({ method: 'PUT', url: `${url}/lock`, payload: { ttl: 60 } }),
    400,
    'invalid-request',
  )
  const wrong = assertProblem(
    t,
    await app.inject({ method: 'PUT', url: `${url}/lock`, payload: { id: 'not-mine', ttl: 60 } }),
    423,
    'locked',
  )
  t.equal((wrong.holder as Holder).id, holder.id)
})

t.test('DELETE lock with a wrong id answers 423 locked with the holder and keeps the lock', async (t) => {
  const { app, url } = await ownStack()
  const holder = await takeLock(app, url)
  const problem = assertProblem(
    t,
    await app.inject({ method: 'DELETE', url: `${url}/lock?id=not-mine` }),
    423,
    'locked',
  )
  t.equal((problem.holder as Holder).id, holder.id)
  const still = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal(still.statusCode, 200)
  t.equal((still.json() as Holder).id, holder.id)
})

t.test('DELETE lock releases by id, and a retried unlock with the released id answers 200 again', async (t) => {
  const { app, url } = await ownStack()
  const holder = await takeLock(app, url)
  const first = await app.inject({ method: 'DELETE', url: `${url}/lock?id=${holder.id}` })
  t.equal(first.statusCode, 200)
  const answer = first.json() as { released: Holder; forced: boolean }
  t.equal(answer.forced, false)
  t.equal(answer.released.id, holder.id)
  const retry = await app.inject({ method: 'DELETE', url: `${url}/lock`, headers: { 'lock-id': holder.id } })
  t.equal(retry.statusCode, 200)
  t.equal((retry.json() as { released: Holder }).released.id, holder.id)
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/lock` }), 404, 'not-locked')
})

t.test('DELETE lock on a free stack with an unknown id answers 409 lock-not-held', async (t) => {
  const { app, url } = await ownStack()
  assertProblem(t, await app.inject({ method: 'DELETE', url: `${url}/lock?id=never-held` }), 409, 'lock-not-held')
  const holder = await takeLock(app, url)
  await app.inject({ method: 'DELETE', url: `${url}/lock?id=${holder.id}` })
  assertProblem(t, await app.inject({ method: 'DELETE', url: `${url}/lock?id=never-held` }), 409, 'lock-not-held')
})

t.test('DELETE lock without an id and without force answers 400', async (t) => {
  const { app, url } = await ownStack()
  const holder = await takeLock(app, url)
  assertProblem(t, await app.inject({ method: 'DELETE', url: `${url}/lock` }), 400, 'invalid-request')
  const still = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal((still.json() as Holder).id, holder.id)
})

t.test('force-unlock with a reason returns the removed holder and is audited with the reason', async (t) => {
  const { app, url, events } = await ownStack()
  const holder = await takeLock(app, url, { who: 'crashed-job' })
  const res = await app.inject({
    method: 'DELETE',
    url: `${url}/lock?force=true&reason=${encodeURIComponent('runner died')}`,
  })
  t.equal(res.statusCode, 200)
  const answer = res.json() as { released: Holder; forced: boolean }
  t.equal(answer.forced, true)
  t.strictSame(answer.released, holder)
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/lock` }), 404, 'not-locked')
  const event = events().find((e) => e.action === 'lock.force-unlock')
  t.ok(event, 'force-unlock was audited')
  t.equal(event?.detail?.reason, 'runner died')
  t.equal(event?.lockId, holder.id)
  t.equal(event?.principal, 'anonymous')
})

t.test('force-unlock of a free stack answers 200 with no holder', async (t) => {
  const { app, url } = await ownStack()
  const res = await app.inject({ method: 'DELETE', url: `${url}/lock?force=true&reason=cleanup` })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { released: null, forced: true })
})

t.test('the generation grows at every acquisition and at every force-unlock', async (t) => {
  const { app, url } = await ownStack()
  const a = await takeLock(app, url)
  await app.inject({ method: 'DELETE', url: `${url}/lock?id=${a.id}` })
  const b = await takeLock(app, url)
  t.ok(b.generation > a.generation, 'a new acquisition bumps the generation')
  const forced = await app.inject({ method: 'DELETE', url: `${url}/lock?force=true&reason=test` })
  t.equal(forced.statusCode, 200)
  const c = await takeLock(app, url)
  t.ok(c.generation >= b.generation + 2, 'the force-unlock bumped the generation too')
})
