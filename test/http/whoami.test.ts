/** GET /v1/whoami: the caller's principal and its permissions at a scope. */
import t from 'tap'
import { PERMISSIONS } from '../../src/auth/permission.js'
import { buildTestApp } from '../helpers/app.js'
import { authFromText, bearer, newToken, tokensFileText } from '../helpers/auth.js'

t.test('without credentials configured, the caller is anonymous with every permission', async (t) => {
  const b = await buildTestApp(t)
  const res = await b.app.inject({ url: '/v1/whoami?factory=f1&stack=s1' })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), {
    principal: 'anonymous',
    kind: 'anonymous',
    authenticated: false,
    scope: { factory: 'f1', stack: 's1' },
    permissions: [...PERMISSIONS],
  })
})

t.test('a token sees its principal and exactly its permissions at each scope', async (t) => {
  const token = newToken()
  const b = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([
        {
          name: 'ci-deploy',
          token,
          grants: [
            { scope: 'deploy/*', allow: ['read', 'write', 'lock'] },
            { scope: 'deploy/prod', deny: ['write'] },
            { scope: 'other/*', allow: ['outputs'] },
          ],
        },
      ]),
    ),
  })
  const at = async (query: string) =>
    (await b.app.inject({ url: `/v1/whoami${query}`, headers: bearer(token) })).json() as {
      principal: string
      kind: string
      authenticated: boolean
      permissions: string[]
      scope: unknown
    }
  const dev = await at('?factory=deploy&stack=dev')
  t.equal(dev.principal, 'ci-deploy')
  t.equal(dev.kind, 'token')
  t.equal(dev.authenticated, true)
  t.strictSame(dev.permissions, ['read', 'outputs', 'write', 'lock'], 'read brings outputs')
  t.strictSame(
    (await at('?factory=deploy&stack=prod')).permissions,
    ['read', 'outputs', 'lock'],
    'the deny of the more specific scope holds',
  )
  t.strictSame((await at('?factory=other&stack=x')).permissions, ['outputs'])
  t.strictSame(
    (await at('?factory=deploy')).permissions,
    ['read', 'outputs', 'write', 'lock'],
    'every stack of the factory',
  )
  t.strictSame((await at('')).permissions, [], 'nothing on every factory')
  t.strictSame((await at('')).scope, { factory: null, stack: null })
})

t.test('whoami needs valid credentials but no permission', async (t) => {
  const token = newToken()
  const b = await buildTestApp(t, {
    auth: authFromText(tokensFileText([{ name: 'elsewhere', token, grants: [{ scope: 'other/*', allow: ['read'] }] }])),
  })
  t.equal((await b.app.inject({ url: '/v1/whoami' })).statusCode, 401)
  t.equal((await b.app.inject({ url: '/v1/whoami', headers: bearer(newToken()) })).statusCode, 401)
  const res = await b.app.inject({ url: '/v1/whoami', headers: bearer(token) })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json().permissions, [])
})

t.test('a stack without its factory, or a bad name, is refused', async (t) => {
  const b = await buildTestApp(t)
  const alone = await b.app.inject({ url: '/v1/whoami?stack=s1' })
  t.equal(alone.statusCode, 400)
  t.equal(alone.json().code, 'invalid-request')
  t.equal((await b.app.inject({ url: '/v1/whoami?factory=..%2f' })).statusCode, 400)
})
