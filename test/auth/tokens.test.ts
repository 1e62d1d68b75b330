/**
 * Static tokens end to end: the tokens file (errors name the file and the
 * entry, plaintext is refused), Bearer and Terraform-style Basic, holder
 * identity from the authenticated principal, force permissions, rate limits,
 * the lock cap, and the audit trail of granted and denied requests.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { hashToken } from '../../src/auth/token-hash.js'
import { TokensFileError, loadTokensFile, parseTokensFile } from '../../src/auth/tokens-file.js'
import { buildTestApp } from '../helpers/app.js'
import {
  ManualTime,
  authFromText,
  basic,
  bearer,
  lockInfo,
  newToken,
  terraformState,
  tokensFileText,
} from '../helpers/auth.js'

const STACK = '/v1/factories/f1/stacks/s1'
const HASH = hashToken('x')

/** The message of the TokensFileError that parsing `text` throws. */
function parseError(text: string): string {
  try {
    parseTokensFile(text, '/etc/unobin/tokens.yaml')
  } catch (err) {
    if (err instanceof TokensFileError) return err.message
    throw err
  }
  throw new Error('parsing succeeded')
}

t.test('a token hash is sha256: and the hex digest of the token, as sha256sum prints it', async (t) => {
  t.equal(hashToken('abc'), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})

/** The first fenced block of `lang` after `marker` in the README. */
function readmeBlock(marker: string, lang: string): string {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')
  const at = readme.indexOf(marker)
  if (at < 0) throw new Error(`README has no ${marker}`)
  return new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(readme.slice(at))![1]!
}

t.test("the README's way to hash a token gives the hash the server computes", async (t) => {
  const hashLine = readmeBlock('<!-- readme-token-hash', 'sh')
    .split('\n')
    .find((l) => l.includes('sha256sum'))!
  const token = newToken()
  const run = spawnSync('bash', ['-euo', 'pipefail', '-c', hashLine], {
    env: { PATH: process.env.PATH, TOKEN: token },
    encoding: 'utf8',
  })
  t.equal(run.status, 0, run.stderr)
  t.equal(run.stdout.trim(), hashToken(token))
})

t.test("the README's example tokens file is valid", async (t) => {
  const credentials = parseTokensFile(readmeBlock('<!-- readme-tokens-file', 'yaml'), 'README.md')
  t.strictSame(
    credentials.tokens.map((x) => x.name),
    ['alice', 'ci-cluster-deploy', 'app-pipeline'],
  )
  t.strictSame(
    credentials.issuers.map((x) => x.issuer),
    ['https://token.actions.githubusercontent.com', 'https://gitlab.com'],
  )
})

t.test('a tokens file in JSON is read like YAML', async (t) => {
  const dir = t.testdir({
    'tokens.json': JSON.stringify({ tokens: [{ name: 'ops', hash: HASH, grants: [{ scope: '*/*', allow: ['*'] }] }] }),
  })
  const credentials = loadTokensFile(join(dir, 'tokens.json'))
  t.equal(credentials.tokens.length, 1)
  t.equal(credentials.tokens[0]!.name, 'ops')
})

t.test('an unreadable tokens file is an error naming the file', async (t) => {
  const dir = t.testdir()
  t.throws(() => loadTokensFile(join(dir, 'missing.yaml')), {
    name: 'TokensFileError',
    message: new RegExp(`${dir}/missing.yaml.*ENOENT`),
  })
})

t.test('tokens file errors name the file and the entry', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    [
      'invalid YAML',
      'tokens: [\n  - name: a\n    hash: "unterminated\n',
      /^\/etc\/unobin\/tokens.yaml:2:11: not valid YAML or JSON/,
    ],
    ['a list at the top', '- a\n', /tokens.yaml: top level: must be a mapping/],
    ['an unknown top-level key', 'tokenz: []\n', /top level: unknown key "tokenz"/],
    ['no credentials', 'tokens: []\n', /defines no token and no OIDC issuer/],
    [
      'a bad hash',
      `tokens:\n  - {name: ok, hash: ${HASH}, grants: [{scope: "*/*", allow: [read]}]}\n  - {name: ci, hash: "sha256:abc", grants: [{scope: "*/*", allow: [read]}]}\n`,
      /tokens\[1\] "ci": hash is not a token hash/,
    ],
    [
      'a bad name',
      `tokens:\n  - {name: "no spaces", hash: ${HASH}, grants: [{scope: "*/*", allow: [read]}]}\n`,
      /tokens\[0\] "no spaces": name must be/,
    ],
    [
      'a reserved name',
      `tokens:\n  - {name: anonymous, hash: ${HASH}, grants: [{scope: "*/*", allow: [read]}]}\n`,
      /tokens\[0\] "anonymous": the name "anonymous" is reserved/,
    ],
    ['no grants', `tokens:\n  - {name: ci, hash: ${HASH}}\n`, /tokens\[0\] "ci" grants: at least one grant/],
    [
      'an unknown permission',
      `tokens:\n  - {name: ci, hash: ${HASH}, grants: [{scope: "*/*", allow: [reed]}]}\n`,
      /tokens\[0\] "ci" grants\[0\] allow: "reed" is not a permission/,
    ],
    [
      'a scope without a stack',
      `tokens:\n  - {name: ci, hash: ${HASH}, grants: [{scope: "f1", allow: [read]}]}\n`,
      /tokens\[0\] "ci" grants\[0\]: scope must be/,
    ],
    [
      'a grant without permissions',
      `tokens:\n  - {name: ci, hash: ${HASH}, grants: [{scope: "*/*"}]}\n`,
      /grants\[0\]: allow or deny must list permissions/,
    ],
    [
      'a duplicate name',
      `tokens:\n  - {name: ci, hash: ${HASH}, grants: [{scope: "*/*", allow: [read]}]}\n  - {name: ci, hash: ${hashToken('y')}, grants: [{scope: "*/*", allow: [read]}]}\n`,
      /tokens\[1\] "ci": the name is used by an earlier token/,
    ],
    [
      'a duplicate hash',
      `tokens:\n  - {name: a, hash: ${HASH}, grants: [{scope: "*/*", allow: [read]}]}\n  - {name: b, hash: ${HASH}, grants: [{scope: "*/*", allow: [read]}]}\n`,
      /tokens\[1\] "b": the hash is the same/,
    ],
    ['a duplicate key', `tokens:\n  - name: a\n    name: b\n`, /not valid YAML or JSON/],
    [
      'an issuer without audience',
      'oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", rules: [{match: {sub: x}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
      /oidc\[0\] \(https:\/\/i.example\): audience is required/,
    ],
    [
      'an HS256 issuer',
      'oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", audience: a, algorithms: [HS256], rules: [{match: {sub: x}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
      /oidc\[0\] \(https:\/\/i.example\): algorithm "HS256" is not allowed/,
    ],
    [
      'a plain-http JWKS',
      'oidc:\n  - {issuer: "https://i.example", jwks: "http://i.example/jwks", audience: a, rules: [{match: {sub: x}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
      /oidc\[0\] \(https:\/\/i.example\) jwks: must be an https URL/,
    ],
    [
      'a rule matching every token',
      'oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", audience: a, rules: [{match: {repository: "*"}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
      /oidc\[0\] \(https:\/\/i.example\) rules\[0\]: match only has "\*" patterns/,
    ],
    [
      'a rule without claims',
      'oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", audience: a, rules: [{match: {}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
      /rules\[0\]: match must name at least one claim/,
    ],
    [
      'an issuer without rules',
      'oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", audience: a, rules: []}\n',
      /oidc\[0\] \(https:\/\/i.example\): rules is required/,
    ],
    [
      'an out-of-range leeway',
      'oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", audience: a, leeway: 9999, rules: [{match: {sub: x}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
      /oidc\[0\] \(https:\/\/i.example\) leeway: must be a whole number of seconds from 0 to 300/,
    ],
  ]
  for (const [what, text, expected] of cases) t.match(parseError(text), expected, what)
})

t.test('plaintext tokens are refused, and the refusal does not repeat them', async (t) => {
  const secret = newToken()
  const asKey = parseError(`tokens:\n  - {name: ci, token: ${secret}, grants: [{scope: "*/*", allow: [read]}]}\n`)
  t.match(asKey, /tokens\[0\] "ci": plaintext tokens are refused/)
  t.notMatch(asKey, secret)
  const asHash = parseError(`tokens:\n  - {name: ci, hash: ${secret}, grants: [{scope: "*/*", allow: [read]}]}\n`)
  t.match(asHash, /tokens\[0\] "ci": hash is not a token hash \(it looks like a plaintext token/)
  t.notMatch(asHash, secret)
  const broken = parseError(`tokens:\n  - {name: ci, hash: "${secret}\n`)
  t.notMatch(broken, secret, 'a YAML error does not quote the file')
})

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

t.test('a caller over its rate gets 429 with Retry-After until the bucket refills', async (t) => {
  const token = newToken()
  const other = newToken()
  const time = new ManualTime()
  const { app } = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([
        { name: 'busy', token, grants: [{ scope: '*/*', allow: ['read'] }] },
        { name: 'calm', token: other, grants: [{ scope: '*/*', allow: ['read'] }] },
      ]),
      { rateLimit: { perMinute: 60, burst: 2 }, now: time.now },
    ),
  })
  const get = (tok: string) => app.inject({ url: `${STACK}/snapshots`, headers: bearer(tok) })
  t.equal((await get(token)).statusCode, 200)
  t.equal((await get(token)).statusCode, 200)
  const limited = await get(token)
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'rate-limited')
  t.equal(limited.headers['retry-after'], '1')
  t.equal((await get(other)).statusCode, 200, 'another caller has its own bucket')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'probes are not limited')
  time.ms += 1000
  t.equal((await get(token)).statusCode, 200, 'one token came back after a second')
})

t.test('repeated failed authentications from one address get 429', async (t) => {
  const token = newToken()
  const time = new ManualTime()
  const { app } = await buildTestApp(t, {
    auth: authFromText(tokensFileText([{ name: 'ok', token, grants: [{ scope: '*/*', allow: ['read'] }] }]), {
      rateLimit: { perMinute: 1, burst: 3 },
      now: time.now,
    }),
  })
  for (let i = 0; i < 3; i++)
    t.equal((await app.inject({ url: `${STACK}/snapshots`, headers: bearer(newToken()) })).statusCode, 401)
  const limited = await app.inject({ url: `${STACK}/snapshots`, headers: bearer(newToken()) })
  t.equal(limited.statusCode, 429)
  t.equal(limited.headers['retry-after'], '60')
  time.ms += 60_000
  t.equal((await app.inject({ url: `${STACK}/snapshots`, headers: bearer(token) })).statusCode, 200)
})

t.test('a caller at its lock cap cannot take another lock, but may retry its own', async (t) => {
  const ci = newToken()
  const other = newToken()
  const { app, audit } = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([
        { name: 'ci', token: ci, grants: [{ scope: '*/*', allow: ['lock'] }] },
        { name: 'other', token: other, grants: [{ scope: '*/*', allow: ['lock'] }] },
      ]),
      { maxLocksPerCaller: 2 },
    ),
  })
  const json = { 'content-type': 'application/json' }
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/factories/f1/stacks/a/lock', headers: bearer(ci), payload: {} }))
      .statusCode,
    201,
  )
  const id = '2f6a9d7e-1c1a-4d5e-9f00-000000000004'
  t.equal(
    (
      await app.inject({
        method: 'LOCK',
        url: '/v1/factories/f1/stacks/b/terraform',
        headers: { ...bearer(ci), ...json },
        payload: lockInfo(id),
      })
    ).statusCode,
    200,
  )
  const capped = await app.inject({
    method: 'POST',
    url: '/v1/factories/f2/stacks/c/terraform/lock',
    headers: { ...bearer(ci), ...json },
    payload: lockInfo('2f6a9d7e-1c1a-4d5e-9f00-000000000005'),
  })
  t.equal(capped.statusCode, 429)
  t.equal(capped.json().code, 'too-many-locks')
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/factories/f1/stacks/c/lock', headers: bearer(ci), payload: {} }))
      .statusCode,
    429,
  )
  t.equal(
    (
      await app.inject({
        method: 'LOCK',
        url: '/v1/factories/f1/stacks/b/terraform',
        headers: { ...bearer(ci), ...json },
        payload: lockInfo(id),
      })
    ).statusCode,
    200,
    'a retried LOCK of a held lock is not a new one',
  )
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/factories/f1/stacks/c/lock', headers: bearer(other), payload: {} }))
      .statusCode,
    201,
    'another caller has its own cap',
  )
  t.ok(audit.events.some((e) => e.action === 'lock.acquire' && e.outcome === 'refused' && e.principal === 'ci'))
  t.equal(
    (
      await app.inject({
        method: 'UNLOCK',
        url: '/v1/factories/f1/stacks/b/terraform',
        headers: { ...bearer(ci), ...json },
        payload: lockInfo(id),
      })
    ).statusCode,
    200,
  )
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/factories/f2/stacks/c/lock', headers: bearer(ci), payload: {} }))
      .statusCode,
    201,
    'below the cap again after an unlock',
  )
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
