/** With static tokens, a lock belongs to the authenticated principal: its holder, whose lock ids others may not present, and the force-unlock and admin permissions that override it. */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { bearer, lockInfo, principals, statusAs, terraformState } from '../helpers/auth.js'

const STACK = '/v1/factories/f1/stacks/s1'

t.test('a lock records the authenticated principal, whatever the client claims', async (t) => {
  const { auth, tokens } = principals({ alice: ['*'] })
  const { app } = await buildTestApp(t, { auth })
  const res = await app.inject({
    method: 'POST',
    url: `${STACK}/lock`,
    headers: bearer(tokens.alice),
    payload: { who: 'bob@laptop', operation: 'apply' },
  })
  t.equal(res.statusCode, 201)
  t.equal(res.json().principal, 'alice')
  t.equal(res.json().who, 'bob@laptop', 'the claim is kept for display')
})

t.test("a caller presenting another principal's lock id is refused with 403", async (t) => {
  const { auth, tokens } = principals({ alice: ['read', 'write', 'lock'], bob: ['read', 'write', 'lock'] })
  const { alice, bob } = tokens
  const { app } = await buildTestApp(t, { auth })
  const id = '2f6a9d7e-1c1a-4d5e-9f00-000000000002'
  t.equal(await statusAs(app, alice, 'LOCK', `${STACK}/terraform`, lockInfo(id)), 200)
  const refused: Array<[string, string, string | Record<string, unknown> | undefined, Record<string, string>, string]> =
    [
      ['LOCK', `${STACK}/terraform`, lockInfo(id), {}, "bob cannot re-take alice's lock by its id"],
      ['POST', `${STACK}/terraform?ID=${id}`, terraformState(1), {}, 'nor write under it'],
      [
        'PUT',
        `${STACK}/current`,
        { rev: '2026-07-10T12:00:00Z' },
        { 'lock-id': id },
        'nor fence a native change with it',
      ],
      ['UNLOCK', `${STACK}/terraform`, lockInfo(id), {}, 'nor unlock it'],
      ['DELETE', `${STACK}/lock?id=${id}`, undefined, {}, 'nor release it natively'],
      ['PUT', `${STACK}/lock`, { id, ttl: 60 }, {}, 'nor renew it'],
    ]
  for (const [method, url, payload, headers, what] of refused)
    t.equal(await statusAs(app, bob, method, url, payload, headers), 403, what)
  t.equal(
    await statusAs(app, alice, 'POST', `${STACK}/terraform?ID=${id}`, terraformState(1)),
    200,
    'alice writes under her lock',
  )
})

t.test("a caller with force-unlock may act on another principal's lock", async (t) => {
  const { auth, tokens } = principals({ alice: ['lock'], ops: ['lock', 'force-unlock'] })
  const { app } = await buildTestApp(t, { auth })
  const id = '2f6a9d7e-1c1a-4d5e-9f00-000000000003'
  t.equal(await statusAs(app, tokens.alice, 'LOCK', `${STACK}/terraform`, lockInfo(id)), 200)
  const idOnly = JSON.stringify({
    ID: id,
    Operation: '',
    Info: '',
    Who: '',
    Version: '',
    Created: '0001-01-01T00:00:00Z',
    Path: '',
  })
  t.equal(
    await statusAs(app, tokens.ops, 'UNLOCK', `${STACK}/terraform`, idOnly),
    200,
    'tofu force-unlock (ID-only body) by ops',
  )
})

t.test('force-unlock needs the force-unlock permission on every route that offers it', async (t) => {
  const { auth, tokens } = principals({ alice: ['lock'], locker: ['lock'], ops: ['lock', 'force-unlock'] })
  const { app } = await buildTestApp(t, { auth })
  t.equal(await statusAs(app, tokens.alice, 'POST', `${STACK}/lock`, {}), 201)
  t.equal(await statusAs(app, tokens.locker, 'DELETE', `${STACK}/lock?force=true&reason=stuck`), 403)
  t.equal(
    await statusAs(app, tokens.locker, 'UNLOCK', `${STACK}/terraform`),
    403,
    'terraform force-unlock (empty body)',
  )
  const ok = await app.inject({
    method: 'DELETE',
    url: `${STACK}/lock?force=true&reason=stuck`,
    headers: bearer(tokens.ops),
  })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().released.principal, 'alice')
})

t.test('a forced Terraform write needs admin', async (t) => {
  const { auth, tokens } = principals({ writer: ['write'], admin: ['write', 'admin'] })
  const { app } = await buildTestApp(t, { auth })
  t.equal(await statusAs(app, tokens.writer, 'POST', `${STACK}/terraform?force=true`, terraformState(1)), 403)
  t.equal(await statusAs(app, tokens.admin, 'POST', `${STACK}/terraform?force=true`, terraformState(1)), 200)
})
