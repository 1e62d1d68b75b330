/**
 * The authorization matrix, built from the server's own route table: every
 * route and method (native, Terraform, LOCK/UNLOCK) against no credentials,
 * wrong and malformed credentials, each permission alone, and scopes that do
 * not cover the request. A route added later is covered without touching
 * this file, and a route that declares no permission stops the server.
 */
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { registerAuth } from '../../src/http/auth.js'
import type { RouteEntry } from '../../src/http/auth.js'
import { INCLUDED_BY, PERMISSIONS, type Permission } from '../../src/auth/permission.js'
import { WWW_AUTHENTICATE } from '../../src/http/problems.js'
import { MemoryAudit, buildTestApp } from '../helpers/app.js'
import { makeRoot } from '../helpers/store.js'
import {
  type TokenSpec,
  authFromText,
  basic,
  bearer,
  concreteUrl,
  lockInfo,
  newToken,
  tokensFileText,
} from '../helpers/auth.js'
import type { App } from '../../src/http/app-type.js'

/** Sends one request to `route` with `headers`; bodies fit the route's kind so only auth decides 401/403. */
async function hit(
  app: App,
  route: RouteEntry,
  headers: Record<string, string>,
  target: { factory?: string; stack?: string } = {},
): Promise<number> {
  const url = concreteUrl(route.url, target.factory, target.stack)
  const hasBody = route.method !== 'GET'
  const payload = !hasBody
    ? undefined
    : route.url.includes('/terraform')
      ? lockInfo('11111111-2222-4333-8444-555555555555')
      : route.method === 'PUT' && route.url.endsWith('/lock')
        ? JSON.stringify({ id: 'not-held' })
        : '{}'
  // An event stream answers only when it ends: take its status from the head and hang up.
  const streams = route.url.endsWith('/events')
  const res = await app.inject({
    method: route.method as 'GET',
    url,
    headers: { ...headers, ...(hasBody ? { 'content-type': 'application/json' } : {}) },
    ...(payload === undefined ? {} : { payload }),
    ...(streams ? { payloadAsStream: true } : {}),
  })
  if (streams) res.stream().destroy()
  if (res.statusCode === 401)
    t.equal(res.headers['www-authenticate'], WWW_AUTHENTICATE, `${route.method} ${url}: a 401 carries the challenge`)
  return res.statusCode
}

const label = (r: RouteEntry) => `${r.method} ${r.url}`

/** A test app whose tokens file holds `tokens`. */
async function appWith(tt: Test, tokens: readonly TokenSpec[]) {
  return buildTestApp(tt, { auth: authFromText(tokensFileText(tokens)) })
}

t.test('the route table has every route, LOCK/UNLOCK and the Terraform routes included', async (t) => {
  const { routes } = await appWith(t, [{ name: 'x', token: newToken(), grants: [{ scope: '*/*', allow: ['read'] }] }])
  const names = routes.map(label)
  t.ok(routes.length >= 20, `${routes.length} routes`)
  for (const expected of [
    'LOCK /v1/factories/:factory/stacks/:stack/terraform',
    'UNLOCK /v1/factories/:factory/stacks/:stack/terraform',
    'POST /v1/factories/:factory/stacks/:stack/terraform/lock',
    'DELETE /v1/factories/:factory/stacks/:stack/terraform/lock',
    'GET /v1/factories/:factory/stacks/:stack/terraform',
    'GET /healthz',
    'GET /v1/factories',
  ]) {
    t.ok(names.includes(expected), expected)
  }
  for (const r of routes)
    t.ok(
      ['read', 'outputs', 'write', 'lock', 'force-unlock', 'delete', 'admin', 'authenticated', 'public'].includes(
        r.permission,
      ),
      `${label(r)} declares ${r.permission}`,
    )
})

t.test('a route that declares no permission stops the server at start', async (t) => {
  const app = Fastify()
  const dir = t.testdir()
  const root = makeRoot(dir)
  t.teardown(() => root.close())
  registerAuth(app as never, { auth: undefined, root, audit: new MemoryAudit() })
  t.throws(() => app.get('/x', async () => 'x'), /declares no config.permission/)
  await app.close()
})

t.test('no credentials: every protected route answers 401, public ones answer', async (t) => {
  const { app, routes } = await appWith(t, [{ name: 'x', token: newToken(), grants: [{ scope: '*/*', allow: ['*'] }] }])
  for (const route of routes) {
    const status = await hit(app, route, {})
    if (route.permission === 'public') t.not(status, 401, `${label(route)} is public`)
    else t.equal(status, 401, label(route))
  }
})

t.test('a wrong token answers 401 on every protected route, as Bearer and as Basic', async (t) => {
  const { app, routes } = await appWith(t, [{ name: 'x', token: newToken(), grants: [{ scope: '*/*', allow: ['*'] }] }])
  const wrong = newToken()
  for (const route of routes.filter((r) => r.permission !== 'public')) {
    t.equal(await hit(app, route, bearer(wrong)), 401, `Bearer ${label(route)}`)
    t.equal(await hit(app, route, basic('terraform', wrong)), 401, `Basic ${label(route)}`)
  }
})

t.test('a malformed Authorization header answers 401 on every protected route', async (t) => {
  const token = newToken()
  const { app, routes } = await appWith(t, [{ name: 'x', token, grants: [{ scope: '*/*', allow: ['*'] }] }])
  const malformed = [
    'Bearer',
    `Bearer ${token} extra`,
    'Bearer tok€n',
    `Token ${token}`,
    'Basic !!!not-base64!!!',
    `Basic ${Buffer.from(`no-colon-${token}`).toString('base64')}`,
    `Basic ${Buffer.from('user:').toString('base64')}`,
    token,
  ]
  for (const route of routes.filter((r) => r.permission !== 'public')) {
    for (const authorization of malformed)
      t.equal(await hit(app, route, { authorization }), 401, `${label(route)} with a malformed header`)
  }
})

t.test('each permission alone passes exactly the routes that need it', async (t) => {
  for (const permission of PERMISSIONS) {
    await t.test(`${permission} alone`, async (t) => {
      const token = newToken()
      const { app, routes } = await appWith(t, [
        { name: `only-${permission}`, token, grants: [{ scope: '*/*', allow: [permission] }] },
      ])
      for (const route of routes) {
        const status = await hit(app, route, bearer(token))
        if (
          route.permission === 'public' ||
          route.permission === 'authenticated' ||
          route.permission === permission ||
          INCLUDED_BY[route.permission as Permission]?.includes(permission)
        )
          t.notOk([401, 403].includes(status), `${label(route)} passes with ${permission} (got ${status})`)
        else t.equal(status, 403, `${label(route)} needs ${route.permission}, not ${permission}`)
      }
    })
  }
})

t.test('every permission on every stack passes every route', async (t) => {
  const token = newToken()
  const { app, routes } = await appWith(t, [{ name: 'root', token, grants: [{ scope: '*/*', allow: ['*'] }] }])
  for (const route of routes) {
    const status = await hit(app, route, basic('terraform', token))
    t.notOk([401, 403].includes(status), `${label(route)} (got ${status})`)
  }
})

t.test('a token scoped to another factory or stack answers 403 on every protected route', async (t) => {
  const otherFactory = newToken()
  const otherStack = newToken()
  const { app, routes } = await appWith(t, [
    { name: 'other-factory', token: otherFactory, grants: [{ scope: 'f2/*', allow: ['*'] }] },
    { name: 'other-stack', token: otherStack, grants: [{ scope: 'f1/s2', allow: ['*'] }] },
  ])
  for (const route of routes.filter((r) => r.permission !== 'public' && r.permission !== 'authenticated')) {
    t.equal(await hit(app, route, bearer(otherFactory)), 403, `${label(route)} with a token for f2/*`)
    t.equal(await hit(app, route, bearer(otherStack)), 403, `${label(route)} with a token for f1/s2`)
  }
})

t.test('a token scoped to one stack passes its routes, but cannot list what it does not cover', async (t) => {
  const token = newToken()
  const { app, routes } = await appWith(t, [{ name: 'one-stack', token, grants: [{ scope: 'f1/s1', allow: ['*'] }] }])
  for (const route of routes.filter((r) => r.permission !== 'public' && r.permission !== 'authenticated')) {
    const status = await hit(app, route, bearer(token))
    if (route.url.includes(':stack')) t.notOk([401, 403].includes(status), `${label(route)} (got ${status})`)
    else t.equal(status, 403, `${label(route)} lists more than f1/s1`)
  }
})

t.test("a factory-wide grant lists its factory's stacks but not every factory", async (t) => {
  const token = newToken()
  const { app } = await appWith(t, [{ name: 'factory', token, grants: [{ scope: 'f1/*', allow: ['read'] }] }])
  t.equal((await app.inject({ url: '/v1/factories/f1/stacks', headers: bearer(token) })).statusCode, 404) // passes auth; f1 has no stacks yet
  t.equal((await app.inject({ url: '/v1/factories/f2/stacks', headers: bearer(token) })).statusCode, 403)
  t.equal((await app.inject({ url: '/v1/factories', headers: bearer(token) })).statusCode, 403)
})

t.test('the most specific scope wins, and a deny wins over an equally specific allow', async (t) => {
  const token = newToken()
  const { app, routes } = await appWith(t, [
    {
      name: 'mixed',
      token,
      grants: [
        { scope: '*/*', allow: ['*'] },
        { scope: 'f1/*', deny: ['write'] },
        { scope: 'f1/s1', allow: ['write'] },
        { scope: 'f1/s2', allow: ['delete'], deny: ['delete'] },
      ],
    },
  ])
  const writes = routes.filter((r) => r.permission === 'write')
  const deletes = routes.filter((r) => r.permission === 'delete')
  t.ok(writes.length > 0 && deletes.length > 0)
  for (const route of writes) {
    t.notOk(
      [401, 403].includes(await hit(app, route, bearer(token), { factory: 'f1', stack: 's1' })),
      `${label(route)} on f1/s1: the stack grant beats the factory deny`,
    )
    t.equal(
      await hit(app, route, bearer(token), { factory: 'f1', stack: 's3' }),
      403,
      `${label(route)} on f1/s3: the factory deny beats the global allow`,
    )
    t.notOk(
      [401, 403].includes(await hit(app, route, bearer(token), { factory: 'f2', stack: 's1' })),
      `${label(route)} on f2/s1: only the global allow matches`,
    )
  }
  for (const route of deletes)
    t.equal(
      await hit(app, route, bearer(token), { factory: 'f1', stack: 's2' }),
      403,
      `${label(route)} on f1/s2: deny wins a tie`,
    )
})
