/**
 * Failed authentications are limited per remote address; valid credentials
 * from the same address are not (a NAT or a CI runner pool shares one
 * address with whoever sprays bad tokens).
 */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { ManualTime, authFromText, bearer, newToken, tokensFileText } from '../helpers/auth.js'

const STACK = '/v1/factories/f1/stacks/s1'

t.test('a burst of bad tokens from one address slows the failures, not a valid caller from that address', async (t) => {
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
  const slowed = await app.inject({ url: `${STACK}/snapshots`, headers: bearer(newToken()) })
  t.equal(slowed.statusCode, 429, 'the next failure is slowed')
  t.equal(slowed.json().code, 'rate-limited')
  t.equal(slowed.headers['retry-after'], '60', 'for as long as the bucket takes to refill one failure')
  t.equal(
    (await app.inject({ url: `${STACK}/snapshots`, headers: bearer(token) })).statusCode,
    200,
    'a valid token from the same address passes at once',
  )
  t.equal(
    (await app.inject({ url: `${STACK}/snapshots` })).statusCode,
    429,
    'a request without credentials is a failure too',
  )
})
