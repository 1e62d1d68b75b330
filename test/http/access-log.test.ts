/**
 * One access line per request with what an operator asks of it; probes at
 * debug; query values redacted; a plausible incoming X-Request-Id kept.
 */
import t, { type Test } from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildApp } from '../../src/app.js'
import { redactQuery } from '../../src/http/access-log.js'
import { MemoryAudit } from '../helpers/app.js'
import { authFromText, bearer, newToken, tokensFileText } from '../helpers/auth.js'
import { type CapturedLog, captureLog } from '../helpers/log-capture.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const STACK = '/v1/factories/f1/stacks/s1'

async function appWith(t: Test, log: CapturedLog, options: { token?: string; dir?: string } = {}) {
  const root = makeRoot(options.dir ?? t.testdir())
  const auth =
    options.token === undefined
      ? undefined
      : authFromText(
          tokensFileText([{ name: 'ci-deployer', token: options.token, grants: [{ scope: '*/*', allow: ['*'] }] }]),
        )
  const { app } = await buildApp({
    config: { requireLock: false, maxWaitSeconds: 1, bodyLimitBytes: 1024 * 1024 },
    root,
    audit: new MemoryAudit(),
    logger: log.logger,
    version: '0',
    auth,
  })
  t.teardown(async () => {
    await app.close()
    root.close()
  })
  await app.ready()
  return app
}

/** The access lines (those carrying a status or marked aborted). */
function accessLines(log: CapturedLog) {
  return log.entries().filter((e) => 'status' in e && 'route' in e)
}

t.test(
  'each request gives exactly one line with method, route, status, duration, principal, stack, request id and user agent',
  async (t) => {
    const log = captureLog('info')
    const token = newToken()
    const app = await appWith(t, log, { token })
    const res = await app.inject({
      method: 'POST',
      url: `${STACK}/snapshots?current=true`,
      headers: { ...bearer(token), 'content-type': 'application/json', 'user-agent': 'terraform/1.9' },
      payload: sampleSnapshot(1),
    })
    t.equal(res.statusCode, 201)
    const requestId = res.headers['x-request-id']
    const lines = log.entries().filter((e) => e.reqId === requestId)
    t.equal(lines.length, 1, `one line for the request: ${JSON.stringify(lines)}`)
    t.match(lines[0], {
      level: 30,
      method: 'POST',
      route: '/v1/factories/:factory/stacks/:stack/snapshots',
      url: `${STACK}/snapshots?current=*`,
      status: 201,
      principal: 'ci-deployer',
      factory: 'f1',
      stack: 's1',
      ua: 'terraform/1.9',
    })
    t.type(lines[0]!.ms, 'number')
    t.notOk('code' in lines[0]!, 'a success carries no problem code')
  },
)

t.test('a refused request carries its problem code in its one line', async (t) => {
  const log = captureLog('info')
  const app = await appWith(t, log, { token: newToken() })
  const res = await app.inject({ url: `${STACK}/current`, headers: bearer(newToken()) })
  t.equal(res.statusCode, 401)
  const lines = log.entries().filter((e) => e.reqId === res.headers['x-request-id'])
  t.equal(lines.length, 1)
  t.match(lines[0], {
    level: 30,
    status: 401,
    code: 'unauthenticated',
    route: '/v1/factories/:factory/stacks/:stack/current',
  })
})

t.test('a server fault logs at error with the error in the same line', async (t) => {
  const parent = t.testdir()
  await writeFile(join(parent, 'plain-file'), 'not a directory')
  const log = captureLog('info')
  const app = await appWith(t, log, { dir: join(parent, 'plain-file', 'data') })
  const res = await app.inject({
    method: 'POST',
    url: `${STACK}/snapshots`,
    headers: { 'content-type': 'application/json' },
    payload: sampleSnapshot(1),
  })
  t.equal(res.statusCode, 500)
  const lines = log.entries().filter((e) => e.reqId === res.headers['x-request-id'])
  t.equal(lines.length, 1)
  t.match(lines[0], { level: 50, status: 500, code: 'storage-failure', err: { type: 'StateError' } })
})

t.test('health, readiness, metrics and the OpenAPI document log at debug, not at info', async (t) => {
  const quiet = captureLog('info')
  const app = await appWith(t, quiet)
  for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.yaml', '/openapi.json'])
    t.equal((await app.inject({ url })).statusCode, 200, url)
  t.strictSame(accessLines(quiet), [], 'no info line for probes')
  const verbose = captureLog('debug')
  const app2 = await appWith(t, verbose)
  await app2.inject({ url: '/healthz' })
  t.match(accessLines(verbose), [{ level: 20, route: '/healthz', status: 200 }])
})

t.test('query values are redacted in logged URLs, names kept', async (t) => {
  const secret = `leaked-${newToken()}`
  const log = captureLog('debug')
  const app = await appWith(t, log)
  await app.inject({ url: `${STACK}/current?access_token=${secret}&wait=5&flag` })
  await app.inject({ url: `/no/such/route?token=${secret}` })
  t.notOk(log.text().includes(secret), 'the value never reaches the log')
  t.match(accessLines(log), [
    { url: `${STACK}/current?access_token=*&wait=*&flag` },
    { url: '/no/such/route?token=*', status: 404, code: 'route-not-found' },
  ])
  t.equal(redactQuery('/a?b=c=d&&e'), '/a?b=*&&e')
  t.equal(redactQuery('/plain'), '/plain')
})

t.test('a plausible incoming X-Request-Id is kept; anything else gets a UUID', async (t) => {
  const log = captureLog('info')
  const app = await appWith(t, log)
  const kept = await app.inject({ url: `${STACK}/current`, headers: { 'x-request-id': 'gitlab-job-4711/step:plan' } })
  t.equal(kept.headers['x-request-id'], 'gitlab-job-4711/step:plan')
  t.equal(kept.json().requestId, 'gitlab-job-4711/step:plan', 'the problem body names it too')
  t.ok(
    log.entries().some((e) => e.reqId === 'gitlab-job-4711/step:plan'),
    'the log line carries it',
  )
  for (const bad of ['has space', 'x'.repeat(129), 'line\u0001break', '']) {
    const res = await app.inject({ url: `${STACK}/current`, headers: { 'x-request-id': bad } })
    t.match(res.headers['x-request-id'], UUID, `${JSON.stringify(bad.slice(0, 20))} is replaced`)
  }
  t.match((await app.inject({ url: `${STACK}/current` })).headers['x-request-id'], UUID, 'no header: a UUID')
})

t.test("every answer carries its request id: a route's, an unknown route's, a malformed URL's", async (t) => {
  const app = await appWith(t, captureLog('info'))
  for (const [url, status] of [
    [`${STACK}/current`, 404],
    ['/v2/nothing', 404],
    ['/v1/factories/%/stacks', 400],
  ] as const) {
    const res = await app.inject({ url, headers: { 'x-request-id': 'job-7' } })
    t.equal(res.statusCode, status, url)
    t.equal(res.headers['x-request-id'], 'job-7', `${url} answers with the id`)
    t.equal(res.json().requestId, 'job-7', `${url}: the problem names it too`)
  }
})

t.test('every GET route answers HEAD, without a body', async (t) => {
  const app = await appWith(t, captureLog('silent'))
  const health = await app.inject({ method: 'HEAD', url: '/healthz' })
  t.equal(health.statusCode, 200)
  t.equal(health.body, '')
  await app.inject({
    method: 'POST',
    url: `${STACK}/snapshots?current=true`,
    headers: { 'content-type': 'application/json' },
    payload: sampleSnapshot(1),
  })
  const current = await app.inject({ method: 'HEAD', url: `${STACK}/current` })
  t.equal(current.statusCode, 200)
  t.ok(current.headers.etag, 'HEAD of current carries the ETag')
  t.equal(current.body, '')
  t.equal((await app.inject({ method: 'HEAD', url: '/readyz' })).statusCode, 200)
})
