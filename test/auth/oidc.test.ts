/**
 * CI identity tokens (OIDC JWTs), offline: the issuers' JWKS is served on
 * 127.0.0.1 from keys the test generates, and tokens are shaped like the
 * ones GitHub Actions and GitLab CI issue.
 */
import t, { type Test } from 'tap'
import { SignJWT, base64url, exportSPKI } from 'jose'
import { buildTestApp } from '../helpers/app.js'
import {
  type JwksServer,
  type SigningKey,
  authFromText,
  basic,
  bearer,
  deadUrl,
  newSigningKey,
  signIdToken,
  startJwks,
  terraformState,
  tokensFileText,
} from '../helpers/auth.js'

const GITHUB = 'https://token.actions.githubusercontent.com'
const GITLAB = 'https://gitlab.example.com'
const AUDIENCE = 'https://state.example.test'
const STACK = '/v1/factories/cluster-deploy/stacks/prod'

/** Claims of a GitHub Actions job on acme/infra's protected main branch, in the production environment. */
function githubClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sub: 'repo:acme/infra:environment:production',
    repository: 'acme/infra',
    repository_owner: 'acme',
    ref: 'refs/heads/main',
    ref_type: 'branch',
    ref_protected: 'true',
    environment: 'production',
    job_workflow_ref: 'acme/infra/.github/workflows/deploy.yml@refs/heads/main',
    ...overrides,
  }
}

/** Claims of a GitLab CI job on acme/infra's protected main branch. */
function gitlabClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sub: 'project_path:acme/infra:ref_type:branch:ref:main',
    project_path: 'acme/infra',
    namespace_path: 'acme',
    ref: 'main',
    ref_type: 'branch',
    ref_protected: 'true',
    environment: 'production',
    ...overrides,
  }
}

/** The issuers as an operator would configure them: protected main may change state; other refs of the repo may read. */
function issuers(githubJwks: string, gitlabJwks: string, githubCooldown = 0): unknown[] {
  return [
    {
      issuer: GITHUB,
      jwks: githubJwks,
      audience: AUDIENCE,
      algorithms: ['RS256'],
      leeway: 5,
      cooldown: githubCooldown,
      rules: [
        {
          match: { repository: 'acme/infra', ref: 'refs/heads/main', ref_protected: true, environment: 'production' },
          grants: [{ scope: 'cluster-deploy/*', allow: ['read', 'write', 'lock'] }],
        },
        { match: { repository: 'acme/infra' }, grants: [{ scope: 'cluster-deploy/*', allow: ['read'] }] },
      ],
    },
    {
      issuer: GITLAB,
      jwks: gitlabJwks,
      audience: [AUDIENCE, 'other-audience'],
      cooldown: 0,
      rules: [
        {
          match: { project_path: 'acme/infra', ref_protected: 'true' },
          grants: [{ scope: 'cluster-deploy/*', allow: ['read', 'write', 'lock'] }],
        },
      ],
    },
  ]
}

interface Setup {
  readonly app: Awaited<ReturnType<typeof buildTestApp>>['app']
  readonly audit: Awaited<ReturnType<typeof buildTestApp>>['audit']
  readonly github: JwksServer
  readonly gitlab: JwksServer
  readonly key: SigningKey
}

async function setup(t: Test, options: { githubJwks?: string; githubCooldown?: number } = {}): Promise<Setup> {
  const key = await newSigningKey('key-1')
  const github = await startJwks(t, [key])
  const gitlab = await startJwks(t, [key])
  const text = tokensFileText([], issuers(options.githubJwks ?? github.url, gitlab.url, options.githubCooldown))
  const { app, audit } = await buildTestApp(t, { auth: authFromText(text) })
  return { app, audit, github, gitlab, key }
}

async function read(app: Setup['app'], headers: Record<string, string>) {
  return app.inject({ url: `${STACK}/terraform`, headers })
}

async function write(app: Setup['app'], headers: Record<string, string>) {
  return app.inject({
    method: 'POST',
    url: `${STACK}/terraform`,
    headers: { ...headers, 'content-type': 'application/json' },
    payload: terraformState(1),
  })
}

t.test('a valid GitHub Actions token reads and writes, and is the principal of the write', async (t) => {
  const { app, audit, key } = await setup(t)
  const jwt = await signIdToken(key, githubClaims(), { issuer: GITHUB, audience: AUDIENCE })
  t.equal((await read(app, bearer(jwt))).statusCode, 204)
  t.equal((await write(app, bearer(jwt))).statusCode, 200)
  const event = audit.events.find((e) => e.action === 'terraform.write')
  t.equal(event?.principal, 'oidc:https://token.actions.githubusercontent.com#repo:acme/infra:environment:production')
})

t.test('a valid GitLab CI token works as the Basic password, as Terraform sends it', async (t) => {
  const { app, key } = await setup(t)
  const jwt = await signIdToken(key, gitlabClaims(), { issuer: GITLAB, audience: AUDIENCE })
  t.equal((await write(app, basic('gitlab-ci-token', jwt))).statusCode, 200)
  t.equal((await read(app, basic('gitlab-ci-token', jwt))).statusCode, 200)
})

t.test('a token for the wrong issuer is refused with 401', async (t) => {
  const { app, key } = await setup(t)
  const jwt = await signIdToken(key, githubClaims(), { issuer: 'https://evil.example.com', audience: AUDIENCE })
  const res = await read(app, bearer(jwt))
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'unauthenticated')
})

t.test('a token for another audience is refused with 401', async (t) => {
  const { app, key } = await setup(t)
  const jwt = await signIdToken(key, githubClaims(), { issuer: GITHUB, audience: 'https://another-server.example' })
  t.equal((await read(app, bearer(jwt))).statusCode, 401)
})

t.test('an expired token is refused with 401', async (t) => {
  const { app, key } = await setup(t)
  const now = Math.floor(Date.now() / 1000)
  const jwt = await signIdToken(key, githubClaims(), { issuer: GITHUB, audience: AUDIENCE, exp: now - 3600 })
  const res = await read(app, bearer(jwt))
  t.equal(res.statusCode, 401)
  t.match(res.json().detail, /expired/)
})

t.test('a token that is not valid yet is refused with 401', async (t) => {
  const { app, key } = await setup(t)
  const now = Math.floor(Date.now() / 1000)
  const jwt = await signIdToken(key, githubClaims(), {
    issuer: GITHUB,
    audience: AUDIENCE,
    nbf: now + 3600,
    exp: now + 7200,
  })
  t.equal((await read(app, bearer(jwt))).statusCode, 401)
})

t.test('an unsigned token (alg none) is refused with 401', async (t) => {
  const { app } = await setup(t)
  const now = Math.floor(Date.now() / 1000)
  const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))
  const payload = base64url.encode(
    JSON.stringify({ ...githubClaims(), iss: GITHUB, aud: AUDIENCE, iat: now, exp: now + 300 }),
  )
  t.equal((await read(app, bearer(`${header}.${payload}.`))).statusCode, 401)
})

t.test('a token signed with HS256 using the public key as secret is refused with 401', async (t) => {
  const { app, key } = await setup(t)
  const secret = new TextEncoder().encode(await exportSPKI(key.publicKey))
  const jwt = await new SignJWT(githubClaims())
    .setProtectedHeader({ alg: 'HS256', kid: key.kid })
    .setIssuer(GITHUB)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(secret)
  t.equal((await read(app, bearer(jwt))).statusCode, 401)
})

t.test('a token with a kid the issuer does not publish is refused with 401', async (t) => {
  const { app } = await setup(t)
  const stranger = await newSigningKey('key-unknown')
  const jwt = await signIdToken(stranger, githubClaims(), { issuer: GITHUB, audience: AUDIENCE })
  t.equal((await read(app, bearer(jwt))).statusCode, 401)
})

t.test('a token signed by a foreign key under a published kid is refused with 401', async (t) => {
  const { app, key } = await setup(t)
  const foreign = await newSigningKey(key.kid)
  const jwt = await signIdToken(foreign, githubClaims(), { issuer: GITHUB, audience: AUDIENCE })
  const res = await read(app, bearer(jwt))
  t.equal(res.statusCode, 401)
  t.match(res.json().detail, /signature/)
})

t.test('a token of a repository no rule maps is refused with 403', async (t) => {
  const { app, audit, key } = await setup(t)
  const jwt = await signIdToken(
    key,
    githubClaims({
      repository: 'mallory/infra',
      repository_owner: 'mallory',
      sub: 'repo:mallory/infra:ref:refs/heads/main',
    }),
    { issuer: GITHUB, audience: AUDIENCE },
  )
  t.equal((await read(app, bearer(jwt))).statusCode, 403)
  const denied = audit.events.find((e) => e.outcome === 'denied')
  t.equal(denied?.principal, 'oidc:https://token.actions.githubusercontent.com#repo:mallory/infra:ref:refs/heads/main')
})

t.test('a token of an unprotected branch may read but not write (403)', async (t) => {
  const { app, key } = await setup(t)
  const github = await signIdToken(
    key,
    githubClaims({ ref: 'refs/heads/feature', ref_protected: 'false', sub: 'repo:acme/infra:ref:refs/heads/feature' }),
    { issuer: GITHUB, audience: AUDIENCE },
  )
  t.equal((await read(app, bearer(github))).statusCode, 204)
  t.equal((await write(app, bearer(github))).statusCode, 403)
  const gitlab = await signIdToken(key, gitlabClaims({ ref: 'feature', ref_protected: 'false' }), {
    issuer: GITLAB,
    audience: AUDIENCE,
  })
  t.equal((await read(app, bearer(gitlab))).statusCode, 403)
})

t.test("a valid token outside its grants' scope is refused with 403", async (t) => {
  const { app, key } = await setup(t)
  const jwt = await signIdToken(key, githubClaims(), { issuer: GITHUB, audience: AUDIENCE })
  t.equal(
    (await app.inject({ url: '/v1/factories/billing/stacks/prod/terraform', headers: bearer(jwt) })).statusCode,
    403,
  )
})

t.test('an unreachable JWKS answers 503 auth-unavailable, and the server keeps serving', async (t) => {
  const { app, key } = await setup(t, { githubJwks: await deadUrl() })
  const jwt = await signIdToken(key, githubClaims(), { issuer: GITHUB, audience: AUDIENCE })
  const res = await read(app, bearer(jwt))
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'auth-unavailable')
  t.ok(res.headers['retry-after'])
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
  const gitlab = await signIdToken(key, gitlabClaims(), { issuer: GITLAB, audience: AUDIENCE })
  t.equal((await read(app, bearer(gitlab))).statusCode, 204, 'the other issuer still works')
})

t.test('a JWKS that fails or drops the connection answers 503, and recovers when it is back', async (t) => {
  const { app, github, key } = await setup(t)
  const jwt = await signIdToken(key, githubClaims(), { issuer: GITHUB, audience: AUDIENCE })
  github.mode = 'error'
  t.equal((await read(app, bearer(jwt))).statusCode, 503)
  github.mode = 'reset'
  t.equal((await read(app, bearer(jwt))).statusCode, 503)
  github.mode = 'ok'
  t.equal((await read(app, bearer(jwt))).statusCode, 204)
})

t.test('a rotated key (a new kid in the JWKS) is accepted after a refetch', async (t) => {
  const { app, github, key } = await setup(t)
  t.equal(
    (await read(app, bearer(await signIdToken(key, githubClaims(), { issuer: GITHUB, audience: AUDIENCE }))))
      .statusCode,
    204,
  )
  const fetched = github.fetches
  const rotated = await newSigningKey('key-2')
  github.publish([key, rotated])
  t.equal(
    (await read(app, bearer(await signIdToken(rotated, githubClaims(), { issuer: GITHUB, audience: AUDIENCE }))))
      .statusCode,
    204,
  )
  t.equal(github.fetches, fetched + 1, 'the unknown kid caused one refetch')
  t.equal(
    (await read(app, bearer(await signIdToken(rotated, githubClaims(), { issuer: GITHUB, audience: AUDIENCE }))))
      .statusCode,
    204,
  )
  t.equal(github.fetches, fetched + 1, 'a known kid is served from the cache')
})

t.test('unknown kids do not refetch the JWKS during the cooldown', async (t) => {
  const { app, github, key } = await setup(t, { githubCooldown: 3600 })
  t.equal(
    (await read(app, bearer(await signIdToken(key, githubClaims(), { issuer: GITHUB, audience: AUDIENCE }))))
      .statusCode,
    204,
  )
  const fetched = github.fetches
  for (let i = 0; i < 5; i++) {
    const stranger = await newSigningKey(`random-${i}`)
    t.equal(
      (await read(app, bearer(await signIdToken(stranger, githubClaims(), { issuer: GITHUB, audience: AUDIENCE }))))
        .statusCode,
      401,
    )
  }
  t.equal(github.fetches, fetched, 'no refetch while cooling down')
})
