/** With static tokens, a lock belongs to the authenticated principal: its holder, whose lock ids others may not present, and the force-unlock and admin permissions that override it. */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { authFromText, bearer, lockInfo, newToken, terraformState, tokensFileText } from '../helpers/auth.js'

const STACK = '/v1/factories/f1/stacks/s1'

t.test('a lock records the authenticated principal, whatever the client claims', async (t) => {
  const token = newToken()
  const { app } = await buildTestApp(t, {
    auth: authFromText(tokensFileText([{ name: 'alice', token, grants: [{ scope: '*/*', allow: ['*'] }] }])),
  })
  const res = await app.inject({
    method: 'POST',
    url: `${STACK}/lock`,
    headers: bearer(token),
    payload: { who: 'bob@laptop', operation: 'apply' },
  })
  t.equal(res.statusCode, 201)
  t.equal(res.json().principal, 'alice')
  t.equal(res.json().who, 'bob@laptop', 'the claim is kept for display')
})

t.test("a caller presenting another principal's lock id is refused with 403", async (t) => {
  const alice = newToken()
  const bob = newToken()
  const { app } = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([
        { name: 'alice', token: alice, grants: [{ scope: '*/*', allow: ['read', 'write', 'lock'] }] },
        { name: 'bob', token: bob, grants: [{ scope: '*/*', allow: ['read', 'write', 'lock'] }] },
      ]),
    ),
  })
  const id = '2f6a9d7e-1c1a-4d5e-9f00-000000000002'
  const json = { 'content-type': 'application/json' }
  t.equal(
    (
      await app.inject({
        method: 'LOCK',
        url: `${STACK}/terraform`,
        headers: { ...bearer(alice), ...json },
        payload: lockInfo(id),
      })
    ).statusCode,
    200,
  )
  t.equal(
    (
      await app.inject({
        method: 'LOCK',
        url: `${STACK}/terraform`,
        headers: { ...bearer(bob), ...json },
        payload: lockInfo(id),
      })
    ).statusCode,
    403,
    "bob cannot re-take alice's lock by its id",
  )
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: `${STACK}/terraform?ID=${id}`,
        headers: { ...bearer(bob), ...json },
        payload: terraformState(1),
      })
    ).statusCode,
    403,
    'nor write under it',
  )
  t.equal(
    (
      await app.inject({
        method: 'PUT',
        url: `${STACK}/current`,
        headers: { ...bearer(bob), 'lock-id': id },
        payload: { rev: '2026-07-10T12:00:00Z' },
      })
    ).statusCode,
    403,
    'nor fence a native change with it',
  )
  t.equal(
    (
      await app.inject({
        method: 'UNLOCK',
        url: `${STACK}/terraform`,
        headers: { ...bearer(bob), ...json },
        payload: lockInfo(id),
      })
    ).statusCode,
    403,
    'nor unlock it',
  )
  t.equal((await app.inject({ method: 'DELETE', url: `${STACK}/lock?id=${id}`, headers: bearer(bob) })).statusCode, 403)
  t.equal(
    (await app.inject({ method: 'PUT', url: `${STACK}/lock`, headers: bearer(bob), payload: { id, ttl: 60 } }))
      .statusCode,
    403,
    'nor renew it',
  )
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: `${STACK}/terraform?ID=${id}`,
        headers: { ...bearer(alice), ...json },
        payload: terraformState(1),
      })
    ).statusCode,
    200,
    'alice writes under her lock',
  )
})

t.test("a caller with force-unlock may act on another principal's lock", async (t) => {
  const alice = newToken()
  const ops = newToken()
  const { app } = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([
        { name: 'alice', token: alice, grants: [{ scope: '*/*', allow: ['lock'] }] },
        { name: 'ops', token: ops, grants: [{ scope: '*/*', allow: ['lock', 'force-unlock'] }] },
      ]),
    ),
  })
  const id = '2f6a9d7e-1c1a-4d5e-9f00-000000000003'
  const json = { 'content-type': 'application/json' }
  t.equal(
    (
      await app.inject({
        method: 'LOCK',
        url: `${STACK}/terraform`,
        headers: { ...bearer(alice), ...json },
        payload: lockInfo(id),
      })
    ).statusCode,
    200,
  )
  const forced = await app.inject({
    method: 'UNLOCK',
    url: `${STACK}/terraform`,
    headers: { ...bearer(ops), ...json },
    payload: JSON.stringify({
      ID: id,
      Operation: '',
      Info: '',
      Who: '',
      Version: '',
      Created: '0001-01-01T00:00:00Z',
      Path: '',
    }),
  })
  t.equal(forced.statusCode, 200, 'tofu force-unlock (ID-only body) by ops')
})

t.test('force-unlock needs the force-unlock permission on every route that offers it', async (t) => {
  const alice = newToken()
  const locker = newToken()
  const ops = newToken()
  const { app } = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([
        { name: 'alice', token: alice, grants: [{ scope: '*/*', allow: ['lock'] }] },
        { name: 'locker', token: locker, grants: [{ scope: '*/*', allow: ['lock'] }] },
        { name: 'ops', token: ops, grants: [{ scope: '*/*', allow: ['lock', 'force-unlock'] }] },
      ]),
    ),
  })
  t.equal(
    (await app.inject({ method: 'POST', url: `${STACK}/lock`, headers: bearer(alice), payload: {} })).statusCode,
    201,
  )
  t.equal(
    (await app.inject({ method: 'DELETE', url: `${STACK}/lock?force=true&reason=stuck`, headers: bearer(locker) }))
      .statusCode,
    403,
  )
  t.equal(
    (await app.inject({ method: 'UNLOCK', url: `${STACK}/terraform`, headers: bearer(locker) })).statusCode,
    403,
    'terraform force-unlock (empty body)',
  )
  const ok = await app.inject({ method: 'DELETE', url: `${STACK}/lock?force=true&reason=stuck`, headers: bearer(ops) })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().released.principal, 'alice')
})

t.test('a forced Terraform write needs admin', async (t) => {
  const writer = newToken()
  const admin = newToken()
  const { app } = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([
        { name: 'writer', token: writer, grants: [{ scope: '*/*', allow: ['write'] }] },
        { name: 'admin', token: admin, grants: [{ scope: '*/*', allow: ['write', 'admin'] }] },
      ]),
    ),
  })
  const json = { 'content-type': 'application/json' }
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: `${STACK}/terraform?force=true`,
        headers: { ...bearer(writer), ...json },
        payload: terraformState(1),
      })
    ).statusCode,
    403,
  )
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: `${STACK}/terraform?force=true`,
        headers: { ...bearer(admin), ...json },
        payload: terraformState(1),
      })
    ).statusCode,
    200,
  )
})
