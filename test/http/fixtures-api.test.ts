/**
 * Trees written by the Go tool, served through the API: every rev and the
 * current snapshot come back as the exact plaintext Go sealed, the list is in
 * Go's order, and a legacy Go lock marker (`<pid>\n`) shows as a holder and
 * fences writes until it is force-unlocked.
 */
import { cpSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { ENV_KEY_REVS, FIXTURES, fixture, fixtureKeyring, sampleSnapshot } from '../helpers/store.js'

const ENV_KEY_CURRENT = '2026-07-10T12:00:01.00012Z'
const NOOP_REVS = ['2026-07-10T12:00:00Z', '2026-07-10T12:00:00Z_1']

/** A testdir holding a copy of the fixture store `name` (tests never write into the repo). */
function copyStore(t: Test, name: 'env-key' | 'noop'): string {
  const dir = t.testdir()
  cpSync(join(FIXTURES, name, 'store'), dir, { recursive: true })
  return dir
}

type Built = Awaited<ReturnType<typeof buildTestApp>>
const shared: Partial<Record<'env-key' | 'noop', Promise<Built>>> = {}
let sharedDir: string | undefined

/** One app per fixture tree for the tests that only read it (building an app costs more than the test). */
function readOnly(name: 'env-key' | 'noop'): Promise<Built> {
  sharedDir ??= t.testdir() // one testdir for the file: calling testdir() twice on one test would reuse (and clear) it
  const dir = join(sharedDir, name)
  if (!shared[name]) cpSync(join(FIXTURES, name, 'store'), dir, { recursive: true })
  shared[name] ??= buildTestApp(t, { dir, ...(name === 'env-key' ? { encrypter: fixtureKeyring() } : {}) })
  return shared[name]
}

t.test('every env-key rev reads back as the exact plaintext Go sealed', async (t) => {
  const { app } = await readOnly('env-key')
  const url = stackUrl('cluster-deploy', 'prod-east')
  const plaintexts = readdirSync(join(FIXTURES, 'env-key', 'plaintext', 'cluster-deploy', 'prod-east'))
    .map((n) => n.replace(/\.json$/, ''))
    .sort()
  t.strictSame(plaintexts, [...ENV_KEY_REVS].sort(), 'one plaintext per rev')
  for (const rev of ENV_KEY_REVS) {
    const res = await app.inject({ method: 'GET', url: `${url}/snapshots/${rev}` })
    t.equal(res.statusCode, 200, rev)
    t.equal(res.headers.etag, `"${rev}"`)
    t.ok(
      res.rawPayload.equals(fixture('env-key', 'plaintext', 'cluster-deploy', 'prod-east', `${rev}.json`)),
      `${rev}: bytes equal the plaintext`,
    )
  }
})

t.test("the env-key current reads back as its rev's plaintext", async (t) => {
  const { app } = await readOnly('env-key')
  const res = await app.inject({ method: 'GET', url: `${stackUrl('cluster-deploy', 'prod-east')}/current` })
  t.equal(res.statusCode, 200)
  t.equal(res.headers.etag, `"${ENV_KEY_CURRENT}"`)
  t.ok(res.rawPayload.equals(fixture('env-key', 'plaintext', 'cluster-deploy', 'prod-east', `${ENV_KEY_CURRENT}.json`)))
})

t.test("the env-key list is in Go's order with current marked", async (t) => {
  const { app } = await readOnly('env-key')
  const res = await app.inject({ method: 'GET', url: `${stackUrl('cluster-deploy', 'prod-east')}/snapshots` })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { revs: ENV_KEY_REVS, current: ENV_KEY_CURRENT, next: null })
})

t.test('discovery shows the Go-written stacks', async (t) => {
  const { app } = await readOnly('env-key')
  const factories = await app.inject({ method: 'GET', url: '/v1/factories' })
  t.strictSame(factories.json(), { factories: [{ name: 'cluster-deploy', stacks: 1 }], next: null })
  const stacks = await app.inject({ method: 'GET', url: '/v1/factories/cluster-deploy/stacks' })
  t.strictSame(stacks.json(), {
    factory: 'cluster-deploy',
    stacks: [{ name: 'prod-east', current: ENV_KEY_CURRENT, revs: 5, lock: null, error: null }],
    next: null,
  })
})

t.test("a write next to Go's revs sorts after all of them and reads back", async (t) => {
  const { app } = await buildTestApp(t, { dir: copyStore(t, 'env-key'), encrypter: fixtureKeyring() })
  const url = stackUrl('cluster-deploy', 'prod-east')
  const body = sampleSnapshot('after-go')
  const res = await app.inject({
    method: 'POST',
    url: `${url}/snapshots`,
    headers: { 'content-type': 'application/json' },
    payload: body,
  })
  t.equal(res.statusCode, 201)
  const { rev } = res.json() as { rev: string }
  const list = await app.inject({ method: 'GET', url: `${url}/snapshots` })
  t.strictSame((list.json() as { revs: string[] }).revs, [...ENV_KEY_REVS, rev])
  const got = await app.inject({ method: 'GET', url: `${url}/snapshots/${rev}` })
  t.ok(got.rawPayload.equals(body))
})

t.test('every noop rev and current read back as the exact plaintext', async (t) => {
  const { app } = await readOnly('noop')
  const url = stackUrl('cluster-deploy', 'dev')
  const list = await app.inject({ method: 'GET', url: `${url}/snapshots` })
  t.strictSame(list.json(), { revs: NOOP_REVS, current: '2026-07-10T12:00:00Z_1', next: null })
  for (const rev of NOOP_REVS) {
    const res = await app.inject({ method: 'GET', url: `${url}/snapshots/${rev}` })
    t.equal(res.statusCode, 200, rev)
    t.ok(
      res.rawPayload.equals(fixture('noop', 'plaintext', 'cluster-deploy', 'dev', `${rev}.json`)),
      `${rev}: bytes equal the plaintext`,
    )
  }
  const current = await app.inject({ method: 'GET', url: `${url}/current` })
  t.ok(current.rawPayload.equals(fixture('noop', 'plaintext', 'cluster-deploy', 'dev', '2026-07-10T12:00:00Z_1.json')))
})

t.test("the Go tool's lock marker shows as a legacy holder with pid 4242", async (t) => {
  const { app } = await readOnly('noop')
  const url = stackUrl('cluster-deploy', 'dev')
  const res = await app.inject({ method: 'GET', url: `${url}/lock` })
  t.equal(res.statusCode, 200)
  const holder = res.json() as { pid: number; legacy: boolean; expires: string | null; id: string }
  t.equal(holder.pid, 4242)
  t.equal(holder.legacy, true)
  t.equal(holder.expires, null, 'a Go lock never expires by itself')
  const stacks = await app.inject({ method: 'GET', url: '/v1/factories/cluster-deploy/stacks' })
  t.equal((stacks.json() as { stacks: Array<{ lock: { pid: number } | null }> }).stacks[0]?.lock?.pid, 4242)
})

t.test("the Go tool's lock blocks writes with 423 until force-unlocked", async (t) => {
  const { app, audit } = await buildTestApp(t, { dir: copyStore(t, 'noop') })
  const url = stackUrl('cluster-deploy', 'dev')
  const legacy = (await app.inject({ method: 'GET', url: `${url}/lock` })).json() as { id: string }
  const write = () =>
    app.inject({
      method: 'POST',
      url: `${url}/snapshots`,
      headers: { 'content-type': 'application/json' },
      payload: sampleSnapshot('post-go'),
    })

  const refused = [
    await write(),
    await app.inject({ method: 'PUT', url: `${url}/current`, payload: { rev: NOOP_REVS[0] } }),
    await app.inject({ method: 'DELETE', url: `${url}/snapshots/${NOOP_REVS[0]}` }),
    await app.inject({ method: 'POST', url: `${url}/snapshots:gc`, payload: { keep: 0 } }),
    // Presenting the legacy holder's id does not make a Go lock ours.
    await app.inject({
      method: 'POST',
      url: `${url}/snapshots`,
      headers: { 'content-type': 'application/json', 'lock-id': legacy.id },
      payload: sampleSnapshot('x'),
    }),
  ]
  for (const res of refused) {
    t.equal(res.statusCode, 423)
    t.equal((res.json() as { code: string }).code, 'locked')
    t.equal((res.json() as { holder?: { pid: number } }).holder?.pid, 4242)
  }
  const taken = await app.inject({ method: 'POST', url: `${url}/lock`, payload: { who: 'server' } })
  t.equal(taken.statusCode, 423, 'the lock cannot be taken over while Go holds it')

  const forced = await app.inject({
    method: 'DELETE',
    url: `${url}/lock?force=true&reason=${encodeURIComponent('go job gone')}`,
  })
  t.equal(forced.statusCode, 200)
  const answer = forced.json() as { released: { pid: number; legacy: boolean }; forced: boolean }
  t.equal(answer.forced, true)
  t.equal(answer.released.pid, 4242)
  t.equal(answer.released.legacy, true)
  t.equal(audit.events.find((e) => e.action === 'lock.force-unlock')?.detail?.reason, 'go job gone')

  const after = await write()
  t.equal(after.statusCode, 201)
  const list = await app.inject({ method: 'GET', url: `${url}/snapshots` })
  t.equal((list.json() as { revs: string[] }).revs.length, 3)
})

t.test("the Go tool's lock cannot be renewed into a server lock", async (t) => {
  const dir = copyStore(t, 'noop')
  const { app } = await buildTestApp(t, { dir })
  const url = stackUrl('cluster-deploy', 'dev')
  const marker = (): string => {
    try {
      return readFileSync(join(dir, 'cluster-deploy', 'dev', 'lock'), 'utf8')
    } catch {
      return '<absent>'
    }
  }
  const legacy = (await app.inject({ method: 'GET', url: `${url}/lock` })).json() as { id: string }
  // The legacy id is public (GET lock shows it); renewing with it must not adopt the Go process's lock.
  const renew = await app.inject({ method: 'PUT', url: `${url}/lock`, payload: { id: legacy.id, ttl: 1 } })
  t.equal(renew.statusCode, 423)
  t.equal((renew.json() as { code: string }).code, 'locked')
  t.equal(marker(), '4242\n', 'the Go marker is untouched')
  const write = await app.inject({
    method: 'POST',
    url: `${url}/snapshots`,
    headers: { 'content-type': 'application/json', 'lock-id': legacy.id },
    payload: sampleSnapshot('adopted'),
  })
  t.equal(write.statusCode, 423, 'the legacy id still does not pass the fence')
  const unlock = await app.inject({ method: 'DELETE', url: `${url}/lock?id=${legacy.id}` })
  t.equal(unlock.statusCode, 423, 'only force-unlock removes a Go lock')
  t.equal(marker(), '4242\n')
})
