/**
 * The pieces of the auth layer on their own: glob patterns and their
 * specificity, the grant decision, Authorization header parsing, static
 * token lookup and the token bucket.
 */
import t from 'tap'
import { parseAuthorization } from '../../src/auth/authorization-header.js'
import { compareSpecificity, compileGlob } from '../../src/auth/glob.js'
import { type Grant, isAllowed } from '../../src/auth/policy.js'
import type { Permission } from '../../src/auth/permission.js'
import { RateLimiter } from '../../src/auth/rate-limiter.js'
import { StaticTokens } from '../../src/auth/static-tokens.js'
import { digestOfHash, hashToken } from '../../src/auth/token-hash.js'
import { ManualTime } from '../helpers/auth.js'

function grant(scope: string, allow: Permission[] = [], deny: Permission[] = []): Grant {
  const [factory, stack] = scope.split('/') as [string, string]
  return { factory: compileGlob(factory), stack: compileGlob(stack), allow: new Set(allow), deny: new Set(deny) }
}

t.test('globs match whole names with * and ?, and everything else literally', async (t) => {
  t.ok(compileGlob('prod-*').matches('prod-eu'))
  t.ok(compileGlob('prod-*').matches('prod-'))
  t.notOk(compileGlob('prod-*').matches('preprod-eu'))
  t.ok(compileGlob('s?').matches('s1'))
  t.notOk(compileGlob('s?').matches('s12'))
  t.ok(compileGlob('a.b').matches('a.b'))
  t.notOk(compileGlob('a.b').matches('axb'), 'a dot is literal')
  t.ok(compileGlob('acme/*').matches('acme/infra/sub'), 'in claims * also spans slashes')
  t.ok(compileGlob('*').universal)
  t.notOk(compileGlob('*-x').universal)
})

t.test('an exact name is more specific than any pattern, and more literals beat fewer', async (t) => {
  t.ok(compareSpecificity(compileGlob('prod'), compileGlob('prod-*')) > 0)
  t.ok(compareSpecificity(compileGlob('prod-*'), compileGlob('p*')) > 0)
  t.ok(compareSpecificity(compileGlob('p*'), compileGlob('*')) > 0)
  t.equal(compareSpecificity(compileGlob('a*'), compileGlob('*b')), 0)
})

t.test('nothing is allowed without a matching grant', async (t) => {
  t.notOk(isAllowed([], 'read', { factory: 'f', stack: 's' }))
  t.notOk(isAllowed([grant('g/*', ['read'])], 'read', { factory: 'f', stack: 's' }))
  t.notOk(isAllowed([grant('f/*', ['write'])], 'read', { factory: 'f', stack: 's' }))
})

t.test('the factory pattern decides specificity before the stack pattern', async (t) => {
  const grants = [grant('f/*', ['read']), grant('*/s', [], ['read'])]
  t.ok(isAllowed(grants, 'read', { factory: 'f', stack: 's' }))
})

t.test('a deny wins a tie, and a more specific allow beats a broader deny', async (t) => {
  t.notOk(isAllowed([grant('f/*', ['read']), grant('f/*', [], ['read'])], 'read', { factory: 'f', stack: 's' }))
  t.ok(isAllowed([grant('*/*', [], ['read']), grant('f/s', ['read'])], 'read', { factory: 'f', stack: 's' }))
})

t.test('listings need a grant whose pattern is * where they list', async (t) => {
  t.ok(isAllowed([grant('*/*', ['read'])], 'read', { factory: null, stack: null }))
  t.notOk(isAllowed([grant('f*/*', ['read'])], 'read', { factory: null, stack: null }))
  t.ok(isAllowed([grant('f/*', ['read'])], 'read', { factory: 'f', stack: null }))
  t.notOk(isAllowed([grant('f/prod-*', ['read'])], 'read', { factory: 'f', stack: null }))
})

t.test('Authorization headers: Bearer, Basic with the token as password, and malformed ones', async (t) => {
  t.strictSame(parseAuthorization(undefined), { kind: 'none' })
  t.strictSame(parseAuthorization('Bearer abc.def-ghi_'), { kind: 'secret', scheme: 'bearer', secret: 'abc.def-ghi_' })
  t.strictSame(parseAuthorization('bearer abc'), { kind: 'secret', scheme: 'bearer', secret: 'abc' })
  t.strictSame(parseAuthorization(`Basic ${Buffer.from('terraform:tok:en').toString('base64')}`), {
    kind: 'secret',
    scheme: 'basic',
    secret: 'tok:en',
  })
  for (const bad of [
    'Bearer',
    'Bearer a b',
    'Basic ***',
    `Basic ${Buffer.from('nocolon').toString('base64')}`,
    `Basic ${Buffer.from('user:').toString('base64')}`,
    'Digest x',
    'abc',
  ]) {
    t.equal(parseAuthorization(bad).kind, 'malformed', bad)
  }
})

t.test('a static token is found by its hash, and only by it', async (t) => {
  const tokens = new StaticTokens([
    { name: 'a', digest: digestOfHash(hashToken('token-a')), grants: [] },
    { name: 'b', digest: digestOfHash(hashToken('token-b')), grants: [] },
  ])
  t.equal(tokens.find('token-b')?.principal, 'b')
  t.equal(tokens.find('token-c'), undefined)
  t.equal(tokens.find(''), undefined)
})

t.test('the token bucket allows a burst, then the rate, and says when to retry', async (t) => {
  const time = new ManualTime()
  const limiter = new RateLimiter({ perMinute: 30, burst: 2, now: time.now })
  t.ok(limiter.take('k').ok)
  t.ok(limiter.take('k').ok)
  t.strictSame(limiter.take('k'), { ok: false, retryAfterSeconds: 2 })
  t.ok(limiter.take('other').ok, 'keys are independent')
  time.ms += 2000
  t.ok(limiter.take('k').ok)
  t.notOk(limiter.take('k').ok)
  time.ms += 60_000
  t.ok(limiter.peek('k').ok)
  t.ok(limiter.take('k').ok)
  t.ok(limiter.take('k').ok)
  t.notOk(limiter.take('k').ok, 'the bucket never holds more than the burst')
})
