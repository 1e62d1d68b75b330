/** Problem bodies, unknown routes and query parameters, and the health probes, through app.inject. */
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { sampleSnapshot } from '../helpers/store.js'
import { assertProblem, ownStack } from '../helpers/api.js'

t.test('every problem body carries type, title, status, code, detail and instance', async (t) => {
  const { app, url } = await ownStack()
  const res = await app.inject({ method: 'GET', url: `${url}/snapshots/2020-01-01T00:00:00Z?redacted=false` })
  const body = assertProblem(t, res, 404, 'rev-not-found')
  t.equal(body.type, 'urn:unobin-state:problem:rev-not-found')
  t.equal(body.instance, `${url}/snapshots/2020-01-01T00:00:00Z`, 'instance is the path without the query')
  t.equal(body.requestId, res.headers['x-request-id'])
})

t.test('an unknown route answers 404 route-not-found', async (t) => {
  const { app, url } = await ownStack()
  assertProblem(t, await app.inject({ method: 'GET', url: '/v2/factories' }), 404, 'route-not-found')
  assertProblem(t, await app.inject({ method: 'PATCH', url: `${url}/current`, payload: {} }), 404, 'route-not-found')
})

t.test('/healthz answers 200', async (t) => {
  const { app } = await ownStack()
  const res = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(res.statusCode, 200)
  t.equal((res.json() as { status: string }).status, 'ok')
})

t.test('/readyz answers 200 when the data directory is writable', async (t) => {
  const { app, dir } = await ownStack()
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 200)
  t.equal((res.json() as { status: string }).status, 'ready')
  t.strictSame(
    (await readdir(dir)).filter((n) => n.startsWith('.tmp-')),
    [],
    'the probe file is removed',
  )
})

t.test('/readyz answers 503 when the data directory cannot be written', async (t) => {
  // Tests run as root, where chmod 0o500 does not stop writes; a data dir under
  // a regular file cannot be created at all (ENOTDIR) whoever runs the test.
  const parent = t.testdir()
  await writeFile(join(parent, 'plain-file'), 'not a directory')
  const { app } = await buildTestApp(t, { dir: join(parent, 'plain-file', 'data') })
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 503)
  const body = res.json() as { status: string; checks?: Record<string, string> }
  t.not(body.status, 'ready')
  t.equal(
    body.checks,
    undefined,
    'the cause is for authenticated callers and the log (test/http/routes/health.test.ts)',
  )
})

t.test('an unknown query parameter is refused instead of silently ignored', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({
    method: 'POST',
    url: `${stackUrl('typo', 's')}/snapshots?currnet=true`,
    payload: sampleSnapshot(1),
  })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'invalid-request')
  const list = await app.inject({ method: 'GET', url: `${stackUrl('typo', 's')}/snapshots` })
  t.same(list.json().revs, [], 'nothing was written')
})
