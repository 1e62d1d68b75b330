/**
 * Secrets never reach the logs or the answers: a representative set of
 * requests (static tokens granted and refused, Terraform's Basic
 * credentials, OIDC tokens valid, expired and unverifiable, snapshots with a
 * plaintext marker) runs against an app logging at debug level into a
 * buffer; neither the captured lines nor any problem body may contain a
 * token, a JWT, a key or the marker.
 */
import t from 'tap'
import { exportJWK } from 'jose'
import { buildApp } from '../../src/app.js'
import { createLogger } from '../../src/logger.js'
import { MemoryAudit } from '../helpers/app.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'
import {
  authFromText,
  basic,
  bearer,
  deadUrl,
  lockInfo,
  newSigningKey,
  newToken,
  signIdToken,
  startJwks,
  terraformState,
  tokensFileText,
} from '../helpers/auth.js'

const ISSUER = 'https://token.actions.githubusercontent.com'
const DOWN_ISSUER = 'https://gitlab.example.com'
const AUDIENCE = 'https://state.example.test'

t.test('debug logs and problem bodies carry no token, JWT, key or snapshot plaintext', async (t) => {
  const lines: string[] = []
  const logger = createLogger('debug', { write: (line: string) => void lines.push(line) })
  const key = await newSigningKey('kid-1')
  const jwks = await startJwks(t, [key])
  const admin = newToken()
  const reader = newToken()
  const wrong = newToken()
  const text = tokensFileText(
    [
      { name: 'admin', token: admin, grants: [{ scope: '*/*', allow: ['*'] }] },
      { name: 'reader', token: reader, grants: [{ scope: '*/*', allow: ['read'] }] },
    ],
    [
      {
        issuer: ISSUER,
        jwks: jwks.url,
        audience: AUDIENCE,
        cooldown: 0,
        rules: [{ match: { repository: 'acme/infra' }, grants: [{ scope: '*/*', allow: ['read', 'write', 'lock'] }] }],
      },
      {
        issuer: DOWN_ISSUER,
        jwks: await deadUrl(),
        audience: AUDIENCE,
        rules: [{ match: { project_path: 'acme/infra' }, grants: [{ scope: '*/*', allow: ['read'] }] }],
      },
    ],
  )
  const root = makeRoot(t.testdir())
  const { app } = await buildApp({
    config: { requireLock: false, maxWaitSeconds: 1, bodyLimitBytes: 1024 * 1024 },
    root,
    audit: new MemoryAudit(),
    logger,
    version: '0.0.0-test',
    auth: authFromText(text, { rateLimit: { perMinute: 600, burst: 100 }, maxLocksPerCaller: 10 }),
  })
  t.teardown(async () => {
    await app.close()
    root.close()
  })
  await app.ready()

  const marker = `plaintext-marker-${newToken()}`
  const now = Math.floor(Date.now() / 1000)
  const valid = await signIdToken(
    key,
    { sub: 'repo:acme/infra:ref:refs/heads/main', repository: 'acme/infra' },
    { issuer: ISSUER, audience: AUDIENCE },
  )
  const expired = await signIdToken(
    key,
    { sub: 'repo:acme/infra:ref:refs/heads/main', repository: 'acme/infra' },
    { issuer: ISSUER, audience: AUDIENCE, exp: now - 600 },
  )
  const unverifiable = await signIdToken(
    key,
    { sub: 'project_path:acme/infra', project_path: 'acme/infra' },
    { issuer: DOWN_ISSUER, audience: AUDIENCE },
  )
  const stack = '/v1/factories/f1/stacks/s1'
  const tfStack = '/v1/factories/f1/stacks/tf'
  const json = { 'content-type': 'application/json' }
  const state = terraformState(1).replace(
    '"outputs": {}',
    `"outputs": { "secret": { "value": "${marker}", "type": "string", "sensitive": true } }`,
  )
  const lockId = '2f6a9d7e-1c1a-4d5e-9f00-00000000000a'

  const responses = [
    await app.inject({
      method: 'POST',
      url: `${stack}/snapshots?current=true`,
      headers: bearer(admin),
      payload: sampleSnapshot(marker),
    }),
    await app.inject({ url: `${stack}/current`, headers: bearer(reader) }),
    await app.inject({
      method: 'POST',
      url: `${stack}/snapshots`,
      headers: bearer(reader),
      payload: sampleSnapshot(marker),
    }),
    await app.inject({ url: `${stack}/current`, headers: bearer(wrong) }),
    await app.inject({ url: `${stack}/current`, headers: { authorization: `Bearer ${wrong}!` } }),
    await app.inject({ url: `${stack}/current`, headers: basic('terraform', wrong) }),
    await app.inject({
      method: 'LOCK',
      url: `${tfStack}/terraform`,
      headers: { ...basic('terraform', admin), ...json },
      payload: lockInfo(lockId),
    }),
    await app.inject({
      method: 'POST',
      url: `${tfStack}/terraform?ID=${lockId}`,
      headers: { ...basic('terraform', admin), ...json },
      payload: state,
    }),
    await app.inject({
      method: 'POST',
      url: `${tfStack}/terraform?ID=${lockId}`,
      headers: { ...bearer(valid), ...json },
      payload: state.replace('"serial": 1', '"serial": 2'),
    }),
    await app.inject({
      method: 'UNLOCK',
      url: `${tfStack}/terraform`,
      headers: { ...basic('terraform', admin), ...json },
      payload: lockInfo(lockId),
    }),
    await app.inject({ url: `${tfStack}/terraform`, headers: basic('terraform', admin) }),
    await app.inject({ url: `${tfStack}/terraform`, headers: bearer(valid) }),
    await app.inject({ url: `${tfStack}/terraform`, headers: bearer(expired) }),
    await app.inject({ url: `${tfStack}/terraform`, headers: bearer(unverifiable) }),
    await app.inject({
      method: 'POST',
      url: `${tfStack}/terraform`,
      headers: { ...bearer(reader), ...json },
      payload: state,
    }),
    await app.inject({
      method: 'POST',
      url: `${stack}/snapshots`,
      headers: bearer(admin),
      payload: `{"broken": "${marker}"`,
    }),
  ]
  t.strictSame(
    responses.map((r) => r.statusCode),
    [201, 200, 403, 401, 401, 401, 200, 200, 403, 200, 200, 200, 401, 503, 403, 400],
  )
  t.equal(responses[1]!.body.includes(marker), true, 'the snapshot itself is served to its reader')

  const privateJwk = await exportJWK(key.privateKey)
  const secrets: Array<[string, string]> = [
    ['admin token', admin],
    ['reader token', reader],
    ['wrong token', wrong],
    ['valid JWT', valid],
    ['valid JWT signature', valid.split('.')[2]!],
    ['expired JWT', expired],
    ['unverifiable JWT', unverifiable],
    ['Basic credentials', Buffer.from(`terraform:${admin}`).toString('base64')],
    ['private key', String(privateJwk.d)],
    ['snapshot marker', marker],
  ]
  const logs = lines.join('')
  t.ok(lines.length > 20, `${lines.length} log lines captured`)
  t.match(logs, /"level":20/, 'debug lines were captured')
  t.match(logs, /"msg":"authenticated"/)
  const problems = responses
    .filter((r) => r.statusCode >= 400)
    .map((r) => r.body)
    .join('\n')
  for (const [what, secret] of secrets) {
    t.notOk(logs.includes(secret), `the logs do not contain the ${what}`)
    t.notOk(problems.includes(secret), `no problem body contains the ${what}`)
  }
})

t.test('a token put in a URL by mistake reaches neither the JSON nor the readable log', async (t) => {
  const token = newToken()
  for (const format of ['json', 'pretty'] as const) {
    const lines: string[] = []
    const logger = createLogger('debug', { write: (line: string) => void lines.push(line) }, format)
    const root = makeRoot(t.testdir())
    const { app } = await buildApp({
      config: { requireLock: false, maxWaitSeconds: 1, bodyLimitBytes: 1024 * 1024 },
      root,
      audit: new MemoryAudit(),
      logger,
      version: '0',
      auth: authFromText(tokensFileText([{ name: 'admin', token, grants: [{ scope: '*/*', allow: ['*'] }] }])),
    })
    await app.ready()
    const answers = [
      await app.inject({ url: `/v1/factories/f1/stacks/s1/current?token=${token}` }),
      await app.inject({ url: `/v1/factories/f1/stacks/s1/terraform?ID=x&password=${token}`, headers: bearer(token) }),
      await app.inject({ url: `/readyz?access_token=${token}`, headers: bearer(token) }),
      await app.inject({ url: `/nowhere?secret=${token}` }),
    ]
    await app.close()
    root.close()
    t.strictSame(
      answers.map((r) => r.statusCode),
      [401, 204, 200, 404],
      format,
    )
    t.ok(lines.length >= 4, `${format}: ${lines.length} lines`)
    t.notOk(lines.join('').includes(token), `${format}: the token is not in the log`)
    t.ok(lines.join('').includes('token=*'), `${format}: the parameter's name is`)
    t.notOk(
      answers
        .map((r) => r.body)
        .join('')
        .includes(token),
      `${format}: nor in any answer`,
    )
  }
})
