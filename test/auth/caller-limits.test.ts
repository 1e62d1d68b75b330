/** With static tokens, callers are bounded: a rate with Retry-After, failed authentications per address, and the lock cap. */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { ManualTime, authFromText, bearer, lockInfo, newToken, tokensFileText } from '../helpers/auth.js'

const STACK = '/v1/factories/f1/stacks/s1'

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
