/**
 * With static tokens, callers are bounded: a rate with Retry-After and the
 * lock cap. (Failed authentications per address: failed-auth.test.ts.)
 */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { ManualTime, bearer, lockInfo, principals, statusAs } from '../helpers/auth.js'

const STACK = '/v1/factories/f1/stacks/s1'

t.test('a caller over its rate gets 429 with Retry-After until the bucket refills', async (t) => {
  const time = new ManualTime()
  const { auth, tokens } = principals(
    { busy: ['read'], calm: ['read'] },
    { rateLimit: { perMinute: 60, burst: 2 }, now: time.now },
  )
  const { app } = await buildTestApp(t, { auth })
  const get = (tok: string) => app.inject({ url: `${STACK}/snapshots`, headers: bearer(tok) })
  t.equal((await get(tokens.busy)).statusCode, 200)
  t.equal((await get(tokens.busy)).statusCode, 200)
  const limited = await get(tokens.busy)
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'rate-limited')
  t.equal(limited.headers['retry-after'], '1')
  t.equal((await get(tokens.calm)).statusCode, 200, 'another caller has its own bucket')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'probes are not limited')
  time.ms += 1000
  t.equal((await get(tokens.busy)).statusCode, 200, 'one token came back after a second')
})

t.test('a caller at its lock cap cannot take another lock, but may retry its own', async (t) => {
  const { auth, tokens } = principals({ ci: ['lock'], other: ['lock'] }, { maxLocksPerCaller: 2 })
  const { ci, other } = tokens
  const { app, audit } = await buildTestApp(t, { auth })
  const id = '2f6a9d7e-1c1a-4d5e-9f00-000000000004'
  t.equal(await statusAs(app, ci, 'POST', '/v1/factories/f1/stacks/a/lock', {}), 201)
  t.equal(await statusAs(app, ci, 'LOCK', '/v1/factories/f1/stacks/b/terraform', lockInfo(id)), 200)
  const capped = await app.inject({
    method: 'POST',
    url: '/v1/factories/f2/stacks/c/terraform/lock',
    headers: { ...bearer(ci), 'content-type': 'application/json' },
    payload: lockInfo('2f6a9d7e-1c1a-4d5e-9f00-000000000005'),
  })
  t.equal(capped.statusCode, 429)
  t.equal(capped.json().code, 'too-many-locks')
  t.equal(await statusAs(app, ci, 'POST', '/v1/factories/f1/stacks/c/lock', {}), 429)
  t.equal(
    await statusAs(app, ci, 'LOCK', '/v1/factories/f1/stacks/b/terraform', lockInfo(id)),
    200,
    'a retried LOCK of a held lock is not a new one',
  )
  t.equal(
    await statusAs(app, other, 'POST', '/v1/factories/f1/stacks/c/lock', {}),
    201,
    'another caller has its own cap',
  )
  t.ok(audit.events.some((e) => e.action === 'lock.acquire' && e.outcome === 'refused' && e.principal === 'ci'))
  t.equal(await statusAs(app, ci, 'UNLOCK', '/v1/factories/f1/stacks/b/terraform', lockInfo(id)), 200)
  t.equal(
    await statusAs(app, ci, 'POST', '/v1/factories/f2/stacks/c/lock', {}),
    201,
    'below the cap again after an unlock',
  )
})
