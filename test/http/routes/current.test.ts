/** GET and PUT current through app.inject: byte-exact reads, conditional requests, rollback. */
import t from 'tap'
import { sampleSnapshot } from '../../helpers/store.js'
import { assertProblem, currentRevOf, ownStack, postSnapshot, writeRev } from '../../helpers/api.js'

t.test('GET current on a fresh stack answers 404 no-current', async (t) => {
  const { app, url } = await ownStack()
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/current` }), 404, 'no-current')
})

t.test('GET current on a stack with revs but no current answers 404 no-current', async (t) => {
  const { app, url } = await ownStack()
  await writeRev(app, url, 1)
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/current` }), 404, 'no-current')
})

t.test('GET current returns the body byte-exact with the rev as ETag', async (t) => {
  const { app, url } = await ownStack()
  // Odd but valid JSON formatting must survive untouched.
  const body = Buffer.from(`${sampleSnapshot('exact').toString('utf8').replace('{', '{   ').replace(/\n/g, '\r\n')}  `)
  const write = await postSnapshot(app, url, body, { query: '?current=true' })
  t.equal(write.statusCode, 201)
  const { rev } = write.json() as { rev: string }
  const res = await app.inject({ method: 'GET', url: `${url}/current` })
  t.equal(res.statusCode, 200)
  t.ok(res.rawPayload.equals(body), 'bytes equal what was POSTed')
  t.equal(res.headers.etag, `"${rev}"`)
  t.match(String(res.headers['content-type']), /^application\/json/)
  t.match(String(res.headers['cache-control']), /no-cache/, 'current must revalidate')
})

t.test('GET current with a matching If-None-Match answers 304 without a body', async (t) => {
  const { app, url } = await ownStack()
  const rev = await writeRev(app, url, 1, { query: '?current=true' })
  const res = await app.inject({ method: 'GET', url: `${url}/current`, headers: { 'if-none-match': `"${rev}"` } })
  t.equal(res.statusCode, 304)
  t.equal(res.body, '')
  const other = await app.inject({
    method: 'GET',
    url: `${url}/current`,
    headers: { 'if-none-match': '"2020-01-01T00:00:00Z"' },
  })
  t.equal(other.statusCode, 200)
})

t.test('PUT current rolls back to an older rev', async (t) => {
  const { app, url } = await ownStack()
  const old = await writeRev(app, url, 'old', { query: '?current=true' })
  const latest = await writeRev(app, url, 'new', { query: '?current=true' })
  const res = await app.inject({ method: 'PUT', url: `${url}/current`, payload: { rev: old } })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { rev: old, previous: latest })
  const current = await app.inject({ method: 'GET', url: `${url}/current` })
  t.equal(current.headers.etag, `"${old}"`)
  t.ok(current.rawPayload.equals(sampleSnapshot('old')))
})

t.test('PUT current with a matching If-Match moves current', async (t) => {
  const { app, url } = await ownStack()
  const a = await writeRev(app, url, 'a', { query: '?current=true' })
  const b = await writeRev(app, url, 'b')
  const res = await app.inject({
    method: 'PUT',
    url: `${url}/current`,
    headers: { 'if-match': `"${a}"` },
    payload: { rev: b },
  })
  t.equal(res.statusCode, 200)
  t.equal(await currentRevOf(app, url), b)
})

t.test('PUT current with a stale If-Match answers 412 current-mismatch and leaves current unchanged', async (t) => {
  const { app, url } = await ownStack()
  const a = await writeRev(app, url, 'a')
  const b = await writeRev(app, url, 'b', { query: '?current=true' })
  const res = await app.inject({
    method: 'PUT',
    url: `${url}/current`,
    headers: { 'if-match': `"${a}"` },
    payload: { rev: a },
  })
  const problem = assertProblem(t, res, 412, 'current-mismatch')
  t.equal(problem.current, b, 'the problem names the actual current rev')
  t.equal(await currentRevOf(app, url), b)
})

t.test('PUT current to an unknown rev answers 404 rev-not-found', async (t) => {
  const { app, url } = await ownStack()
  const a = await writeRev(app, url, 'a', { query: '?current=true' })
  const res = await app.inject({ method: 'PUT', url: `${url}/current`, payload: { rev: '2020-01-01T00:00:00Z' } })
  assertProblem(t, res, 404, 'rev-not-found')
  t.equal(await currentRevOf(app, url), a)
  const fresh = await app.inject({
    method: 'PUT',
    url: `${url}-fresh/current`,
    payload: { rev: '2020-01-01T00:00:00Z' },
  })
  assertProblem(t, fresh, 404, 'rev-not-found')
})
