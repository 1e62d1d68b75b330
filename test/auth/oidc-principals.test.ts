/**
 * OIDC principals name the whole issuer: two issuers on one host (GitHub's
 * per-enterprise issuers have this shape) never share a principal, and a
 * token with an empty `sub` is refused.
 */
import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/app.js'
import {
  type SigningKey,
  authFromText,
  bearer,
  lockInfo,
  newSigningKey,
  signIdToken,
  startJwks,
  terraformState,
  tokensFileText,
} from '../helpers/auth.js'

const TENANT_A = 'https://issuer.example.test/tenant-a'
const TENANT_B = 'https://issuer.example.test/tenant-b'
const AUDIENCE = 'https://state.example.test'
const STACK = '/v1/factories/cluster-deploy/stacks/prod'

async function setup(t: Test): Promise<{
  app: Awaited<ReturnType<typeof buildTestApp>>['app']
  audit: Awaited<ReturnType<typeof buildTestApp>>['audit']
  key: SigningKey
}> {
  const key = await newSigningKey('key-1')
  const jwks = await startJwks(t, [key])
  const issuer = (name: string) => ({
    issuer: name,
    jwks: jwks.url,
    audience: AUDIENCE,
    cooldown: 0,
    rules: [
      {
        match: { repository: 'acme/infra' },
        grants: [{ scope: 'cluster-deploy/*', allow: ['read', 'write', 'lock'] }],
      },
    ],
  })
  const { app, audit } = await buildTestApp(t, {
    auth: authFromText(tokensFileText([], [issuer(TENANT_A), issuer(TENANT_B)])),
  })
  return { app, audit, key }
}

t.test('two issuers on one host with the same sub are two principals', async (t) => {
  const { app, audit, key } = await setup(t)
  const claims = { sub: 'repo:acme/infra:ref:refs/heads/main', repository: 'acme/infra' }
  const a = await signIdToken(key, claims, { issuer: TENANT_A, audience: AUDIENCE })
  const b = await signIdToken(key, claims, { issuer: TENANT_B, audience: AUDIENCE })
  const locked = await app.inject({
    method: 'LOCK',
    url: `${STACK}/terraform`,
    headers: { ...bearer(a), 'content-type': 'application/json' },
    payload: lockInfo('lock-of-tenant-a'),
  })
  t.equal(locked.statusCode, 200)
  t.equal(locked.json().Principal, `oidc:${TENANT_A}#repo:acme/infra:ref:refs/heads/main`)
  const written = await app.inject({
    method: 'POST',
    url: `${STACK}/terraform?ID=lock-of-tenant-a`,
    headers: { ...bearer(b), 'content-type': 'application/json' },
    payload: terraformState(1),
  })
  t.equal(written.statusCode, 403, "tenant-b may not write under tenant-a's lock")
  t.equal(written.json().code, 'forbidden')
  t.equal(
    audit.events.find((e) => e.outcome === 'denied')?.principal,
    `oidc:${TENANT_B}#repo:acme/infra:ref:refs/heads/main`,
  )
})

t.test('an identity token with an empty sub is refused', async (t) => {
  const { app, key } = await setup(t)
  const jwt = await signIdToken(key, { sub: '', repository: 'acme/infra' }, { issuer: TENANT_A, audience: AUDIENCE })
  const res = await app.inject({ url: `${STACK}/terraform`, headers: bearer(jwt) })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'unauthenticated')
  t.match(res.json().detail, /sub claim is empty/)
})

t.test('a tokens file naming an issuer with a # is refused', async (t) => {
  const { parseTokensFile } = await import('../../src/auth/tokens-file.js')
  t.throws(
    () =>
      parseTokensFile(
        'oidc:\n  - {issuer: "https://i.example/#x", jwks: "https://i.example/jwks", audience: a, rules: [{match: {sub: x}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
        'tokens.yaml',
      ),
    /must not contain "#"/,
  )
})
