/**
 * The client with credentials, as processes against a real server process
 * that requires them: tokens from the flag, a file or the environment, CI
 * identity tokens (GitHub Actions through a local token endpoint, GitLab CI
 * through a variable) verified against a local JWKS, exit 4 for refusals,
 * and a token that never shows in output or in the process title.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { newSigningKey, newToken, signIdToken, startJwks, tokensFileText } from '../helpers/auth.js'
import { CLIENT_JS, type ClientResult, runClient, startClient } from '../helpers/client-process.js'
import { startServer } from '../helpers/server-process.js'
import { sampleSnapshot } from '../helpers/store.js'

const GITHUB = 'https://token.actions.githubusercontent.com'
const GITLAB = 'https://gitlab.example.com'
const AUDIENCE = 'https://state.example.test'

const reader = newToken()
const writer = newToken()
const key = await newSigningKey('key-1')
const jwks = await startJwks(t, [key])
const dir = t.testdir()
const tokensFile = join(dir, 'tokens.yaml')
writeFileSync(
  tokensFile,
  tokensFileText(
    [
      { name: 'reader', token: reader, grants: [{ scope: '*/*', allow: ['read'] }] },
      { name: 'writer', token: writer, grants: [{ scope: '*/*', allow: ['*'] }] },
    ],
    [
      {
        issuer: GITHUB,
        jwks: jwks.url,
        audience: AUDIENCE,
        cooldown: 0,
        rules: [{ match: { repository: 'acme/infra' }, grants: [{ scope: 'ci/*', allow: ['read', 'write', 'lock'] }] }],
      },
      {
        issuer: GITLAB,
        jwks: jwks.url,
        audience: AUDIENCE,
        cooldown: 0,
        rules: [
          { match: { project_path: 'acme/infra' }, grants: [{ scope: 'ci/*', allow: ['read', 'write', 'lock'] }] },
        ],
      },
    ],
  ),
)
const server = await startServer(['--data-dir', join(dir, 'data'), '--tokens-file', tokensFile])
t.teardown(() => server.stop())
const url = { UNOBIN_STATE_URL: server.url }
const snapshot = join(dir, 'snapshot.json')
writeFileSync(snapshot, sampleSnapshot('auth'))
t.jobs = 4

/** Asserts `secret` appears in neither stream of `r`. */
function noSecret(t: Test, r: ClientResult, secret: string, what: string): void {
  t.notOk(r.stdout.includes(secret) || r.stderr.includes(secret), `${what}: the token is not in the output`)
}

t.test('without credentials the client exits 4 with unauthenticated', async (t) => {
  const [history, lock] = await Promise.all([runClient(t, ['history', 'a/b'], url), runClient(t, ['lock', 'a/b'], url)])
  for (const r of [history, lock]) {
    t.equal(r.code, 4)
    t.match(r.stderr, /^unobin-state: unauthenticated: /)
  }
})

t.test(
  'a read token reads but may not write (exit 4 forbidden); a wrong token exits 4; the token never shows',
  async (t) => {
    const wrong = newToken()
    const [read, push, bad] = await Promise.all([
      runClient(t, ['history', 'a/b'], { ...url, UNOBIN_STATE_TOKEN: reader }),
      runClient(t, ['push', 'a/b', snapshot], { ...url, UNOBIN_STATE_TOKEN: reader }),
      runClient(t, ['history', 'a/b'], { ...url, UNOBIN_STATE_TOKEN: wrong }),
    ])
    t.equal(read.code, 0, read.stderr)
    t.equal(push.code, 4)
    t.match(push.stderr, /^unobin-state: forbidden: /)
    t.equal(bad.code, 4)
    t.match(bad.stderr, /^unobin-state: unauthenticated: /)
    noSecret(t, read, reader, 'read')
    noSecret(t, push, reader, 'refused push')
    noSecret(t, bad, wrong, 'refused token')
  },
)

t.test("whoami names the token's principal and its permissions at a scope", async (t) => {
  const [me, none] = await Promise.all([
    runClient(t, ['whoami', 'a/b', '--json'], { ...url, UNOBIN_STATE_TOKEN: reader }),
    runClient(t, ['whoami'], url),
  ])
  t.equal(me.code, 0, me.stderr)
  t.match(JSON.parse(me.stdout), {
    principal: 'reader',
    kind: 'token',
    authenticated: true,
    scope: { factory: 'a', stack: 'b' },
    permissions: ['read', 'outputs'],
  })
  t.equal(none.code, 4, 'whoami without credentials is refused')
})

t.test('a token file or the token flag work as the variable does; a bad source is exit 1 or 2', async (t) => {
  const folder = t.testdir()
  const file = join(folder, 'token')
  writeFileSync(file, `${writer}\n`)
  const [fromFile, fromEnvFile, fromFlag, missing, both] = await Promise.all([
    runClient(t, ['--token-file', file, 'push', 'files/s', snapshot, '--current'], url),
    runClient(t, ['history', 'files/s'], { ...url, UNOBIN_STATE_TOKEN_FILE: file }),
    runClient(t, ['--token', writer, 'history', 'files/s', '--json'], url),
    runClient(t, ['--token-file', join(folder, 'absent'), 'history', 'files/s'], url),
    runClient(t, ['--token', writer, '--token-file', file, 'history', 'files/s'], url),
  ])
  t.equal(fromFile.code, 0, fromFile.stderr)
  t.equal(fromEnvFile.code, 0, fromEnvFile.stderr)
  t.equal(fromFlag.code, 0, fromFlag.stderr)
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^unobin-state: bad-file: --token-file: cannot read /)
  t.equal(both.code, 2)
  for (const r of [fromFile, fromEnvFile, fromFlag, missing, both]) noSecret(t, r, writer, 'every run')
})

t.test('run hands the token to the command in its environment, never on a command line or in the title', async (t) => {
  const check = `[ "$TF_HTTP_PASSWORD" = "$UNOBIN_STATE_TOKEN" ] && [ -n "$TF_HTTP_USERNAME" ] && echo creds-in-env; echo ready; read line; "$NODE" "$CLIENT" push runs/s ${snapshot} --current`
  const run = startClient(t, ['--token', writer, 'run', 'runs/s', '--', 'sh', '-c', check], {
    ...url,
    NODE: process.execPath,
    CLIENT: CLIENT_JS,
  })
  await run.waitFor(/ready/)
  const cmdline = readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8')
  t.notOk(cmdline.includes(writer), "the running client's command line no longer shows the token")
  t.match(cmdline, /unobin-state/)
  run.child.stdin!.end('go\n')
  const end = await run.exited
  t.equal(end.code, 0, end.stderr)
  t.match(end.stdout, /creds-in-env/)
  t.match(
    end.stdout,
    /wrote runs\/s rev \S+ \(now current\)/,
    'a client inside run authenticates with the token it was given',
  )
  noSecret(t, end, writer, 'run')
})

/** A GitHub Actions token endpoint: answers a signed identity token for the requested audience to the right request token. */
async function startTokenEndpoint(t: Test, requestToken: string): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = []
  const endpoint = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const audience = new URL(req.url ?? '/', 'http://x').searchParams.get('audience') ?? ''
    requests.push(audience)
    if (req.headers.authorization !== `Bearer ${requestToken}`) return void res.writeHead(401).end()
    const claims = { sub: 'repo:acme/infra:ref:refs/heads/main', repository: 'acme/infra', ref: 'refs/heads/main' }
    const jwt = await signIdToken(key, claims, { issuer: GITHUB, audience })
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: jwt.length, value: jwt }))
  })
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => endpoint.close(() => resolve())))
  return { url: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/token?api-version=2.0`, requests }
}

t.test("in GitHub Actions --oidc-audience fetches the job's identity token, and the lock names the job", async (t) => {
  const requestToken = newToken()
  const endpoint = await startTokenEndpoint(t, requestToken)
  const actions = {
    ...url,
    ACTIONS_ID_TOKEN_REQUEST_URL: endpoint.url,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken,
    GITHUB_ACTIONS: 'true',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/infra',
    GITHUB_RUN_ID: '4711',
    GITHUB_RUN_ATTEMPT: '2',
  }
  const locked = await runClient(t, ['--oidc-audience', AUDIENCE, '--json', 'lock', 'ci/prod'], actions)
  t.equal(locked.code, 0, locked.stderr)
  const holder = JSON.parse(locked.stdout) as { who: string; principal: string }
  t.equal(holder.who, 'https://github.com/acme/infra/actions/runs/4711/attempts/2')
  t.match(holder.principal, /^oidc:.*repo:acme\/infra:ref:refs\/heads\/main$/)
  t.same(endpoint.requests, [AUDIENCE], 'one token was requested, for the audience given')
  noSecret(t, locked, requestToken, 'the request token')

  const [otherScope, wrongAudience, noEndpoint] = await Promise.all([
    runClient(t, ['--oidc-audience', AUDIENCE, 'history', 'elsewhere/prod'], actions),
    runClient(t, ['--oidc-audience', 'https://another.example', 'history', 'ci/prod'], actions),
    runClient(t, ['--oidc-audience', AUDIENCE, 'history', 'ci/prod'], url),
  ])
  t.equal(otherScope.code, 4, 'outside its grants: forbidden')
  t.match(otherScope.stderr, /^unobin-state: forbidden: /)
  t.equal(wrongAudience.code, 4, 'a token for another audience is refused')
  t.match(wrongAudience.stderr, /^unobin-state: unauthenticated: /)
  t.equal(noEndpoint.code, 4, 'outside GitHub Actions there is no token to fetch')
  t.match(noEndpoint.stderr, /^unobin-state: no-identity-token: .*id-token: write/)
})

t.test('in GitLab CI --oidc-token-env reads the id_tokens variable', async (t) => {
  const jwt = await signIdToken(
    key,
    { sub: 'project_path:acme/infra:ref_type:branch:ref:main', project_path: 'acme/infra' },
    { issuer: GITLAB, audience: AUDIENCE },
  )
  const [ok, unset] = await Promise.all([
    runClient(t, ['--oidc-token-env', 'STATE_ID_TOKEN', 'push', 'ci/gitlab', snapshot, '--current'], {
      ...url,
      STATE_ID_TOKEN: jwt,
    }),
    runClient(t, ['--oidc-token-env', 'STATE_ID_TOKEN', 'history', 'ci/gitlab'], url),
  ])
  t.equal(ok.code, 0, ok.stderr)
  noSecret(t, ok, jwt, 'gitlab push')
  t.equal(unset.code, 4)
  t.match(unset.stderr, /^unobin-state: no-identity-token: --oidc-token-env STATE_ID_TOKEN: the variable is not set/)
})
