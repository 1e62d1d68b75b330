/**
 * The v1 HTTP API (SPEC §5, §7, §9) through `app.inject`: discovery, current,
 * snapshots, gc, locks, fencing, leases, waits, shutdown, audit, problem
 * bodies and health probes. Real sockets are tested elsewhere.
 */
import { readFile, readdir, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { AuditEvent } from '../../src/audit.js'
import type { App } from '../../src/http/app-type.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { ManualClock } from '../helpers/clock.js'
import { fixtureKeyring, sampleSnapshot } from '../helpers/store.js'

const JSON_TYPE = { 'content-type': 'application/json' }
const PROBLEM_FIELDS = ['type', 'title', 'status', 'code', 'detail', 'instance'] as const

/**
 * Asserts `res` is a problem answer with `status` and `code`, that it is
 * application/problem+json and carries every RFC 9457 field; returns the body.
 */
function assertProblem(t: Test, res: LightMyRequestResponse, status: number, code: string): Record<string, unknown> {
  t.equal(res.statusCode, status, `status of ${code}`)
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, 'problem content type')
  const body = res.json() as Record<string, unknown>
  t.equal(body.code, code, 'problem code')
  t.equal(body.status, status, 'status in body')
  for (const field of PROBLEM_FIELDS) t.ok(Object.hasOwn(body, field), `problem has ${field}`)
  for (const field of ['type', 'title', 'detail', 'instance'] as const)
    t.type(body[field], 'string', `${field} is a string`)
  return body
}

/** POSTs a snapshot document to a stack. */
function postSnapshot(
  app: App,
  url: string,
  body: Buffer,
  options: { query?: string; headers?: Record<string, string> } = {},
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: `${url}/snapshots${options.query ?? ''}`,
    headers: { ...JSON_TYPE, ...options.headers },
    payload: body,
  })
}

/** Writes a snapshot and returns its rev; throws (failing the test) unless the write answered 201. */
async function writeRev(
  app: App,
  url: string,
  marker: string | number,
  options: { query?: string; headers?: Record<string, string> } = {},
): Promise<string> {
  const res = await postSnapshot(app, url, sampleSnapshot(marker), options)
  if (res.statusCode !== 201) throw new Error(`seed write answered ${res.statusCode}: ${res.body}`)
  return (res.json() as { rev: string }).rev
}

/** Takes the lock of a stack; throws unless 201. */
async function takeLock(app: App, url: string, body: Record<string, unknown> = {}): Promise<Holder> {
  const res = await app.inject({ method: 'POST', url: `${url}/lock`, payload: body })
  if (res.statusCode !== 201) throw new Error(`lock answered ${res.statusCode}: ${res.body}`)
  return res.json() as Holder
}

interface Holder {
  id: string
  generation: number
  who: string
  operation: string
  info: string
  principal: string | null
  remote: string | null
  created: string | null
  expires: string | null
  pid: number | null
  host: string | null
  legacy: boolean
}

async function currentRevOf(app: App, url: string): Promise<string | null> {
  const res = await app.inject({ method: 'GET', url: `${url}/snapshots` })
  return (res.json() as { current: string | null }).current
}

async function revsOf(app: App, url: string): Promise<string[]> {
  const res = await app.inject({ method: 'GET', url: `${url}/snapshots` })
  return (res.json() as { revs: string[] }).revs
}

type Built = Awaited<ReturnType<typeof buildTestApp>>
let shared: Promise<Built> | undefined
let stacks = 0

/**
 * A stack of its own on the app most tests share: building an app costs far
 * more than a test, and stacks never see each other. Tests that need server
 * options, a clock or a whole data directory build their own app.
 */
async function ownStack(): Promise<{
  app: App
  url: string
  dir: string
  stackDir: string
  events: () => AuditEvent[]
}> {
  shared ??= buildTestApp(t)
  const built = await shared
  const stack = `s${++stacks}`
  return {
    app: built.app,
    url: stackUrl('f1', stack),
    dir: built.dir,
    stackDir: join(built.dir, 'f1', stack),
    events: () => built.audit.events.filter((e) => e.stack === stack),
  }
}

// --- discovery --------------------------------------------------------------

t.test('discovery lists factories with their stack counts, paged by limit and after', async (t) => {
  const { app } = await buildTestApp(t)
  await writeRev(app, stackUrl('f1', 's1'), 1)
  await writeRev(app, stackUrl('f1', 's2'), 2)
  await writeRev(app, stackUrl('f2', 's1'), 3)

  const all = await app.inject({ method: 'GET', url: '/v1/factories' })
  t.equal(all.statusCode, 200)
  t.strictSame(all.json(), {
    factories: [
      { name: 'f1', stacks: 2 },
      { name: 'f2', stacks: 1 },
    ],
    next: null,
  })

  const first = await app.inject({ method: 'GET', url: '/v1/factories?limit=1' })
  t.strictSame(first.json(), { factories: [{ name: 'f1', stacks: 2 }], next: 'f1' })
  const second = await app.inject({ method: 'GET', url: '/v1/factories?limit=1&after=f1' })
  t.strictSame(second.json(), { factories: [{ name: 'f2', stacks: 1 }], next: null })
})

t.test('discovery of an empty data directory lists no factories', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/v1/factories' })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { factories: [], next: null })
})

t.test('discovery lists each stack with its current rev, rev count and lock holder', async (t) => {
  // A factory of its own on the shared app.
  const { app } = await ownStack()
  await writeRev(app, stackUrl('disco', 'a'), 1)
  const currentA = await writeRev(app, stackUrl('disco', 'a'), 2, { query: '?current=true' })
  await writeRev(app, stackUrl('disco', 'b'), 3)
  const holder = await takeLock(app, stackUrl('disco', 'b'), { who: 'ci' })

  const res = await app.inject({ method: 'GET', url: '/v1/factories/disco/stacks' })
  t.equal(res.statusCode, 200)
  const body = res.json() as {
    factory: string
    stacks: Array<{ name: string; current: string | null; revs: number; lock: Holder | null }>
    next: string | null
  }
  t.equal(body.factory, 'disco')
  t.equal(body.next, null)
  t.strictSame(
    body.stacks.map((s) => s.name),
    ['a', 'b'],
  )
  t.strictSame(body.stacks[0], { name: 'a', current: currentA, revs: 2, lock: null, error: null })
  t.equal(body.stacks[1]?.current, null)
  t.equal(body.stacks[1]?.revs, 1)
  t.equal(body.stacks[1]?.lock?.id, holder.id)
  t.equal(body.stacks[1]?.lock?.who, 'ci')

  const page1 = await app.inject({ method: 'GET', url: '/v1/factories/disco/stacks?limit=1' })
  const p1 = page1.json() as { stacks: Array<{ name: string }>; next: string | null }
  t.strictSame(
    p1.stacks.map((s) => s.name),
    ['a'],
  )
  t.equal(p1.next, 'a')
  const page2 = await app.inject({ method: 'GET', url: `/v1/factories/disco/stacks?limit=1&after=${p1.next}` })
  const p2 = page2.json() as { stacks: Array<{ name: string }>; next: string | null }
  t.strictSame(
    p2.stacks.map((s) => s.name),
    ['b'],
  )
  t.equal(p2.next, null)
})

t.test('discovery of an unknown factory answers 404 factory-not-found', async (t) => {
  const { app, url } = await ownStack()
  await writeRev(app, url, 1)
  const res = await app.inject({ method: 'GET', url: '/v1/factories/nope/stacks' })
  assertProblem(t, res, 404, 'factory-not-found')
})

// --- current ------------------------------------------------------------------

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

// --- snapshots ----------------------------------------------------------------

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

// --- lock -----------------------------------------------------------------------

t.test('POST lock answers 201 with every holder field', async (t) => {
  const { app, url } = await ownStack()
  const res = await app.inject({
    method: 'POST',
    url: `${url}/lock`,
    payload: { who: 'ci@runner-7', operation: 'apply', info: 'job 42' },
  })
  t.equal(res.statusCode, 201)
  const holder = res.json() as Holder
  for (const field of [
    'id',
    'generation',
    'who',
    'operation',
    'info',
    'principal',
    'remote',
    'created',
    'expires',
    'pid',
    'host',
  ]) {
    t.ok(Object.hasOwn(holder, field), `holder has ${field}`)
  }
  t.type(holder.id, 'string')
  t.not(holder.id, '')
  t.equal(holder.generation, 1)
  t.equal(holder.who, 'ci@runner-7')
  t.equal(holder.operation, 'apply')
  t.equal(holder.info, 'job 42')
  t.equal(holder.principal, 'anonymous')
  t.equal(holder.remote, '127.0.0.1')
  t.type(holder.created, 'string')
  t.ok(Number.isFinite(Date.parse(String(holder.created))), 'created is an instant')
  t.equal(holder.expires, null, 'no ttl: no lease')
  t.equal(holder.pid, process.pid)
  t.equal(holder.host, 'test-host')
  t.equal(holder.legacy, false)
})

t.test('POST lock with a ttl records when the lease ends', async (t) => {
  const clock = new ManualClock('2026-07-10T12:00:00Z')
  const { app } = await buildTestApp(t, { clock })
  const url = stackUrl()
  const holder = await takeLock(app, url, { ttl: 90 })
  t.equal(holder.created, '2026-07-10T12:00:00Z')
  t.equal(holder.expires, '2026-07-10T12:01:30Z')
})

t.test('a second POST lock answers 423 locked with the holder', async (t) => {
  const { app, url } = await ownStack()
  const first = await takeLock(app, url, { who: 'first' })
  const res = await app.inject({ method: 'POST', url: `${url}/lock`, payload: { who: 'second' } })
  const problem = assertProblem(t, res, 423, 'locked')
  const holder = problem.holder as Holder
  t.equal(holder.id, first.id)
  t.equal(holder.who, 'first')
  t.equal(holder.generation, first.generation)
})

t.test('GET lock answers the holder, or 404 not-locked when free', async (t) => {
  const { app, url } = await ownStack()
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/lock` }), 404, 'not-locked')
  const holder = await takeLock(app, url, { who: 'me' })
  const res = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), holder)
  await app.inject({ method: 'DELETE', url: `${url}/lock?id=${holder.id}` })
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/lock` }), 404, 'not-locked')
})

t.test('PUT lock renews the lease by id in the body or in Lock-Id', async (t) => {
  const clock = new ManualClock('2026-07-10T12:00:00Z')
  const { app } = await buildTestApp(t, { clock })
  const url = stackUrl()
  const holder = await takeLock(app, url, { ttl: 60 })
  clock.advanceMs(30_000)
  const byBody = await app.inject({ method: 'PUT', url: `${url}/lock`, payload: { id: holder.id, ttl: 120 } })
  t.equal(byBody.statusCode, 200)
  t.equal((byBody.json() as Holder).expires, '2026-07-10T12:02:30Z')
  t.equal((byBody.json() as Holder).id, holder.id)
  clock.advanceMs(60_000)
  const byHeader = await app.inject({
    method: 'PUT',
    url: `${url}/lock`,
    headers: { 'lock-id': holder.id },
    payload: { ttl: 10 },
  })
  t.equal(byHeader.statusCode, 200)
  t.equal((byHeader.json() as Holder).expires, '2026-07-10T12:01:40Z')
  const forever = await app.inject({
    method: 'PUT',
    url: `${url}/lock`,
    headers: { 'lock-id': holder.id },
    payload: {},
  })
  t.equal(forever.statusCode, 200)
  t.equal((forever.json() as Holder).expires, null, 'renew without ttl: no lease')
  const got = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal((got.json() as Holder).expires, null)
})

t.test('PUT lock without an id answers 400 and with another id answers 423 locked', async (t) => {
  const { app, url } = await ownStack()
  const holder = await takeLock(app, url, { ttl: 60 })
  assertProblem(
    t,
    await app.inject({ method: 'PUT', url: `${url}/lock`, payload: { ttl: 60 } }),
    400,
    'invalid-request',
  )
  const wrong = assertProblem(
    t,
    await app.inject({ method: 'PUT', url: `${url}/lock`, payload: { id: 'not-mine', ttl: 60 } }),
    423,
    'locked',
  )
  t.equal((wrong.holder as Holder).id, holder.id)
})

t.test('DELETE lock with a wrong id answers 423 locked with the holder and keeps the lock', async (t) => {
  const { app, url } = await ownStack()
  const holder = await takeLock(app, url)
  const problem = assertProblem(
    t,
    await app.inject({ method: 'DELETE', url: `${url}/lock?id=not-mine` }),
    423,
    'locked',
  )
  t.equal((problem.holder as Holder).id, holder.id)
  const still = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal(still.statusCode, 200)
  t.equal((still.json() as Holder).id, holder.id)
})

t.test('DELETE lock releases by id, and a retried unlock with the released id answers 200 again', async (t) => {
  const { app, url } = await ownStack()
  const holder = await takeLock(app, url)
  const first = await app.inject({ method: 'DELETE', url: `${url}/lock?id=${holder.id}` })
  t.equal(first.statusCode, 200)
  const answer = first.json() as { released: Holder; forced: boolean }
  t.equal(answer.forced, false)
  t.equal(answer.released.id, holder.id)
  const retry = await app.inject({ method: 'DELETE', url: `${url}/lock`, headers: { 'lock-id': holder.id } })
  t.equal(retry.statusCode, 200)
  t.equal((retry.json() as { released: Holder }).released.id, holder.id)
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/lock` }), 404, 'not-locked')
})

t.test('DELETE lock on a free stack with an unknown id answers 409 lock-not-held', async (t) => {
  const { app, url } = await ownStack()
  assertProblem(t, await app.inject({ method: 'DELETE', url: `${url}/lock?id=never-held` }), 409, 'lock-not-held')
  const holder = await takeLock(app, url)
  await app.inject({ method: 'DELETE', url: `${url}/lock?id=${holder.id}` })
  assertProblem(t, await app.inject({ method: 'DELETE', url: `${url}/lock?id=never-held` }), 409, 'lock-not-held')
})

t.test('DELETE lock without an id and without force answers 400', async (t) => {
  const { app, url } = await ownStack()
  const holder = await takeLock(app, url)
  assertProblem(t, await app.inject({ method: 'DELETE', url: `${url}/lock` }), 400, 'invalid-request')
  const still = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal((still.json() as Holder).id, holder.id)
})

t.test('force-unlock with a reason returns the removed holder and is audited with the reason', async (t) => {
  const { app, url, events } = await ownStack()
  const holder = await takeLock(app, url, { who: 'crashed-job' })
  const res = await app.inject({
    method: 'DELETE',
    url: `${url}/lock?force=true&reason=${encodeURIComponent('runner died')}`,
  })
  t.equal(res.statusCode, 200)
  const answer = res.json() as { released: Holder; forced: boolean }
  t.equal(answer.forced, true)
  t.strictSame(answer.released, holder)
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/lock` }), 404, 'not-locked')
  const event = events().find((e) => e.action === 'lock.force-unlock')
  t.ok(event, 'force-unlock was audited')
  t.equal(event?.detail?.reason, 'runner died')
  t.equal(event?.lockId, holder.id)
  t.equal(event?.principal, 'anonymous')
})

t.test('force-unlock of a free stack answers 200 with no holder', async (t) => {
  const { app, url } = await ownStack()
  const res = await app.inject({ method: 'DELETE', url: `${url}/lock?force=true&reason=cleanup` })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { released: null, forced: true })
})

t.test('the generation grows at every acquisition and at every force-unlock', async (t) => {
  const { app, url } = await ownStack()
  const a = await takeLock(app, url)
  await app.inject({ method: 'DELETE', url: `${url}/lock?id=${a.id}` })
  const b = await takeLock(app, url)
  t.ok(b.generation > a.generation, 'a new acquisition bumps the generation')
  const forced = await app.inject({ method: 'DELETE', url: `${url}/lock?force=true&reason=test` })
  t.equal(forced.statusCode, 200)
  const c = await takeLock(app, url)
  t.ok(c.generation >= b.generation + 2, 'the force-unlock bumped the generation too')
})

// --- fencing --------------------------------------------------------------------

t.test("a locked stack refuses every mutation without the holder's Lock-Id with 423 locked", async (t) => {
  const { app, url } = await ownStack()
  const r1 = await writeRev(app, url, 1, { query: '?current=true' })
  const r2 = await writeRev(app, url, 2)
  const holder = await takeLock(app, url)
  const refusals = [
    await postSnapshot(app, url, sampleSnapshot(3)),
    await app.inject({ method: 'PUT', url: `${url}/current`, payload: { rev: r2 } }),
    await app.inject({ method: 'DELETE', url: `${url}/snapshots/${r2}` }),
    await app.inject({ method: 'POST', url: `${url}/snapshots:gc`, payload: { keep: 0 } }),
  ]
  for (const res of refusals) {
    const problem = assertProblem(t, res, 423, 'locked')
    t.equal((problem.holder as Holder | undefined)?.id, holder.id, 'the refusal names the holder')
  }
  t.strictSame(await revsOf(app, url), [r1, r2], 'nothing changed')
  t.equal(await currentRevOf(app, url), r1)
})

t.test("a locked stack accepts every mutation with the holder's Lock-Id", async (t) => {
  const { app, url } = await ownStack()
  const r1 = await writeRev(app, url, 1, { query: '?current=true' })
  const holder = await takeLock(app, url)
  const headers = { 'lock-id': holder.id }
  const write = await postSnapshot(app, url, sampleSnapshot(2), { headers })
  t.equal(write.statusCode, 201)
  const r2 = (write.json() as { rev: string }).rev
  const r3 = await writeRev(app, url, 3, { headers })
  const set = await app.inject({ method: 'PUT', url: `${url}/current`, headers, payload: { rev: r3 } })
  t.equal(set.statusCode, 200)
  const del = await app.inject({ method: 'DELETE', url: `${url}/snapshots/${r2}`, headers })
  t.equal(del.statusCode, 200)
  t.equal((del.json() as { deleted: boolean }).deleted, true)
  const gc = await app.inject({ method: 'POST', url: `${url}/snapshots:gc`, headers, payload: { keep: 0 } })
  t.equal(gc.statusCode, 200)
  t.strictSame((gc.json() as { deleted: string[] }).deleted, [r1])
  t.strictSame(await revsOf(app, url), [r3])
  t.equal(await currentRevOf(app, url), r3)
})

t.test('after a force-unlock the old lock id is refused with 423 lock-lost', async (t) => {
  const { app, url } = await ownStack()
  const r1 = await writeRev(app, url, 1, { query: '?current=true' })
  const old = await takeLock(app, url)
  await app.inject({ method: 'DELETE', url: `${url}/lock?force=true&reason=stuck` })
  const headers = { 'lock-id': old.id }
  const refusals = [
    await postSnapshot(app, url, sampleSnapshot(2), { headers }),
    await app.inject({ method: 'PUT', url: `${url}/current`, headers, payload: { rev: r1 } }),
    await app.inject({ method: 'DELETE', url: `${url}/snapshots/${r1}?force=true`, headers }),
    await app.inject({ method: 'POST', url: `${url}/snapshots:gc`, headers, payload: { keep: 0 } }),
  ]
  for (const res of refusals) assertProblem(t, res, 423, 'lock-lost')
  // Still lost once someone else holds the stack.
  await takeLock(app, url, { who: 'next' })
  assertProblem(t, await postSnapshot(app, url, sampleSnapshot(3), { headers }), 423, 'lock-lost')
  t.strictSame(await revsOf(app, url), [r1])
})

t.test("an expired lease frees the stack and the old holder's writes are refused with 423 lock-lost", async (t) => {
  const clock = new ManualClock('2026-07-10T12:00:00Z')
  const { app } = await buildTestApp(t, { clock })
  const url = stackUrl()
  const old = await takeLock(app, url, { ttl: 1 })
  const before = await writeRev(app, url, 'in-lease', { headers: { 'lock-id': old.id } })
  clock.advanceMs(2000)
  assertProblem(t, await app.inject({ method: 'GET', url: `${url}/lock` }), 404, 'not-locked')
  assertProblem(
    t,
    await postSnapshot(app, url, sampleSnapshot('late'), { headers: { 'lock-id': old.id } }),
    423,
    'lock-lost',
  )
  assertProblem(
    t,
    await app.inject({ method: 'PUT', url: `${url}/lock`, payload: { id: old.id, ttl: 60 } }),
    423,
    'lock-lost',
  )
  t.strictSame(await revsOf(app, url), [before], 'the late write was not applied')
  const next = await takeLock(app, url, { who: 'next' })
  t.ok(next.generation > old.generation)
  assertProblem(
    t,
    await postSnapshot(app, url, sampleSnapshot('later'), { headers: { 'lock-id': old.id } }),
    423,
    'lock-lost',
  )
})

t.test('with requireLock a mutation without a lock answers 428 lock-required', async (t) => {
  const { app } = await buildTestApp(t, { requireLock: true })
  const url = stackUrl()
  assertProblem(t, await postSnapshot(app, url, sampleSnapshot(1)), 428, 'lock-required')
  t.strictSame(await revsOf(app, url), [])
  const holder = await takeLock(app, url)
  const res = await postSnapshot(app, url, sampleSnapshot(1), {
    headers: { 'lock-id': holder.id },
    query: '?current=true',
  })
  t.equal(res.statusCode, 201)
  const rev = (res.json() as { rev: string }).rev
  await app.inject({ method: 'DELETE', url: `${url}/lock?id=${holder.id}` })
  assertProblem(t, await app.inject({ method: 'PUT', url: `${url}/current`, payload: { rev } }), 428, 'lock-required')
  assertProblem(
    t,
    await app.inject({ method: 'DELETE', url: `${url}/snapshots/${rev}?force=true` }),
    428,
    'lock-required',
  )
  assertProblem(
    t,
    await app.inject({ method: 'POST', url: `${url}/snapshots:gc`, payload: { keep: 0 } }),
    428,
    'lock-required',
  )
  t.strictSame(await revsOf(app, url), [rev])
})

// --- waiting and shutdown ---------------------------------------------------------

t.test('POST lock with wait on a lock that stays held answers 423 wait-timeout', async (t) => {
  // maxWaitSeconds is a whole number in the config; the app takes any number, so the test waits 200 ms, not seconds.
  const { app } = await buildTestApp(t, { maxWaitSeconds: 0.2 })
  const url = stackUrl()
  const holder = await takeLock(app, url, { who: 'holder' })
  const res = await app.inject({ method: 'POST', url: `${url}/lock?wait=1`, payload: { who: 'waiter' } })
  const problem = assertProblem(t, res, 423, 'wait-timeout')
  t.equal((problem.holder as Holder).id, holder.id)
  const still = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal((still.json() as Holder).id, holder.id)
})

t.test('POST lock with wait gets the lock once the holder unlocks', async (t) => {
  const { app } = await buildTestApp(t, { maxWaitSeconds: 30 })
  const url = stackUrl()
  const holder = await takeLock(app, url, { who: 'holder' })
  const waiting = app.inject({ method: 'POST', url: `${url}/lock?wait=30`, payload: { who: 'waiter' } })
  const unlock = await app.inject({ method: 'DELETE', url: `${url}/lock?id=${holder.id}` })
  t.equal(unlock.statusCode, 200)
  const res = await waiting
  t.equal(res.statusCode, 201)
  t.equal((res.json() as Holder).who, 'waiter')
  t.ok((res.json() as Holder).generation > holder.generation)
})

t.test('shutdown ends a pending wait with 503 shutting-down and Retry-After, and readiness turns false', async (t) => {
  const { app, beginShutdown } = await buildTestApp(t, { maxWaitSeconds: 30 })
  const url = stackUrl()
  const holder = await takeLock(app, url)
  const waiting = app.inject({ method: 'POST', url: `${url}/lock?wait=30`, payload: { who: 'waiter' } })
  // Let the waiter start waiting; the answer is the same if shutdown wins the race.
  await new Promise((resolve) => setTimeout(resolve, 50))
  beginShutdown()
  const res = await waiting
  assertProblem(t, res, 503, 'shutting-down')
  t.ok(res.headers['retry-after'], 'Retry-After is set')
  t.match(String(res.headers['retry-after']), /^\d+$/)
  const still = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal((still.json() as Holder).id, holder.id, 'the held lock survives')
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 503)
})

// --- audit ----------------------------------------------------------------------

t.test('every mutation is audited with principal, remote and request id', async (t) => {
  const { app, url, events } = await ownStack()
  const responses: LightMyRequestResponse[] = []
  const record = async (p: Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> => {
    const res = await p
    if (res.statusCode >= 300) throw new Error(`unexpected ${res.statusCode}: ${res.body}`)
    responses.push(res)
    return res
  }
  const r1 = ((await record(postSnapshot(app, url, sampleSnapshot(1)))).json() as { rev: string }).rev
  const r2 = ((await record(postSnapshot(app, url, sampleSnapshot(2)))).json() as { rev: string }).rev
  await record(app.inject({ method: 'PUT', url: `${url}/current`, payload: { rev: r2 } }))
  const holder = (
    await record(app.inject({ method: 'POST', url: `${url}/lock`, payload: { ttl: 60 } }))
  ).json() as Holder
  await record(app.inject({ method: 'PUT', url: `${url}/lock`, payload: { id: holder.id, ttl: 120 } }))
  await record(app.inject({ method: 'DELETE', url: `${url}/snapshots/${r1}`, headers: { 'lock-id': holder.id } }))
  await record(
    app.inject({ method: 'POST', url: `${url}/snapshots:gc`, headers: { 'lock-id': holder.id }, payload: { keep: 5 } }),
  )
  await record(app.inject({ method: 'DELETE', url: `${url}/lock?id=${holder.id}` }))
  await record(app.inject({ method: 'POST', url: `${url}/lock` }))
  await record(app.inject({ method: 'DELETE', url: `${url}/lock?force=true&reason=audit` }))

  t.strictSame(
    events().map((e) => e.action),
    [
      'snapshot.write',
      'snapshot.write',
      'current.set',
      'lock.acquire',
      'lock.renew',
      'snapshot.delete',
      'snapshot.gc',
      'lock.release',
      'lock.acquire',
      'lock.force-unlock',
    ],
  )
  t.equal(events().length, responses.length)
  events().forEach((event, i) => {
    t.equal(event.principal, 'anonymous', `${event.action} principal`)
    t.equal(event.remote, '127.0.0.1', `${event.action} remote`)
    t.equal(event.requestId, responses[i]?.headers['x-request-id'], `${event.action} request id`)
    t.equal(event.factory, 'f1')
    t.equal(`/v1/factories/${event.factory}/stacks/${event.stack}`, url)
  })
  t.equal(events()[0]?.rev, r1)
  t.equal(events()[2]?.rev, r2)
  t.equal(events()[5]?.lockId, holder.id)
})

t.test('refused mutations are not audited as done', async (t) => {
  const { app, url, events } = await ownStack()
  await takeLock(app, url)
  const before = events().length
  assertProblem(t, await postSnapshot(app, url, sampleSnapshot(1)), 423, 'locked')
  assertProblem(
    t,
    await postSnapshot(app, url, Buffer.from('{"format-version":2}'), { headers: {} }),
    422,
    'invalid-snapshot',
  )
  t.equal(events().length, before)
})

// --- problems, routes and health ----------------------------------------------------

t.test('every problem body carries type, title, status, code, detail and instance', async (t) => {
  const { app, url } = await ownStack()
  const res = await app.inject({ method: 'GET', url: `${url}/snapshots/2020-01-01T00:00:00Z?x=1` })
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

t.test('discovery reports a broken stack with its error code instead of failing the whole list', async (t) => {
  const { app, dir } = await buildTestApp(t)
  const good = await app.inject({
    method: 'POST',
    url: `${stackUrl('disc', 'good')}/snapshots?current=true`,
    payload: sampleSnapshot(1),
  })
  t.equal(good.statusCode, 201)
  const bad = await app.inject({
    method: 'POST',
    url: `${stackUrl('disc', 'bad')}/snapshots?current=true`,
    payload: sampleSnapshot(2),
  })
  t.equal(bad.statusCode, 201)
  await writeFile(join(dir, 'disc', 'bad', 'current'), 'not a rev\n')
  const res = await app.inject({ method: 'GET', url: '/v1/factories/disc/stacks' })
  t.equal(res.statusCode, 200)
  const stacks = (res.json() as { stacks: Array<{ name: string; error: string | null; current: string | null }> })
    .stacks
  t.same(
    stacks.map((s) => [s.name, s.error]),
    [
      ['bad', 'unreadable-snapshot'],
      ['good', null],
    ],
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
