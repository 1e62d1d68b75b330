/**
 * On a data volume that folds case (simulated: test/helpers/case-folding-fs.ts)
 * grants compare names ignoring case, so a deny on `prod` holds for `Prod`;
 * and a name spelled otherwise than the existing one is refused with a
 * problem (400 name-case-conflict) that names the spelling to use.
 */
import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { authFromText, bearer, newToken, terraformState, tokensFileText } from '../helpers/auth.js'
import { caseFoldingRoot } from '../helpers/case-folding-fs.js'

async function setup(t: Test, foldsCase: boolean) {
  const dir = t.testdir()
  const root = caseFoldingRoot(dir, foldsCase)
  const admin = newToken()
  const ci = newToken()
  const built = await buildTestApp(t, {
    dir,
    root,
    auth: authFromText(
      tokensFileText([
        { name: 'admin', token: admin, grants: [{ scope: '*/*', allow: ['*'] }] },
        {
          name: 'ci',
          token: ci,
          grants: [
            { scope: '*/*', allow: ['read', 'write', 'lock'] },
            { scope: 'prod/*', deny: ['read', 'write', 'lock'] },
          ],
        },
      ]),
    ),
  })
  const res = await built.app.inject({
    method: 'POST',
    url: '/v1/factories/prod/stacks/app/terraform',
    headers: { ...bearer(admin), 'content-type': 'application/json' },
    payload: terraformState(1),
  })
  t.equal(res.statusCode, 200, 'prod/app exists')
  return { ...built, admin, ci }
}

t.test('on a folding volume a deny on prod holds for Prod, PROD and pRoD', async (t) => {
  const { app, ci } = await setup(t, true)
  for (const factory of ['prod', 'Prod', 'PROD', 'pRoD']) {
    const url = `/v1/factories/${factory}/stacks/app`
    for (const [method, path] of [
      ['GET', '/terraform'],
      ['GET', '/current'],
      ['POST', '/lock'],
    ] as const) {
      const res = await app.inject({ method, url: `${url}${path}`, headers: bearer(ci), payload: {} })
      t.equal(res.statusCode, 403, `${method} ${url}${path}`)
      t.equal(res.json().code, 'forbidden')
    }
    const write = await app.inject({
      method: 'POST',
      url: `${url}/terraform`,
      headers: { ...bearer(ci), 'content-type': 'application/json' },
      payload: terraformState(2),
    })
    t.equal(write.statusCode, 403, `a write to ${factory}/app is refused`)
  }
  const whoami = await app.inject({ url: '/v1/whoami?factory=Prod&stack=app', headers: bearer(ci) })
  t.same(whoami.json().permissions, [], 'whoami tells the same')
})

t.test('on a case-sensitive volume a deny on prod does not reach Prod, a distinct stack', async (t) => {
  const { app, ci } = await setup(t, false)
  const res = await app.inject({ url: '/v1/factories/Prod/stacks/app/terraform', headers: bearer(ci) })
  t.equal(res.statusCode, 204, 'Prod/app is another stack, without state')
})

t.test(
  'on a folding volume a name differing only in case answers 400 name-case-conflict and changes nothing',
  async (t) => {
    const { app, admin } = await setup(t, true)
    const before = await app.inject({ url: '/v1/factories/prod/stacks', headers: bearer(admin) })
    const write = await app.inject({
      method: 'POST',
      url: '/v1/factories/Prod/stacks/app/terraform',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      payload: terraformState(2),
    })
    t.equal(write.statusCode, 400)
    t.match(write.headers['content-type'], /^application\/problem\+json/)
    t.match(write.json(), { code: 'name-case-conflict', factory: 'Prod', existing: 'prod' })
    t.match(write.json().detail, /use the existing name "prod"/)
    const read = await app.inject({ url: '/v1/factories/prod/stacks/App/current', headers: bearer(admin) })
    t.match(read.json(), { status: 400, code: 'name-case-conflict', stack: 'App', existing: 'app' })
    const after = await app.inject({ url: '/v1/factories/prod/stacks', headers: bearer(admin) })
    t.same(after.json(), before.json(), 'the listing is unchanged')
    const state = await app.inject({ url: '/v1/factories/prod/stacks/app/terraform', headers: bearer(admin) })
    t.equal(state.json().serial, 1, 'the state is unchanged')
  },
)
