/**
 * A lock id is granted once: after a force-unlock, an expiry or a release,
 * the old holder's LOCK with the same `ID` is refused (409
 * `lock-id-reused`), so its writes with that id never come back to life.
 */
import t from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { lockInfo, terraformState } from '../helpers/auth.js'

const json = { 'content-type': 'application/json' }

t.test('after a force-unlock the old holder can neither lock again with its ID nor write with it', async (t) => {
  const { app } = await buildTestApp(t)
  const url = `${stackUrl()}/terraform`
  t.equal((await app.inject({ method: 'LOCK', url, headers: json, payload: lockInfo('X') })).statusCode, 200)
  t.equal(
    (await app.inject({ method: 'LOCK', url, headers: json, payload: lockInfo('X') })).statusCode,
    200,
    'a retry while held is still granted',
  )
  t.equal(
    (await app.inject({ method: 'POST', url: `${url}?ID=X`, headers: json, payload: terraformState(1) })).statusCode,
    200,
  )
  t.equal((await app.inject({ method: 'UNLOCK', url })).statusCode, 200, 'force-unlock')
  const again = await app.inject({ method: 'LOCK', url, headers: json, payload: lockInfo('X') })
  t.equal(again.statusCode, 409)
  t.equal(again.json().code, 'lock-id-reused')
  const write = await app.inject({ method: 'POST', url: `${url}?ID=X`, headers: json, payload: terraformState(2) })
  t.equal(write.statusCode, 423, 'the write with the old id stays refused')
  t.equal(write.json().code, 'lock-lost')
  const native = await app.inject({
    method: 'POST',
    url: `${stackUrl()}/snapshots`,
    headers: { 'lock-id': 'X', ...json },
    payload: '{}',
  })
  t.not(native.statusCode, 201)
  t.equal(
    (await app.inject({ method: 'LOCK', url, headers: json, payload: lockInfo('Y') })).statusCode,
    200,
    'a new id is granted',
  )
})

t.test('an id released by unlock is not granted again, even after later holders', async (t) => {
  const { app } = await buildTestApp(t)
  const url = `${stackUrl()}/terraform`
  for (const id of ['A', 'B', 'C']) {
    t.equal((await app.inject({ method: 'LOCK', url, headers: json, payload: lockInfo(id) })).statusCode, 200)
    t.equal((await app.inject({ method: 'UNLOCK', url, headers: json, payload: lockInfo(id) })).statusCode, 200)
  }
  const res = await app.inject({ method: 'LOCK', url, headers: json, payload: lockInfo('A') })
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'lock-id-reused')
})

t.test("an id refused because the stack was held stays free for the client's retry", async (t) => {
  const { app } = await buildTestApp(t)
  const url = `${stackUrl()}/terraform`
  t.equal((await app.inject({ method: 'LOCK', url, headers: json, payload: lockInfo('holder') })).statusCode, 200)
  t.equal((await app.inject({ method: 'LOCK', url, headers: json, payload: lockInfo('waiter') })).statusCode, 423)
  t.equal((await app.inject({ method: 'UNLOCK', url, headers: json, payload: lockInfo('holder') })).statusCode, 200)
  t.equal(
    (await app.inject({ method: 'LOCK', url, headers: json, payload: lockInfo('waiter') })).statusCode,
    200,
    '-lock-timeout retries with the same ID',
  )
})
