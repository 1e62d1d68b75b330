/** Static tokens end to end: Bearer and Terraform-style Basic, the audit trail of granted and denied requests, anonymous callers without credentials, and a tokens file on disk. */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadTokensFile } from '../../src/auth/tokens-file.js'
import { buildTestApp } from '../helpers/app.js'
import { authFromText, basic, bearer, lockInfo, newToken, terraformState, tokensFileText } from '../helpers/auth.js'

const STACK = '/v1/factories/f1/stacks/s1'

t.test('Bearer tokens and Terraform-style Basic credentials both authenticate', async (t) => {
  const token = newToken()
  const { app } = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([{ name: 'tf', token, grants: [{ scope: 'f1/*', allow: ['read', 'write', 'lock'] }] }]),
    ),
  })
  t.equal((await app.inject({ url: `${STACK}/terraform`, headers: bearer(token) })).statusCode, 204)
  // What Terraform sends with username/password (TF_HTTP_USERNAME / TF_HTTP_PASSWORD); the username is free.
  const headers = { ...basic('terraform', token), 'content-type': 'application/json' }
  const id = '2f6a9d7e-1c1a-4d5e-9f00-000000000001'
  t.equal(
    (await app.inject({ method: 'LOCK', url: `${STACK}/terraform`, headers, payload: lockInfo(id) })).statusCode,
    200,
  )
  t.equal(
    (await app.inject({ method: 'POST', url: `${STACK}/terraform?ID=${id}`, headers, payload: terraformState(1) }))
      .statusCode,
    200,
  )
  t.equal(
    (await app.inject({ method: 'UNLOCK', url: `${STACK}/terraform`, headers, payload: lockInfo(id) })).statusCode,
    200,
  )
  t.equal((await app.inject({ url: `${STACK}/terraform`, headers: basic('anyone', token) })).statusCode, 200)
})

t.test('audit events carry the authenticated principal', async (t) => {
  const token = newToken()
  const { app, audit } = await buildTestApp(t, {
    auth: authFromText(tokensFileText([{ name: 'deployer', token, grants: [{ scope: '*/*', allow: ['*'] }] }])),
  })
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: `${STACK}/terraform`,
        headers: { ...bearer(token), 'content-type': 'application/json' },
        payload: terraformState(1),
      })
    ).statusCode,
    200,
  )
  t.equal(
    (await app.inject({ method: 'POST', url: `${STACK}/lock`, headers: bearer(token), payload: {} })).statusCode,
    201,
  )
  const actions = audit.events.filter((e) => e.outcome !== 'denied')
  t.strictSame(
    actions.map((e) => e.action),
    ['terraform.write', 'lock.acquire'],
  )
  for (const e of actions) t.equal(e.principal, 'deployer', e.action)
})

t.test('denied requests are audited without secrets', async (t) => {
  const reader = newToken()
  const wrong = newToken()
  const { app, audit } = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([{ name: 'reader', token: reader, grants: [{ scope: '*/*', allow: ['read'] }] }]),
    ),
  })
  t.equal((await app.inject({ url: `${STACK}/snapshots`, headers: bearer(wrong) })).statusCode, 401)
  t.equal(
    (await app.inject({ method: 'POST', url: `${STACK}/lock`, headers: bearer(reader), payload: {} })).statusCode,
    403,
  )
  t.equal((await app.inject({ url: `${STACK}/snapshots` })).statusCode, 401)
  const denied = audit.events.filter((e) => e.outcome === 'denied')
  t.equal(denied.length, 3)
  t.match(denied[0], {
    action: 'auth.denied',
    principal: null,
    factory: 'f1',
    stack: 's1',
    detail: { code: 'unauthenticated', scheme: 'bearer', method: 'GET', permission: 'read' },
  })
  t.match(denied[1], {
    action: 'auth.denied',
    principal: 'reader',
    detail: {
      code: 'forbidden',
      method: 'POST',
      permission: 'lock',
      route: '/v1/factories/:factory/stacks/:stack/lock',
    },
  })
  t.match(denied[2], { principal: null, detail: { code: 'unauthenticated', scheme: 'none' } })
  const text = JSON.stringify(audit.events)
  t.notMatch(text, reader)
  t.notMatch(text, wrong)
})

t.test('without credentials every caller is anonymous with every permission', async (t) => {
  const { app, audit } = await buildTestApp(t)
  const res = await app.inject({ method: 'POST', url: `${STACK}/lock`, payload: {} })
  t.equal(res.statusCode, 201)
  t.equal(res.json().principal, 'anonymous')
  t.equal((await app.inject({ method: 'DELETE', url: `${STACK}/lock?force=true` })).statusCode, 200)
  t.ok(audit.events.every((e) => e.principal === 'anonymous'))
})

t.test('a tokens file written to disk serves requests', async (t) => {
  const token = newToken()
  const dir = t.testdir()
  const file = join(dir, 'tokens.yaml')
  writeFileSync(file, tokensFileText([{ name: 'disk', token, grants: [{ scope: 'f1/s1', allow: ['read'] }] }]))
  const { createAuthenticator } = await import('../../src/auth/authenticator.js')
  const { app } = await buildTestApp(t, {
    auth: { authenticator: createAuthenticator(loadTokensFile(file)), rateLimit: null, maxLocksPerCaller: null },
  })
  t.equal((await app.inject({ url: `${STACK}/snapshots`, headers: bearer(token) })).statusCode, 200)
})
