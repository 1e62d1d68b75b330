/** The snapshots routes through app.inject: writes, reads, listing and paging, delete and gc. */
import { readFile, readdir, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { buildTestApp, stackUrl } from '../../helpers/app.js'
import { fixtureKeyring, sampleSnapshot } from '../../helpers/store.js'
import { assertProblem, currentRevOf, ownStack, postSnapshot, revsOf, writeRev } from '../../helpers/api.js'

t.test('POST snapshots answers 201 with the rev and a Location that serves the same bytes', async (t) => {
  const { app, url } = await ownStack()
  const body = sampleSnapshot('located')
  const res = await postSnapshot(app, url, body)
  t.equal(res.statusCode, 201)
  const answer = res.json() as { rev: string; current: boolean }
  t.match(answer.rev, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z(_\d+)?$/)
  t.equal(answer.current, false)
  t.equal(res.headers.location, `${url}/snapshots/${answer.rev}`)
  const got = await app.inject({ method: 'GET', url: String(res.headers.location) })
  t.equal(got.statusCode, 200)
  t.ok(got.rawPayload.equals(body), 'bytes equal what was POSTed')
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/current` }), 404, 'no-current')
})

t.test('POST snapshots with current=true also makes the new rev current', async (t) => {
  const { app, url } = await ownStack()
  const res = await postSnapshot(app, url, sampleSnapshot(1), { query: '?current=true' })
  t.equal(res.statusCode, 201)
  const answer = res.json() as { rev: string; current: boolean }
  t.equal(answer.current, true)
  t.equal(await currentRevOf(app, url), answer.rev)
})

t.test('POST snapshots refuses an invalid snapshot with 422 invalid-snapshot and stores nothing', async (t) => {
  const { app, url, stackDir } = await ownStack()
  const bad = Buffer.from(JSON.stringify({ 'format-version': 2, entries: [] }))
  assertProblem(t, await postSnapshot(app, url, bad), 422, 'invalid-snapshot')
  const badEntry = Buffer.from(
    JSON.stringify({
      'format-version': 1,
      entries: [{ address: 'a', 'entry-kind': 'leaf', category: 'resource', binding: { alias: '', kind: 'k' } }],
    }),
  )
  const problem = assertProblem(t, await postSnapshot(app, url, badEntry), 422, 'invalid-snapshot')
  t.equal(problem.entry, 'a', 'the problem names the entry')
  t.equal(problem.rule, 'binding', 'the problem names the rule')
  t.strictSame(await revsOf(app, url), [])
  const files = await readdir(join(stackDir, 'snapshots')).catch(() => [])
  t.strictSame(files, [], 'no file was written')
})

t.test("POST snapshots accepts curl's default form content type and stores the raw bytes", async (t) => {
  const { app, url } = await ownStack()
  const body = sampleSnapshot('curl')
  const res = await postSnapshot(app, url, body, { headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(res.statusCode, 201)
  const got = await app.inject({ method: 'GET', url: String(res.headers.location) })
  t.ok(got.rawPayload.equals(body))
})

t.test('POST snapshots stores the raw bytes whatever the content type says', async (t) => {
  const { app, url } = await ownStack()
  for (const type of ['application/json; charset=utf-8', 'application/octet-stream', 'text/plain']) {
    const body = sampleSnapshot(type)
    const res = await postSnapshot(app, url, body, { headers: { 'content-type': type } })
    t.equal(res.statusCode, 201, type)
    const got = await app.inject({ method: 'GET', url: String(res.headers.location) })
    t.ok(got.rawPayload.equals(body), `${type}: byte-exact`)
  }
})

t.test('a current naming a missing rev answers 500 dangling-current, never no-current', async (t) => {
  const { app, url, stackDir } = await ownStack()
  const rev = await writeRev(app, url, 1, { query: '?current=true' })
  await unlink(join(stackDir, 'snapshots', `${rev}.json.enc`))
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/current` }), 500, 'dangling-current')
})

t.test('a damaged rev answers 500 unreadable-snapshot', async (t) => {
  const { app, url, stackDir } = await ownStack()
  const rev = await writeRev(app, url, 1, { query: '?current=true' })
  const path = join(stackDir, 'snapshots', `${rev}.json.enc`)
  const bytes = await readFile(path)
  await writeFile(path, bytes.subarray(0, bytes.length >> 1))
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/snapshots/${rev}` }), 500, 'unreadable-snapshot')
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/current` }), 500, 'unreadable-snapshot')
})

t.test('GET snapshots lists revs oldest first with current marked', async (t) => {
  const { app, url } = await ownStack()
  const fresh = await app.inject({ method: 'GET', url: `${url}/snapshots` })
  t.equal(fresh.statusCode, 200)
  t.strictSame(fresh.json(), { revs: [], current: null, next: null })
  const a = await writeRev(app, url, 'a')
  const b = await writeRev(app, url, 'b', { query: '?current=true' })
  const c = await writeRev(app, url, 'c')
  const res = await app.inject({ method: 'GET', url: `${url}/snapshots` })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { revs: [a, b, c], current: b, next: null })
})

t.test('GET snapshots pages long histories with limit, after and next', async (t) => {
  const { app, url } = await ownStack()
  const revs: string[] = []
  for (let i = 0; i < 5; i++) revs.push(await writeRev(app, url, i))
  const seen: string[] = []
  let after: string | null = null
  let pages = 0
  do {
    const res: LightMyRequestResponse = await app.inject({
      method: 'GET',
      url: `${url}/snapshots?limit=2${after === null ? '' : `&after=${after}`}`,
    })
    t.equal(res.statusCode, 200)
    const page = res.json() as { revs: string[]; next: string | null }
    t.ok(page.revs.length <= 2)
    seen.push(...page.revs)
    after = page.next
    pages++
  } while (after !== null && pages < 10)
  t.equal(pages, 3)
  t.strictSame(seen, revs)
})

t.test('GET a rev serves it with immutable cache headers and its ETag', async (t) => {
  const { app, url } = await ownStack()
  const rev = await writeRev(app, url, 'cache')
  const res = await app.inject({ method: 'GET', url: `${url}/snapshots/${rev}` })
  t.equal(res.statusCode, 200)
  t.match(String(res.headers['cache-control']), /immutable/)
  t.match(String(res.headers['cache-control']), /max-age=\d{6,}/)
  t.equal(res.headers.etag, `"${rev}"`)
  const again = await app.inject({
    method: 'GET',
    url: `${url}/snapshots/${rev}`,
    headers: { 'if-none-match': `"${rev}"` },
  })
  t.equal(again.statusCode, 304)
})

t.test('GET an absent rev answers 404 rev-not-found', async (t) => {
  const { app, url } = await ownStack()
  assertProblem(
    t,
    await app.inject({ method: 'GET', url: `${url}/snapshots/2020-01-01T00:00:00Z` }),
    404,
    'rev-not-found',
  )
  await writeRev(app, url, 1)
  assertProblem(
    t,
    await app.inject({ method: 'GET', url: `${url}/snapshots/2020-01-01T00:00:00Z_3` }),
    404,
    'rev-not-found',
  )
})

t.test('GET an invalid rev answers 400 invalid-rev', async (t) => {
  const { app, url } = await ownStack()
  for (const rev of ['latest', '2026-07-10T12:00:00.10Z', '2026-07-10T12:00:00%2B00:00', '2026-07-10T12:00:00Z_0']) {
    assertProblem(t, await app.inject({ method: 'GET', url: `${url}/snapshots/${rev}` }), 400, 'invalid-rev')
  }
})

t.test('DELETE a rev is idempotent', async (t) => {
  const { app, url } = await ownStack()
  const keep = await writeRev(app, url, 'keep', { query: '?current=true' })
  const gone = await writeRev(app, url, 'gone')
  const first = await app.inject({ method: 'DELETE', url: `${url}/snapshots/${gone}` })
  t.equal(first.statusCode, 200)
  t.strictSame(first.json(), { rev: gone, deleted: true, clearedCurrent: false })
  const second = await app.inject({ method: 'DELETE', url: `${url}/snapshots/${gone}` })
  t.equal(second.statusCode, 200)
  t.strictSame(second.json(), { rev: gone, deleted: false, clearedCurrent: false })
  t.strictSame(await revsOf(app, url), [keep])
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/snapshots/${gone}` }), 404, 'rev-not-found')
  const never = await app.inject({ method: 'DELETE', url: `${url}-never/snapshots/${gone}` })
  t.equal(never.statusCode, 200)
  t.equal((never.json() as { deleted: boolean }).deleted, false)
})

t.test('DELETE of the current rev is refused with 409 rev-is-current', async (t) => {
  const { app, url } = await ownStack()
  const rev = await writeRev(app, url, 1, { query: '?current=true' })
  assertProblem(t, await app.inject({ method: 'DELETE', url: `${url}/snapshots/${rev}` }), 409, 'rev-is-current')
  t.strictSame(await revsOf(app, url), [rev])
  t.equal(await currentRevOf(app, url), rev)
})

t.test('DELETE of the current rev with force=true deletes it and clears current', async (t) => {
  const { app, url } = await ownStack()
  const rev = await writeRev(app, url, 1, { query: '?current=true' })
  const res = await app.inject({ method: 'DELETE', url: `${url}/snapshots/${rev}?force=true` })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { rev, deleted: true, clearedCurrent: true })
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/current` }), 404, 'no-current')
  t.strictSame(await revsOf(app, url), [])
})

t.test('gc keeps the newest N revs and the current one', async (t) => {
  const { app, url } = await ownStack()
  const r1 = await writeRev(app, url, 1, { query: '?current=true' })
  const r2 = await writeRev(app, url, 2)
  const r3 = await writeRev(app, url, 3)
  const r4 = await writeRev(app, url, 4)
  const res = await app.inject({ method: 'POST', url: `${url}/snapshots:gc`, payload: { keep: 2 } })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { deleted: [r2], kept: [r1, r3, r4], dryRun: false })
  t.strictSame(await revsOf(app, url), [r1, r3, r4])
  t.equal(await currentRevOf(app, url), r1)
})

t.test('gc with dryRun reports what it would delete and changes nothing', async (t) => {
  const { app, url, events } = await ownStack()
  const r1 = await writeRev(app, url, 1)
  const r2 = await writeRev(app, url, 2)
  const r3 = await writeRev(app, url, 3, { query: '?current=true' })
  const before = events().length
  const res = await app.inject({ method: 'POST', url: `${url}/snapshots:gc`, payload: { keep: 1, dryRun: true } })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { deleted: [r1, r2], kept: [r3], dryRun: true })
  t.strictSame(await revsOf(app, url), [r1, r2, r3])
  t.equal(events().length, before, 'a dry run is not a mutation')
})

t.test('gc without keep answers 400 invalid-request', async (t) => {
  const { app, url } = await ownStack()
  await writeRev(app, url, 1)
  assertProblem(
    t,
    await app.inject({ method: 'POST', url: `${url}/snapshots:gc`, payload: {} }),
    400,
    'invalid-request',
  )
  assertProblem(t, await app.inject({ method: 'POST', url: `${url}/snapshots:gc` }), 400, 'invalid-request')
  t.equal((await revsOf(app, url)).length, 1)
})
t.test('a 12 MB snapshot round-trips byte-exact (large envelopes are decoded linearly)', async (t) => {
  const { app } = await buildTestApp(t, { encrypter: fixtureKeyring() })
  const doc = JSON.parse(sampleSnapshot(1).toString()) as { outputs: Record<string, string> }
  doc.outputs.pad = 'x'.repeat(12 * 1024 * 1024)
  const body = Buffer.from(JSON.stringify(doc, null, 2))
  const write = await app.inject({
    method: 'POST',
    url: `${stackUrl('big', 's')}/snapshots?current=true`,
    payload: body,
    headers: { 'content-type': 'application/json' },
  })
  t.equal(write.statusCode, 201)
  const read = await app.inject({ method: 'GET', url: `${stackUrl('big', 's')}/current` })
  t.equal(read.statusCode, 200)
  t.ok(read.rawPayload.equals(body), 'the bytes read back equal the bytes written')
})
