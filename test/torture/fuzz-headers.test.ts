/**
 * Torture: property-based fuzzing (fast-check) of headers, on an in-process
 * app with a tokens file (static tokens and an OIDC issuer served from
 * 127.0.0.1) over its own seeded data root (./fuzz/world.ts).
 *
 * Arbitrary Lock-Id, If-Match, If-None-Match, Content-Type, Content-MD5,
 * Authorization (Bearer/Basic garbage, near-miss tokens, bad JWTs, and valid
 * credentials in every spelling the contract allows), Content-Encoding and
 * Accept. Never a 5xx; credentials that are not valid always get 401
 * `unauthenticated` with a challenge, valid ones never do.
 *
 * Every case also passes the checks of ./fuzz/exchange.ts; the end checks of
 * ./fuzz/end-checks.ts follow. Runs replay from the printed seed
 * (UNOBIN_TORTURE_SEED); long mode (UNOBIN_TORTURE_MODE=long) runs twenty
 * times as many cases.
 */
import { endChecks, fuzzParent } from './fuzz/end-checks.js'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import { authFromText, newSigningKey, newToken, signIdToken, startJwks, tokensFileText } from '../helpers/auth.js'
import { sized } from '../helpers/torture.js'
import { AUDIENCE, GITHUB, JSON_TYPE, RUNS } from './fuzz/settings.js'
import { World } from './fuzz/world.js'
import { check, exchange } from './fuzz/exchange.js'
import { plausibleBody } from './fuzz/bodies.js'
import { OPERATIONS, headerSet, headerText, stackTarget, urlOf } from './fuzz/headers.js'

t.setTimeout(sized(300_000, 3_600_000))

const where = fuzzParent(t, 'data-headers')
let fuzzed: World | undefined

t.test('headers, with credentials configured: bad credentials get 401, nothing gets a 5xx', async (t) => {
  const admin = newToken()
  const reader = newToken()
  const writer = newToken()
  const key = await newSigningKey('fuzz-key')
  const otherKey = await newSigningKey('fuzz-key')
  const jwks = await startJwks(t, [key])
  const oidc = [
    {
      issuer: GITHUB,
      jwks: jwks.url,
      audience: AUDIENCE,
      algorithms: ['RS256'],
      cooldown: 0,
      rules: [{ match: { repository: 'acme/infra' }, grants: [{ scope: '*/*', allow: ['*'] }] }],
    },
  ]
  const text = tokensFileText(
    [
      { name: 'admin', token: admin, grants: [{ scope: '*/*', allow: ['*'] }] },
      { name: 'reader', token: reader, grants: [{ scope: 'f1/*', allow: ['read'] }] },
      { name: 'writer', token: writer, grants: [{ scope: '*/*', allow: ['read', 'write', 'lock'] }] },
    ],
    oidc,
  )
  const now = Math.floor(Date.now() / 1000)
  const sign = (
    claims: Record<string, unknown>,
    o: { key?: typeof key; issuer?: string; audience?: string; exp?: number; nbf?: number } = {},
  ) =>
    signIdToken(
      o.key ?? key,
      { sub: 'repo:acme/infra:ref:refs/heads/main', repository: 'acme/infra', ...claims },
      {
        issuer: o.issuer ?? GITHUB,
        audience: o.audience ?? AUDIENCE,
        exp: o.exp ?? now + 6 * 3600,
        ...(o.nbf === undefined ? {} : { nbf: o.nbf }),
      },
    )
  const jwtValid = await sign({})
  const jwtNoRule = await sign({ repository: 'mallory/infra', sub: 'repo:mallory/infra' })
  const badJwts = [
    await sign({}, { exp: now - 3600 }),
    await sign({}, { audience: 'https://elsewhere.example' }),
    await sign({}, { issuer: 'https://unknown.example' }),
    await sign({}, { key: otherKey }),
    await sign({}, { nbf: now + 3600 }),
    `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: GITHUB, aud: AUDIENCE, repository: 'acme/infra', exp: now + 3600 })).toString('base64url')}.`,
    `${jwtValid.slice(0, -4)}AAAA`,
    jwtValid.split('.').slice(0, 2).join('.'),
    'a.b.c',
    `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from('not json').toString('base64url')}.sig`,
  ]
  const adminHeaders = { authorization: `Bearer ${admin}` }
  const world = new World(t, where.root, {
    auth: authFromText(text, { maxLocksPerCaller: 4 }),
    seedHeaders: adminHeaders,
  })
  fuzzed = world
  await world.start()

  const secrets = [admin, reader, writer, jwtValid, jwtNoRule]
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')
  const username = fc.stringMatching(/^[A-Za-z0-9_.@-]{1,12}$/)
  const scheme = (name: 'Bearer' | 'Basic') =>
    fc.constantFrom(name, name.toLowerCase(), name.toUpperCase(), `${name[0]}${name.slice(1).toUpperCase()}`)
  /** Credentials the contract accepts: Bearer <secret>, or Basic with any username and the secret as password. */
  const validAuth = fc.oneof(
    fc
      .tuple(scheme('Bearer'), fc.integer({ min: 1, max: 3 }), fc.constantFrom(...secrets))
      .map(([s, spaces, secret]) => `${s}${' '.repeat(spaces)}${secret}`),
    fc
      .tuple(scheme('Basic'), username, fc.constantFrom(...secrets))
      .map(([s, user, secret]) => `${s} ${b64(`${user}:${secret}`)}`),
  )
  /** Credentials that must be refused: garbage, near misses, bad identity tokens. */
  const mutate = (secret: string, at: number, how: number): string => {
    const i = at % secret.length
    const c = secret[i] === 'a' ? 'b' : 'a'
    return [
      secret.slice(0, i) + c + secret.slice(i + 1),
      secret.slice(0, i),
      `${secret}x`,
      secret.toUpperCase() === secret ? `${secret}0` : secret.toUpperCase(),
    ][how % 4]!
  }
  const invalidAuth = fc.oneof(
    { weight: 3, arbitrary: headerText(80) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom('Bearer ', 'Basic ', 'Token ', 'Digest ', 'bearer\t', 'Bearer  '), headerText(60))
        .map(([s, v]) => `${s}${v}`),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(admin, reader, writer, jwtValid), fc.nat(), fc.nat())
        .map(([secret, at, how]) => `Bearer ${mutate(secret, at, how)}`),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(admin, writer),
          username,
          fc.constantFrom<'no-colon' | 'empty-password' | 'unpadded' | 'not-base64' | 'extra-colon' | 'raw'>(
            'no-colon',
            'empty-password',
            'unpadded',
            'not-base64',
            'extra-colon',
            'raw',
          ),
        )
        .map(
          ([secret, user, how]) =>
            ({
              'no-colon': `Basic ${b64(secret)}`,
              'empty-password': `Basic ${b64(`${user}:`)}`,
              unpadded: `Basic ${b64(`${user}:${secret}x`).replace(/=+$/, '')}x`,
              'not-base64': `Basic ${user}:${secret}`,
              'extra-colon': `Basic ${b64(`${user}:${secret}:`)}`,
              raw: secret,
            })[how],
        ),
    },
    { weight: 2, arbitrary: fc.constantFrom(...badJwts).map((jwt) => `Bearer ${jwt}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'Bearer',
        'Basic',
        'Bearer ',
        `Bearer ${admin} ${admin}`,
        `Bearer ${'A'.repeat(8000)}`,
        `Basic ${b64(`u:${'x'.repeat(5000)}`)}`,
        `Bearer ${admin}\u00e9`,
      ),
    },
  )
  const authInput = fc.oneof(
    { weight: 3, arbitrary: validAuth.map((header) => ({ valid: true as const, header })) },
    { weight: 3, arbitrary: invalidAuth.map((header) => ({ valid: false as const, header })) },
    { weight: 1, arbitrary: fc.constant({ valid: false as const, header: undefined }) },
  )
  const headerCase = fc.record({
    op: fc.integer({ min: 0, max: OPERATIONS.length + 1 }),
    target: stackTarget,
    auth: authInput,
    headers: headerSet,
    choice: fc.nat(99),
  })

  let refused = 0
  await check(
    t,
    'headers',
    headerCase,
    async (c) => {
      await world.refresh()
      const op = OPERATIONS[c.op]
      const method = op?.method ?? 'GET'
      const url = world.fill(
        op === undefined
          ? c.op === OPERATIONS.length
            ? '/v1/factories'
            : '/v1/factories/f1/stacks'
          : `${urlOf(c.target)}${op.path}`,
      )
      const body = op === undefined ? undefined : plausibleBody(op.body, c.choice)
      const payload = body === undefined ? undefined : world.fill(body)
      const md5 = createHash('md5')
        .update(payload ?? '')
        .digest()
      const headers: Record<string, string> = {}
      if (body !== undefined) headers['content-type'] = JSON_TYPE
      for (const [name, value] of Object.entries(c.headers)) {
        if (value === undefined) continue
        headers[name] = world
          .fill(value)
          .replace('@MD5-HEX@', md5.toString('hex'))
          .replace('@MD5-OTHER@', createHash('md5').update('other').digest('base64'))
          .replace('@MD5@', md5.toString('base64'))
      }
      if (c.auth.header !== undefined) headers.authorization = c.auth.header.replace(/^[ \t]+|[ \t]+$/g, '')
      const { res, code, label } = await exchange(world, {
        method,
        url,
        headers,
        ...(payload === undefined ? {} : { payload }),
      })
      if (c.auth.valid && res.statusCode === 401)
        throw new Error(
          `${label}: valid credentials (${c.auth.header.slice(0, 40)}…) answered 401 ${res.body.slice(0, 200)}`,
        )
      if (!c.auth.valid) {
        refused++
        if (res.statusCode !== 401 || code !== 'unauthenticated')
          throw new Error(
            `${label}: credentials ${JSON.stringify(c.auth.header?.slice(0, 80))} must get 401 unauthenticated, got ${res.statusCode} ${code ?? ''}`,
          )
        if (typeof res.headers['www-authenticate'] !== 'string' || !/Bearer/.test(res.headers['www-authenticate']))
          throw new Error(`${label}: a 401 without a WWW-Authenticate challenge`)
      }
    },
    RUNS.headers,
  )
  t.ok(refused > 0, `${refused} cases presented credentials that had to be refused`)
  t.comment(`header world rebuilt ${world.rebuilds} times`)
})

t.test('nothing outside the data root was touched, and the figures are reported', async (t) => {
  if (fuzzed === undefined) return t.fail('the property never built its world')
  endChecks(t, where, fuzzed, 'fuzzing headers', RUNS.headers)
})
