/** Fencing, leases, lock waits and shutdown through app.inject: what a locked stack accepts and refuses. */
import t from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { ManualClock } from '../helpers/clock.js'
import { sampleSnapshot } from '../helpers/store.js'
import { waitFor } from '../helpers/wait.js'
import {
  type Holder,
  assertProblem,
  currentRevOf,
  ownStack,
  postSnapshot,
  revsOf,
  takeLock,
  writeRev,
} from '../helpers/api.js'

t.test("a locked stack refuses every mutation without the holder's Lock-Id with 423 locked", async (t) => {
  const { app, url } = await ownStack()
  const r1 = await writeRev(app, url, 1, { query: '?current=true' })
  const r2 = await writeRev(app, url, 2)
  const holder = await takeLock(app, url)
  const refusals = [
    await postSnapshot(app, url, sampleSnapshot(3)),
    await app.inject({ method: 'PUT', url: `${url}/current`, payload: { rev: r2 } }),
    await app.inject({ method: 'DELETE', url: `${url}/snapshots/${r2}` }),
    await app.inject({ method: 'POST', url: `${url}/snapshots:gc`, payload: { keep: 0 } }),
  ]
  for (const res of refusals) {
    const problem = assertProblem(t, res, 423, 'locked')
    t.equal((problem.holder as Holder | undefined)?.id, holder.id, 'the refusal names the holder')
  }
  t.strictSame(await revsOf(app, url), [r1, r2], 'nothing changed')
  t.equal(await currentRevOf(app, url), r1)
})

t.test("a locked stack accepts every mutation with the holder's Lock-Id", async (t) => {
  const { app, url } = await ownStack()
  const r1 = await writeRev(app, url, 1, { query: '?current=true' })
  const holder = await takeLock(app, url)
  const headers = { 'lock-id': holder.id }
  const write = await postSnapshot(app, url, sampleSnapshot(2), { headers })
  t.equal(write.statusCode, 201)
  const r2 = (write.json() as { rev: string }).rev
  const r3 = await writeRev(app, url, 3, { headers })
  const set = await app.inject({ method: 'PUT', url: `${url}/current`, headers, payload: { rev: r3 } })
  t.equal(set.statusCode, 200)
  const del = await app.inject({ method: 'DELETE', url: `${url}/snapshots/${r2}`, headers })
  t.equal(del.statusCode, 200)
  t.equal((del.json() as { deleted: boolean }).deleted, true)
  const gc = await app.inject({ method: 'POST', url: `${url}/snapshots:gc`, headers, payload: { keep: 0 } })
  t.equal(gc.statusCode, 200)
  t.strictSame((gc.json() as { deleted: string[] }).deleted, [r1])
  t.strictSame(await revsOf(app, url), [r3])
  t.equal(await currentRevOf(app, url), r3)
})

t.test('after a force-unlock the old lock id is refused with 423 lock-lost', async (t) => {
  const { app, url } = await ownStack()
  const r1 = await writeRev(app, url, 1, { query: '?current=true' })
  const old = await takeLock(app, url)
  await app.inject({ method: 'DELETE', url: `${url}/lock?force=true&reason=stuck` })
  const headers = { 'lock-id': old.id }
  const refusals = [
    await postSnapshot(app, url, sampleSnapshot(2), { headers }),
    await app.inject({ method: 'PUT', url: `${url}/current`, headers, payload: { rev: r1 } }),
    await app.inject({ method: 'DELETE', url: `${url}/snapshots/${r1}?force=true`, headers }),
    await app.inject({ method: 'POST', url: `${url}/snapshots:gc`, headers, payload: { keep: 0 } }),
  ]
  for (const res of refusals) assertProblem(t, res, 423, 'lock-lost')
  // Still lost once someone else holds the stack.
  await takeLock(app, url, { who: 'next' })
  assertProblem(t, await postSnapshot(app, url, sampleSnapshot(3), { headers }), 423, 'lock-lost')
  t.strictSame(await revsOf(app, url), [r1])
})

t.test("an expired lease frees the stack and the old holder's writes are refused with 423 lock-lost", async (t) => {
  const clock = new ManualClock('2026-07-10T12:00:00Z')
  const { app } = await buildTestApp(t, { clock })
  const url = stackUrl()
  const old = await takeLock(app, url, { ttl: 1 })
  const before = await writeRev(app, url, 'in-lease', { headers: { 'lock-id': old.id } })
  clock.advanceMs(2000)
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/lock` }), 404, 'not-locked')
  assertProblem(
    t,
    await postSnapshot(app, url, sampleSnapshot('late'), { headers: { 'lock-id': old.id } }),
    423,
    'lock-lost',
  )
  assertProblem(
    t,
    await app.inject({ method: 'PUT', url: `${url}/lock`, payload: { id: old.id, ttl: 60 } }),
    423,
    'lock-lost',
  )
  t.strictSame(await revsOf(app, url), [before], 'the late write was not applied')
  const next = await takeLock(app, url, { who: 'next' })
  t.ok(next.generation > old.generation)
  assertProblem(
    t,
    await postSnapshot(app, url, sampleSnapshot('later'), { headers: { 'lock-id': old.id } }),
    423,
    'lock-lost',
  )
})

t.test('with requireLock a mutation without a lock answers 428 lock-required', async (t) => {
  const { app } = await buildTestApp(t, { requireLock: true })
  const url = stackUrl()
  assertProblem(t, await postSnapshot(app, url, sampleSnapshot(1)), 428, 'lock-required')
  t.strictSame(await revsOf(app, url), [])
  const holder = await takeLock(app, url)
  const res = await postSnapshot(app, url, sampleSnapshot(1), {
    headers: { 'lock-id': holder.id },
    query: '?current=true',
  })
  t.equal(res.statusCode, 201)
  const rev = (res.json() as { rev: string }).rev
  await app.inject({ method: 'DELETE', url: `${url}/lock?id=${holder.id}` })
  assertProblem(t, await app.inject({ method: 'PUT', url: `${url}/current`, payload: { rev } }), 428, 'lock-required')
  assertProblem(
    t,
    await app.inject({ method: 'DELETE', url: `${url}/snapshots/${rev}?force=true` }),
    428,
    'lock-required',
  )
  assertProblem(
    t,
    await app.inject({ method: 'POST', url: `${url}/snapshots:gc`, payload: { keep: 0 } }),
    428,
    'lock-required',
  )
  t.strictSame(await revsOf(app, url), [rev])
})

// --- waiting and shutdown ---------------------------------------------------------

t.test('POST lock with wait on a lock that stays held answers 423 wait-timeout', async (t) => {
  // maxWaitSeconds is a whole number in the config; the app takes any number, so the test waits 200 ms, not seconds.
  const { app } = await buildTestApp(t, { maxWaitSeconds: 0.2 })
  const url = stackUrl()
  const holder = await takeLock(app, url, { who: 'holder' })
  const res = await app.inject({ method: 'POST', url: `${url}/lock?wait=1`, payload: { who: 'waiter' } })
  const problem = assertProblem(t, res, 423, 'wait-timeout')
  t.equal((problem.holder as Holder).id, holder.id)
  const still = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal((still.json() as Holder).id, holder.id)
})

t.test('POST lock with wait gets the lock once the holder unlocks', async (t) => {
  const { app } = await buildTestApp(t, { maxWaitSeconds: 30 })
  const url = stackUrl()
  const holder = await takeLock(app, url, { who: 'holder' })
  const waiting = app.inject({ method: 'POST', url: `${url}/lock?wait=30`, payload: { who: 'waiter' } })
  const unlock = await app.inject({ method: 'DELETE', url: `${url}/lock?id=${holder.id}` })
  t.equal(unlock.statusCode, 200)
  const res = await waiting
  t.equal(res.statusCode, 201)
  t.equal((res.json() as Holder).who, 'waiter')
  t.ok((res.json() as Holder).generation > holder.generation)
})

t.test('shutdown ends a pending wait with 503 shutting-down and Retry-After, and readiness turns false', async (t) => {
  const { app, root, beginShutdown } = await buildTestApp(t, { maxWaitSeconds: 30 })
  const url = stackUrl()
  const holder = await takeLock(app, url)
  const waiting = app.inject({ method: 'POST', url: `${url}/lock?wait=30`, payload: { who: 'waiter' } })
  await waitFor(() => root.stack('f1', 's1').waiting > 0, 30_000, 'the waiter to queue for the lock')
  beginShutdown()
  const res = await waiting
  assertProblem(t, res, 503, 'shutting-down')
  t.ok(res.headers['retry-after'], 'Retry-After is set')
  t.match(String(res.headers['retry-after']), /^\d+$/)
  const still = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal((still.json() as Holder).id, holder.id, 'the held lock survives')
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 503)
})
