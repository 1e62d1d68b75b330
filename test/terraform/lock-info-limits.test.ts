/**
 * Terraform's LockInfo is bounded like the native lock body: each field has
 * a cap (400 above it) and the whole LOCK body a few KB (413 above it,
 * refused before it is read whole); nothing is locked by a refused body.
 */
import t from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { lockInfo } from '../helpers/auth.js'
import { LOCK_BODY_LIMIT, LOCK_INFO_FIELD_MAX } from '../../src/terraform/lock-info.js'

const json = { 'content-type': 'application/json' }

function info(fields: Record<string, string>): string {
  return JSON.stringify({
    ID: 'a0e1c2d3-0000-4000-8000-000000000001',
    Operation: 'OperationTypeApply',
    Info: '',
    Who: 'ci@runner',
    Version: '1.9.0',
    Created: '2026-07-10T12:00:00Z',
    Path: '',
    ...fields,
  })
}

t.test('a LockInfo field over its cap is refused with 400 and locks nothing', async (t) => {
  const { app } = await buildTestApp(t)
  for (const [key, max] of Object.entries(LOCK_INFO_FIELD_MAX)) {
    if (key === 'ID' || key === 'Created') continue
    const res = await app.inject({
      method: 'LOCK',
      url: `${stackUrl()}/terraform`,
      headers: json,
      payload: info({ [key]: 'x'.repeat(max + 1) }),
    })
    t.equal(res.statusCode, 400, key)
    t.equal(res.json().code, 'invalid-request', key)
    t.match(res.json().detail, new RegExp(`LockInfo ${key} is ${max + 1} characters long`), key)
  }
  const long = await app.inject({
    method: 'LOCK',
    url: `${stackUrl()}/terraform`,
    headers: json,
    payload: info({ ID: 'i'.repeat(LOCK_INFO_FIELD_MAX.ID + 1) }),
  })
  t.equal(long.statusCode, 400, 'an overlong ID')
  t.equal((await app.inject({ url: `${stackUrl()}/lock` })).statusCode, 404, 'the stack stays unlocked')
})

t.test('every field at its cap is accepted', async (t) => {
  const { app } = await buildTestApp(t)
  const fields = {
    Operation: 'o'.repeat(LOCK_INFO_FIELD_MAX.Operation),
    Info: 'i'.repeat(LOCK_INFO_FIELD_MAX.Info),
    Who: 'w'.repeat(LOCK_INFO_FIELD_MAX.Who),
    Version: 'v'.repeat(LOCK_INFO_FIELD_MAX.Version),
    Path: 'p'.repeat(LOCK_INFO_FIELD_MAX.Path),
  }
  const body = info(fields)
  t.ok(Buffer.byteLength(body) < LOCK_BODY_LIMIT)
  t.equal(
    (await app.inject({ method: 'LOCK', url: `${stackUrl()}/terraform`, headers: json, payload: body })).statusCode,
    200,
  )
})

t.test('a LOCK body over the body limit is refused with 413 on every lock route', async (t) => {
  const { app } = await buildTestApp(t)
  const huge = info({ Info: 'x'.repeat(15 * 1024 * 1024), Who: 'y'.repeat(1024) })
  for (const [method, url] of [
    ['LOCK', `${stackUrl()}/terraform`],
    ['POST', `${stackUrl()}/terraform/lock`],
    ['UNLOCK', `${stackUrl()}/terraform`],
    ['DELETE', `${stackUrl()}/terraform/lock`],
  ] as const) {
    const res = await app.inject({ method, url, headers: json, payload: huge })
    t.equal(res.statusCode, 413, `${method} ${url}`)
    t.equal(res.json().code, 'body-too-large', `${method} ${url}`)
  }
  const unknownKeys = JSON.stringify({ ID: 'x', Padding: 'p'.repeat(LOCK_BODY_LIMIT) })
  t.equal(
    (await app.inject({ method: 'LOCK', url: `${stackUrl()}/terraform`, headers: json, payload: unknownKeys }))
      .statusCode,
    413,
    'unknown keys count too',
  )
  t.equal((await app.inject({ url: `${stackUrl()}/lock` })).statusCode, 404, 'the stack stays unlocked')
})

t.test("a refused lock answers the holder's LockInfo, small", async (t) => {
  const { app } = await buildTestApp(t)
  t.equal(
    (await app.inject({ method: 'LOCK', url: `${stackUrl()}/terraform`, headers: json, payload: lockInfo('holder-1') }))
      .statusCode,
    200,
  )
  const refused = await app.inject({
    method: 'LOCK',
    url: `${stackUrl()}/terraform`,
    headers: json,
    payload: lockInfo('other-2'),
  })
  t.equal(refused.statusCode, 423)
  t.equal(refused.json().ID, 'holder-1')
  t.ok(refused.body.length < 2 * LOCK_BODY_LIMIT)
})

t.test("the old holder's UNLOCK after a force-unlock answers 409 lock-not-held, and changes nothing", async (t) => {
  const { app } = await buildTestApp(t)
  const body = lockInfo('old-holder')
  t.equal(
    (await app.inject({ method: 'LOCK', url: `${stackUrl()}/terraform`, headers: json, payload: body })).statusCode,
    200,
  )
  t.equal(
    (await app.inject({ method: 'UNLOCK', url: `${stackUrl()}/terraform` })).statusCode,
    200,
    'Terraform force-unlock (empty body)',
  )
  t.equal(
    (
      await app.inject({
        method: 'LOCK',
        url: `${stackUrl()}/terraform`,
        headers: json,
        payload: lockInfo('new-holder'),
      })
    ).statusCode,
    200,
  )
  const late = await app.inject({ method: 'UNLOCK', url: `${stackUrl()}/terraform`, headers: json, payload: body })
  t.equal(late.statusCode, 423, 'while another holds the lock: its LockInfo')
  t.equal(late.json().ID, 'new-holder')
  t.equal(
    (
      await app.inject({
        method: 'UNLOCK',
        url: `${stackUrl()}/terraform`,
        headers: json,
        payload: lockInfo('new-holder'),
      })
    ).statusCode,
    200,
  )
  const lost = await app.inject({ method: 'UNLOCK', url: `${stackUrl()}/terraform`, headers: json, payload: body })
  t.equal(lost.statusCode, 409, 'on a free stack: 409')
  t.equal(lost.json().code, 'lock-not-held')
  t.equal(lost.json().event, 'force-unlock')
})

t.test('a control body over 64 KiB is refused with 413 before it is parsed', async (t) => {
  const { app } = await buildTestApp(t)
  const big = JSON.stringify({ who: 'x', padding: 'p'.repeat(1024 * 1024) })
  const res = await app.inject({ method: 'POST', url: `${stackUrl()}/lock`, headers: json, payload: big })
  t.equal(res.statusCode, 413)
  t.equal(res.json().code, 'body-too-large')
})
