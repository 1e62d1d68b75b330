import t from 'tap'
import { createDecipheriv } from 'node:crypto'
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { type Clock, SystemClock } from '../../src/clock.js'
import type { Encrypter } from '../../src/crypto/encrypter.js'
import { Keyring } from '../../src/crypto/keyring.js'
import { keyFromEnv } from '../../src/crypto/keys.js'
import { isStateError } from '../../src/errors.js'
import { type FsOps, nodeFs } from '../../src/fs/fs-ops.js'
import { decodeEnvelope, encodeEnvelope } from '../../src/store/envelope.js'
import type { LocalStore } from '../../src/store/stack/local-store.js'
import type { StoreRoot } from '../../src/store/store-root.js'
import { ManualClock } from '../helpers/clock.js'
import { type FaultCode, FaultyFs, type FaultyMethod } from '../helpers/faulty-fs.js'
import { FIXTURES, FIXTURE_KEY, fixture, fixtureKeyring, makeRoot, sampleSnapshot } from '../helpers/store.js'

// --- helpers ---------------------------------------------------------------

/** What the helpers need of a tap test. */
interface TapLike {
  testdir(): string
  teardown(fn: () => unknown): void
}

interface Ctx {
  readonly dir: string
  readonly stackDir: string
  readonly snapshots: string
  readonly root: StoreRoot
  readonly store: LocalStore
  readonly clock: ManualClock
  readonly fs: FaultyFs
}

interface SetupOptions {
  readonly encrypter?: Encrypter
  readonly clock?: Clock
  readonly tree?: 'env-key' | 'noop'
  readonly pollMs?: number
}

const FACTORY = 'cluster-deploy'
const STACKS = { 'env-key': 'prod-east', noop: 'dev' } as const
const STATE = { payloadType: 'state' } as const
const T0 = '2026-07-10T12:00:00Z'

/** Copies a Go fixture tree into `dir` and makes it writable (the fixtures are read-only). */
function copyTree(tree: 'env-key' | 'noop', dir: string): void {
  cpSync(join(FIXTURES, tree, 'store'), dir, { recursive: true })
  const writable = (path: string): void => {
    if (lstatSync(path).isDirectory()) {
      chmodSync(path, 0o755)
      for (const name of readdirSync(path)) writable(join(path, name))
    } else {
      chmodSync(path, 0o644)
    }
  }
  writable(dir)
}

/** A store over a fresh testdir (or a copy of a Go tree), with a FaultyFs that records calls and a frozen clock. */
function setup(t: TapLike, options: SetupOptions = {}): Ctx {
  const dir = t.testdir()
  if (options.tree !== undefined) copyTree(options.tree, dir)
  const stack = options.tree === undefined ? 'dev' : STACKS[options.tree]
  const clock = new ManualClock(T0)
  const fs = new FaultyFs()
  const root = makeRoot(dir, {
    encrypter: options.encrypter ?? (options.tree === 'env-key' ? fixtureKeyring() : undefined),
    clock: options.clock ?? clock,
    fs,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
  })
  t.teardown(() => root.close())
  const stackDir = join(dir, FACTORY, stack)
  return { dir, stackDir, snapshots: join(stackDir, 'snapshots'), root, store: root.stack(FACTORY, stack), clock, fs }
}

/** The code of what `promise` rejects with ('resolved' when it does not). */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'resolved'
  } catch (err) {
    return isStateError(err) ? err.code : `not a StateError: ${String(err)}`
  }
}

/** Every file under `dir` with its content (symlinks by target), `.mutex` excluded. */
function fileTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (rel: string): void => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`
      if (entry.name === '.mutex') continue
      if (entry.isSymbolicLink()) out[path] = `-> ${readlinkSync(join(dir, path))}`
      else if (entry.isDirectory()) {
        out[`${path}/`] = 'dir'
        walk(path)
      } else out[path] = readFileSync(join(dir, path)).toString('base64')
    }
  }
  if (existsSync(dir)) walk('')
  return out
}

/** Temp files left in the stack directory or its snapshots. */
function temps(ctx: Ctx): string[] {
  return [ctx.stackDir, ctx.snapshots].flatMap((d) =>
    existsSync(d) ? readdirSync(d).filter((n) => n.startsWith('.tmp-')) : [],
  )
}

/** What a client sees of a stack: revs, current (or its error code) and the lock holder's id. */
async function visible(store: LocalStore): Promise<{ list: string[]; current: string; lock: string | null }> {
  const current = await store.currentRev().catch((err: unknown) => `<${isStateError(err) ? err.code : String(err)}>`)
  return { list: await store.list(), current, lock: (await store.inspectLock())?.id ?? null }
}

/** Waits (without a deadline: tap's timeout bounds it) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await delay(2)
}

/** Writes `count` revs with the frozen clock; returns them in write order. */
async function writeRevs(store: LocalStore, count: number): Promise<string[]> {
  const revs: string[] = []
  for (let i = 0; i < count; i++) revs.push((await store.write(sampleSnapshot(i), STATE)).rev)
  return revs
}

// --- Go fixture trees ------------------------------------------------------

const ENV_KEY_REVS = [
  '2026-07-10T12:00:00Z',
  '2026-07-10T12:00:00Z_1',
  '2026-07-10T12:00:00.1Z',
  '2026-07-10T12:00:01.00012Z',
  '2026-07-10T12:00:02.000000005Z',
]

t.test('every rev of the Go env-key tree reads back as its plaintext fixture', async (t) => {
  const { store } = setup(t, { tree: 'env-key' })
  const revs = await store.list()
  t.same(revs, ENV_KEY_REVS)
  for (const rev of revs) {
    const snapshot = await store.get(rev)
    t.equal(snapshot.rev, rev)
    t.equal(snapshot.payloadType, 'state')
    t.ok(snapshot.body.equals(fixture('env-key/plaintext/cluster-deploy/prod-east', `${rev}.json`)), rev)
  }
})

t.test('current of the Go env-key tree is the rev its current file names', async (t) => {
  const { store } = setup(t, { tree: 'env-key' })
  t.equal(await store.currentRev(), '2026-07-10T12:00:01.00012Z')
  const current = await store.current()
  t.equal(current.rev, '2026-07-10T12:00:01.00012Z')
  t.ok(current.body.equals(fixture('env-key/plaintext/cluster-deploy/prod-east/2026-07-10T12:00:01.00012Z.json')))
})

t.test('every rev of the Go noop tree reads back as its plaintext fixture, in rev order', async (t) => {
  const { store } = setup(t, { tree: 'noop' })
  const revs = await store.list()
  t.same(revs, ['2026-07-10T12:00:00Z', '2026-07-10T12:00:00Z_1'])
  for (const rev of revs)
    t.ok((await store.get(rev)).body.equals(fixture('noop/plaintext/cluster-deploy/dev', `${rev}.json`)), rev)
  t.equal(`${await store.currentRev()}\n`, fixture('noop/store/cluster-deploy/dev/current').toString('utf8'))
  t.ok(
    (await store.current()).body.equals(
      fixture('noop/plaintext/cluster-deploy/dev', `${await store.currentRev()}.json`),
    ),
  )
})

t.test('a write into a Go tree sorts after the Go revs even with an earlier clock', async (t) => {
  const { store } = setup(t, { tree: 'env-key' })
  const rev = (await store.write(sampleSnapshot(), STATE)).rev
  t.equal(rev, '2026-07-10T12:00:02.000000005Z_1')
  t.same(await store.list(), [...ENV_KEY_REVS, rev])
})

// --- write, current, get ---------------------------------------------------

t.test('write stores a new rev without moving current', async (t) => {
  const { store } = setup(t)
  const first = (await store.write(sampleSnapshot(1), STATE)).rev
  t.equal(await codeOf(store.currentRev()), 'no-current')
  await store.setCurrent(first)
  const second = (await store.write(sampleSnapshot(2), STATE)).rev
  t.same(await store.list(), [first, second])
  t.equal(await store.currentRev(), first)
  t.ok((await store.get(second)).body.equals(sampleSnapshot(2)))
})

t.test('write with makeCurrent moves current to the new rev', async (t) => {
  const { store, stackDir } = setup(t)
  const first = (await store.write(sampleSnapshot(1), { ...STATE, makeCurrent: true })).rev
  t.equal(await store.currentRev(), first)
  const second = (await store.write(sampleSnapshot(2), { ...STATE, makeCurrent: true })).rev
  t.equal(await store.currentRev(), second)
  t.equal(readFileSync(join(stackDir, 'current'), 'utf8'), `${second}\n`)
  t.ok((await store.current()).body.equals(sampleSnapshot(2)))
})

t.test('setCurrent moves current and reports the previous rev', async (t) => {
  const { store } = setup(t)
  const [a, b] = await writeRevs(store, 2)
  t.same(await store.setCurrent(a!), { previous: null })
  t.same(await store.setCurrent(b!), { previous: a })
  t.same(await store.setCurrent(a!), { previous: b }, 'rolling back to an older rev')
  t.equal(await store.currentRev(), a)
})

t.test('write refuses an invalid snapshot and changes nothing', async (t) => {
  const { store, dir } = setup(t)
  const invalid = Buffer.from(JSON.stringify({ 'format-version': 2, entries: [] }))
  t.equal(await codeOf(store.write(invalid, STATE)), 'invalid-snapshot', 'on a fresh stack')
  t.same(readdirSync(dir), [], 'not even the stack directory was created')
  const rev = (await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })).rev
  const before = fileTree(dir)
  t.equal(await codeOf(store.write(invalid, { ...STATE, makeCurrent: true })), 'invalid-snapshot')
  t.equal(await codeOf(store.write(Buffer.from('{"format-version":'), STATE)), 'malformed-json')
  t.same(fileTree(dir), before)
  t.same(await store.list(), [rev])
})

t.test('write stores a terraform-state body byte-exact without unobin validation', async (t) => {
  const { store } = setup(t, { encrypter: fixtureKeyring() })
  const body = Buffer.from('{"version":4,"serial":1,"lineage":"x"}  \n')
  const rev = (await store.write(body, { payloadType: 'terraform-state' })).rev
  const snapshot = await store.get(rev)
  t.equal(snapshot.payloadType, 'terraform-state')
  t.ok(snapshot.body.equals(body))
})

t.test('what write produced has exactly the Go envelope shape and opens with the key', async (t) => {
  const { store, snapshots } = setup(t, { encrypter: fixtureKeyring() })
  const body = sampleSnapshot('go-shape')
  const rev = (await store.write(body, STATE)).rev
  const path = join(snapshots, `${rev}.json.enc`)
  const text = readFileSync(path, 'utf8')
  const doc = JSON.parse(text) as {
    'envelope-version': number
    'payload-type': string
    encrypter: unknown
    ciphertext: string
  }
  t.same(Object.keys(doc), ['envelope-version', 'payload-type', 'encrypter', 'ciphertext'])
  t.equal(doc['envelope-version'], 1)
  t.equal(doc['payload-type'], 'state')
  t.same(doc.encrypter, { name: 'env-key', body: { 'env-var': 'UNOBIN_STATE_KEY' } })
  t.equal(text, `${JSON.stringify(doc, null, 2)}\n`, 'two-space indent and a trailing newline')
  t.match(doc.ciphertext, /^[A-Za-z0-9+/]+={0,2}$/)
  t.equal(doc.ciphertext.length % 4, 0, 'padded')
  const raw = Buffer.from(doc.ciphertext, 'base64')
  t.equal(raw.toString('base64'), doc.ciphertext)
  t.equal(raw.length, body.length + 12 + 16, 'nonce 12 and tag 16')
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(FIXTURE_KEY, 'base64'), raw.subarray(0, 12), {
    authTagLength: 16,
  })
  decipher.setAuthTag(raw.subarray(raw.length - 16))
  t.ok(Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).equals(body))
  t.equal(statSync(path).mode & 0o777, 0o600, 'readable by the owner only, as Go writes it')
  t.ok(encodeEnvelope(decodeEnvelope(Buffer.from(text))).equals(Buffer.from(text)))
})

t.test('get of a rev that is not stored is rev-not-found', async (t) => {
  const { store } = setup(t)
  t.equal(await codeOf(store.get(T0)), 'rev-not-found', 'on a fresh stack')
  await store.write(sampleSnapshot(), STATE)
  t.equal(await codeOf(store.get('2026-07-10T12:00:00Z_9')), 'rev-not-found')
})

// --- no current, dangling, unreadable ---------------------------------------

t.test('a fresh stack has no current', async (t) => {
  const { store } = setup(t)
  t.equal(await codeOf(store.currentRev()), 'no-current')
  t.equal(await codeOf(store.current()), 'no-current')
  t.same(await store.list(), [])
})

t.test('a stack whose current file is empty has no current, as in Go', async (t) => {
  const { store, stackDir } = setup(t)
  await store.write(sampleSnapshot(), STATE)
  writeFileSync(join(stackDir, 'current'), '\n')
  t.equal(await codeOf(store.current()), 'no-current')
})

t.test('after a forced delete of the current rev the stack has no current', async (t) => {
  const { store } = setup(t)
  const rev = (await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })).rev
  t.same(await store.delete(rev, { force: true }), { deleted: true, clearedCurrent: true })
  t.equal(await codeOf(store.current()), 'no-current')
  t.equal(await codeOf(store.currentRev()), 'no-current')
})

t.test('current naming a rev that is not stored is dangling-current', async (t) => {
  const { store, stackDir } = setup(t)
  await store.write(sampleSnapshot(), STATE)
  writeFileSync(join(stackDir, 'current'), '2026-07-10T13:00:00Z\n')
  t.equal(await codeOf(store.current()), 'dangling-current')
  await t.rejects(store.current(), {
    code: 'dangling-current',
    details: { factory: FACTORY, stack: 'dev', rev: '2026-07-10T13:00:00Z' },
  })
})

t.test('current naming a rev whose snapshots directory is gone is dangling-current', async (t) => {
  const { dir, stackDir } = setup(t)
  mkdirSync(stackDir, { recursive: true })
  writeFileSync(join(stackDir, 'current'), `${T0}\n`)
  const store = makeRoot(dir).stack(FACTORY, 'dev')
  t.equal(await codeOf(store.current()), 'dangling-current')
})

t.test('a truncated envelope is unreadable-snapshot, never no-current', async (t) => {
  const { store, snapshots } = setup(t, { encrypter: fixtureKeyring() })
  const rev = (await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })).rev
  const path = join(snapshots, `${rev}.json.enc`)
  const original = readFileSync(path)
  for (const length of [0, 1, 100, original.length - 5]) {
    writeFileSync(path, original.subarray(0, length))
    t.equal(await codeOf(store.current()), 'unreadable-snapshot', `${length} bytes`)
    t.equal(await codeOf(store.get(rev)), 'unreadable-snapshot', `${length} bytes`)
  }
  await t.rejects(store.current(), { code: 'unreadable-snapshot', details: { factory: FACTORY, stack: 'dev', rev } })
})

t.test('a bit-flipped ciphertext is unreadable-snapshot', async (t) => {
  const { store, snapshots } = setup(t, { encrypter: fixtureKeyring() })
  const rev = (await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })).rev
  const path = join(snapshots, `${rev}.json.enc`)
  const envelope = decodeEnvelope(readFileSync(path))
  const flipped = Buffer.from(envelope.ciphertext)
  flipped[20] = flipped[20]! ^ 0x10
  writeFileSync(path, encodeEnvelope({ ...envelope, ciphertext: flipped }))
  t.equal(await codeOf(store.current()), 'unreadable-snapshot')
  t.equal(await codeOf(store.get(rev)), 'unreadable-snapshot')
})

t.test('a Go tree opened with another key is unreadable-snapshot naming the sealing key', async (t) => {
  const wrong = new Keyring(
    keyFromEnv({ UNOBIN_STATE_KEY: Buffer.alloc(32, 'w').toString('base64') }, 'UNOBIN_STATE_KEY'),
  )
  const { store } = setup(t, { tree: 'env-key', encrypter: wrong })
  t.equal(await codeOf(store.current()), 'unreadable-snapshot')
  await t.rejects(store.get(ENV_KEY_REVS[0]!), {
    code: 'unreadable-snapshot',
    details: { sealedWith: 'env-key env-var UNOBIN_STATE_KEY', rev: ENV_KEY_REVS[0] },
  })
})

t.test('a noop store refuses env-key envelopes as unreadable-snapshot', async (t) => {
  const dir = t.testdir()
  copyTree('env-key', dir)
  const store = makeRoot(dir).stack(FACTORY, 'prod-east')
  t.equal(await codeOf(store.current()), 'unreadable-snapshot')
})

t.test('garbage in current is unreadable-snapshot', async (t) => {
  const { store, stackDir } = setup(t)
  await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })
  for (const garbage of ['not a rev\n', '../../etc/passwd\n', '2026-07-10T12:00:00.10Z\n', '\u0000\u0001\u0002']) {
    writeFileSync(join(stackDir, 'current'), garbage)
    t.equal(await codeOf(store.currentRev()), 'unreadable-snapshot', JSON.stringify(garbage))
    t.equal(await codeOf(store.current()), 'unreadable-snapshot', JSON.stringify(garbage))
  }
})

// --- setCurrent ------------------------------------------------------------

t.test('setCurrent refuses a rev that is not stored and leaves current', async (t) => {
  const { store } = setup(t)
  const rev = (await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })).rev
  t.equal(await codeOf(store.setCurrent('2026-07-10T13:00:00Z')), 'rev-not-found')
  t.equal(await store.currentRev(), rev)
  const fresh = setup(t).store
  t.equal(await codeOf(fresh.setCurrent(T0)), 'rev-not-found', 'on a fresh stack')
})

t.test('setCurrent refuses a rev that cannot be opened', async (t) => {
  const { store, snapshots } = setup(t)
  const [a, b] = await writeRevs(store, 2)
  await store.setCurrent(a!)
  writeFileSync(join(snapshots, `${b}.json.enc`), '{"envelope-')
  t.equal(await codeOf(store.setCurrent(b!)), 'unreadable-snapshot')
  t.equal(await store.currentRev(), a)
})

t.test('setCurrent with a mismatching ifMatch is current-mismatch and leaves current', async (t) => {
  const { store } = setup(t)
  const [a, b, c] = await writeRevs(store, 3)
  t.equal(
    await codeOf(store.setCurrent(a!, { ifMatch: b! })),
    'current-mismatch',
    'expects a current on a stack without one',
  )
  t.same(await store.setCurrent(a!, { ifMatch: null }), { previous: null }, 'null matches a stack without current')
  t.equal(await codeOf(store.setCurrent(b!, { ifMatch: c! })), 'current-mismatch')
  t.equal(await codeOf(store.setCurrent(b!, { ifMatch: null })), 'current-mismatch')
  await t.rejects(store.setCurrent(b!, { ifMatch: c! }), { code: 'current-mismatch', details: { current: a } })
  t.equal(await store.currentRev(), a)
  t.same(await store.setCurrent(b!, { ifMatch: a! }), { previous: a })
})

t.test('an invalid rev is invalid-rev before any filesystem access', async (t) => {
  const { store, fs } = setup(t)
  const hostile = ['../../x', '../../current', '..', 'snapshots/../current', '2026-07-10T12:00:00Z/../../x', '']
  for (const rev of hostile) {
    t.equal(await codeOf(store.get(rev)), 'invalid-rev', `get ${rev}`)
    t.equal(await codeOf(store.setCurrent(rev)), 'invalid-rev', `setCurrent ${rev}`)
    t.equal(await codeOf(store.delete(rev, { force: true })), 'invalid-rev', `delete ${rev}`)
  }
  t.same(fs.calls, [], 'no filesystem call was made for an invalid rev')
})

// --- delete and gc -----------------------------------------------------------

t.test('deleting an absent rev is not an error', async (t) => {
  const { store } = setup(t)
  t.same(await store.delete(T0), { deleted: false, clearedCurrent: false }, 'on a fresh stack')
  await store.write(sampleSnapshot(), STATE)
  t.same(await store.delete('2026-07-10T13:00:00Z'), { deleted: false, clearedCurrent: false })
})

t.test('delete removes a rev that is not current', async (t) => {
  const { store, snapshots } = setup(t)
  const [a, b] = await writeRevs(store, 2)
  await store.setCurrent(b!)
  t.same(await store.delete(a!), { deleted: true, clearedCurrent: false })
  t.same(await store.list(), [b])
  t.notOk(existsSync(join(snapshots, `${a}.json.enc`)))
  t.same(await store.delete(a!), { deleted: false, clearedCurrent: false }, 'a retry is not an error')
})

t.test('delete refuses the current rev unless forced', async (t) => {
  const { store } = setup(t)
  const rev = (await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })).rev
  t.equal(await codeOf(store.delete(rev)), 'rev-is-current')
  await t.rejects(store.delete(rev), { code: 'rev-is-current', details: { rev } })
  t.same(await store.list(), [rev])
  t.equal(await store.currentRev(), rev)
  t.same(await store.delete(rev, { force: true }), { deleted: true, clearedCurrent: true })
  t.same(await store.list(), [])
})

t.test('a forced delete of the rev a dangling current names clears current', async (t) => {
  const { store, stackDir } = setup(t)
  await store.write(sampleSnapshot(), STATE)
  writeFileSync(join(stackDir, 'current'), '2026-07-10T13:00:00Z\n')
  t.same(await store.delete('2026-07-10T13:00:00Z', { force: true }), { deleted: false, clearedCurrent: true })
  t.equal(await codeOf(store.current()), 'no-current')
})

t.test('gc keeps the newest N revs plus current', async (t) => {
  const { store } = setup(t)
  const revs = await writeRevs(store, 5)
  await store.setCurrent(revs[0]!)
  const result = await store.gc({ keep: 2 })
  t.same(result, { deleted: [revs[1], revs[2]], kept: [revs[0], revs[3], revs[4]] })
  t.same(await store.list(), [revs[0], revs[3], revs[4]])
  t.equal(await store.currentRev(), revs[0])
})

t.test('gc with keep 0 keeps only current', async (t) => {
  const { store } = setup(t)
  const revs = await writeRevs(store, 3)
  await store.setCurrent(revs[1]!)
  t.same(await store.gc({ keep: 0 }), { deleted: [revs[0], revs[2]], kept: [revs[1]] })
  t.same(await store.list(), [revs[1]])
})

t.test('gc dry run reports what it would delete and changes nothing', async (t) => {
  const { store, dir } = setup(t)
  const revs = await writeRevs(store, 4)
  await store.setCurrent(revs[3]!)
  const before = fileTree(dir)
  t.same(await store.gc({ keep: 1, dryRun: true }), { deleted: revs.slice(0, 3), kept: [revs[3]] })
  t.same(fileTree(dir), before)
})

t.test('gc never deletes names that are not revs', async (t) => {
  const { store, snapshots } = setup(t)
  const revs = await writeRevs(store, 2)
  writeFileSync(join(snapshots, 'notes.json.enc'), 'kept by the operator')
  const result = await store.gc({ keep: 0 })
  t.same(result.deleted, revs)
  t.same(await store.list(), ['notes'])
  t.ok(existsSync(join(snapshots, 'notes.json.enc')))
})

t.test('gc of a fresh stack deletes nothing', async (t) => {
  const { store } = setup(t)
  t.same(await store.gc({ keep: 1 }), { deleted: [], kept: [] })
})

// --- revs and the clock ------------------------------------------------------

t.test('five writes with a frozen clock give T, T_1 … T_4 in order', async (t) => {
  const { store } = setup(t)
  const revs = await writeRevs(store, 5)
  t.same(revs, [T0, `${T0}_1`, `${T0}_2`, `${T0}_3`, `${T0}_4`])
  t.same(await store.list(), revs)
  for (const [i, rev] of revs.entries()) t.ok((await store.get(rev)).body.equals(sampleSnapshot(i)), rev)
})

t.test('a write after the clock stepped back an hour still sorts last', async (t) => {
  const { store, clock } = setup(t)
  const written = [(await store.write(sampleSnapshot(1), STATE)).rev]
  clock.advanceMs(1500)
  written.push((await store.write(sampleSnapshot(2), STATE)).rev)
  t.equal(written[1], '2026-07-10T12:00:01.5Z')
  clock.advanceMs(-3_600_000)
  written.push((await store.write(sampleSnapshot(3), STATE)).rev)
  written.push((await store.write(sampleSnapshot(4), STATE)).rev)
  t.same(written.slice(2), ['2026-07-10T12:00:01.5Z_1', '2026-07-10T12:00:01.5Z_2'])
  clock.advanceMs(7_200_000)
  written.push((await store.write(sampleSnapshot(5), STATE)).rev)
  t.equal(written[4], '2026-07-10T13:00:01.5Z')
  t.same(await store.list(), written, 'list order equals write order')
})

t.test('writes in a tight loop with the system clock are listed in write order', async (t) => {
  const { store } = setup(t, { clock: new SystemClock() })
  const revs = await writeRevs(store, 8)
  t.equal(new Set(revs).size, 8)
  t.same(await store.list(), revs)
})

// --- temp files ----------------------------------------------------------------

t.test('old temp leftovers are removed on first use and never listed', async (t) => {
  const { dir, stackDir, snapshots } = setup(t)
  const rev = (await makeRoot(dir).stack(FACTORY, 'dev').write(sampleSnapshot(), STATE)).rev
  const old = new Date(Date.now() - 2 * 3_600_000)
  for (const path of [
    join(snapshots, '.tmp-crashed'),
    join(snapshots, '.tmp-crashed2.json.enc'),
    join(stackDir, '.tmp-lock-crashed'),
  ]) {
    writeFileSync(path, 'torn')
    utimesSync(path, old, old)
  }
  writeFileSync(join(snapshots, '.tmp-in-flight'), 'another process is writing this')
  const store = makeRoot(dir, { clock: new SystemClock() }).stack(FACTORY, 'dev')
  t.same(await store.list(), [rev])
  t.same(readdirSync(snapshots).sort(), ['.tmp-in-flight', `${rev}.json.enc`], 'old temps gone, a young one kept')
  t.notOk(existsSync(join(stackDir, '.tmp-lock-crashed')))
})

t.test('a dot file in snapshots is never listed as a rev', async (t) => {
  const { store, snapshots } = setup(t)
  const rev = (await store.write(sampleSnapshot(), STATE)).rev
  for (const name of ['.tmp-x', '.tmp-x.json.enc', `.${rev}.json.enc`, `.tmp-${T0}_5.json.enc`])
    writeFileSync(join(snapshots, name), 'x')
  mkdirSync(join(snapshots, `${T0}_7.json.enc`))
  t.same(await store.list(), [rev])
  t.equal((await store.write(sampleSnapshot(2), STATE)).rev, `${T0}_1`, 'dot files do not take part in naming either')
})

t.test('a successful write leaves no temp file behind', async (t) => {
  const ctx = setup(t)
  await writeRevs(ctx.store, 3)
  await ctx.store.setCurrent(T0)
  const lock = await ctx.store.lock({ who: 'ci' }, {})
  await ctx.store.unlock(lock.id)
  t.same(temps(ctx), [])
})

// --- symlinks ------------------------------------------------------------------

/** A root whose factory, stack or snapshots directory is a symlink to a Go tree outside the root. */
function symlinkedStack(t: TapLike, at: 'factory' | 'stack' | 'snapshots'): { store: LocalStore; outside: string } {
  const top = t.testdir()
  const outside = join(top, 'outside')
  const root = join(top, 'root')
  copyTree('noop', outside)
  mkdirSync(join(root, FACTORY, 'dev'), { recursive: true })
  const real = join(outside, FACTORY)
  if (at === 'factory') symlinkSync(real, join(root, 'linked'))
  if (at === 'stack') symlinkSync(join(real, 'dev'), join(root, FACTORY, 'linked'))
  if (at === 'snapshots') {
    mkdirSync(join(root, FACTORY, 'linked'))
    writeFileSync(join(root, FACTORY, 'linked', 'current'), `${T0}\n`)
    symlinkSync(join(real, 'dev', 'snapshots'), join(root, FACTORY, 'linked', 'snapshots'))
  }
  const storeRoot = makeRoot(root)
  return { store: at === 'factory' ? storeRoot.stack('linked', 'dev') : storeRoot.stack(FACTORY, 'linked'), outside }
}

for (const at of ['factory', 'stack', 'snapshots'] as const) {
  t.test(`a symlinked ${at} directory pointing outside the root is unsafe-path for every operation`, async (t) => {
    const { store, outside } = symlinkedStack(t, at)
    const before = fileTree(outside)
    const ops: Record<string, () => Promise<unknown>> = {
      list: () => store.list(),
      current: () => store.current(),
      get: () => store.get(T0),
      write: () => store.write(sampleSnapshot(), STATE),
      setCurrent: () => store.setCurrent(T0),
      delete: () => store.delete(T0, { force: true }),
      gc: () => store.gc({ keep: 0 }),
      lock: () => store.lock({ who: 'x' }, {}),
      forceUnlock: () => store.forceUnlock(),
    }
    if (at !== 'snapshots') {
      ops.currentRev = () => store.currentRev()
      ops.inspectLock = () => store.inspectLock()
    }
    for (const [name, op] of Object.entries(ops)) t.equal(await codeOf(op()), 'unsafe-path', name)
    t.same(fileTree(outside), before, 'nothing outside the root changed')
  })
}

t.test('a symlinked current is not followed', async (t) => {
  const { store, stackDir, dir } = setup(t)
  const rev = (await store.write(sampleSnapshot(), STATE)).rev
  writeFileSync(join(dir, 'elsewhere'), `${rev}\n`)
  symlinkSync(join(dir, 'elsewhere'), join(stackDir, 'current'))
  t.equal(await codeOf(store.currentRev()), 'unsafe-path')
  t.equal(await codeOf(store.current()), 'unsafe-path')
})

t.test('a symlinked snapshot file is not followed nor listed', async (t) => {
  const { store, snapshots, dir } = setup(t)
  const rev = (await store.write(sampleSnapshot(), STATE)).rev
  cpSync(join(snapshots, `${rev}.json.enc`), join(dir, 'elsewhere.json.enc'))
  symlinkSync(join(dir, 'elsewhere.json.enc'), join(snapshots, `${T0}_1.json.enc`))
  t.same(await store.list(), [rev])
  t.equal(await codeOf(store.get(`${T0}_1`)), 'unsafe-path')
})

t.test('a symlinked lock marker is not followed', async (t) => {
  const { store, stackDir, dir } = setup(t)
  await store.write(sampleSnapshot(), STATE)
  writeFileSync(join(dir, 'elsewhere'), '4242\n')
  symlinkSync(join(dir, 'elsewhere'), join(stackDir, 'lock'))
  t.equal(await codeOf(store.inspectLock()), 'unsafe-path')
  t.equal(await codeOf(store.lock({}, {})), 'unsafe-path')
})

// --- locks -----------------------------------------------------------------------

t.test('lock excludes a second holder', async (t) => {
  const { store } = setup(t)
  const holder = await store.lock(
    { who: 'ci-42', operation: 'apply', info: 'run 7' },
    { principal: 'token:ci', remote: '10.0.0.7' },
  )
  t.match(holder, {
    who: 'ci-42',
    operation: 'apply',
    info: 'run 7',
    principal: 'token:ci',
    remote: '10.0.0.7',
    created: T0,
    expires: null,
    pid: process.pid,
    host: 'test-host',
    generation: 1,
    legacy: false,
  })
  t.type(holder.id, 'string')
  await t.rejects(store.lock({ who: 'other' }, {}), {
    code: 'locked',
    details: {
      factory: FACTORY,
      stack: 'dev',
      holder: { id: holder.id, who: 'ci-42', operation: 'apply', created: T0, generation: 1 },
    },
  })
  t.same(await store.inspectLock(), holder)
})

t.test('a holder keeps the client facts it claimed', async (t) => {
  const { store } = setup(t)
  const client = {
    ID: 'tf-1',
    Operation: 'OperationTypeApply',
    Who: 'me@host',
    Version: '1.9.0',
    Created: '2026-07-10T12:00:00Z',
    Path: '',
  }
  const holder = await store.lock({ id: 'tf-1', client }, {})
  t.equal(holder.id, 'tf-1')
  t.same((await store.inspectLock())?.client, client)
})

t.test('a legacy Go marker reads as its pid and blocks until force-unlocked', async (t) => {
  const { store } = setup(t, { tree: 'noop' })
  const holder = await store.inspectLock()
  t.match(holder, { pid: 4242, legacy: true, created: null, expires: null })
  await t.rejects(store.lock({ who: 'me' }, {}), { code: 'locked', details: { holder: { pid: 4242, legacy: true } } })
  t.equal(await codeOf(store.unlock(holder!.id)), 'locked', 'a legacy marker cannot be unlocked by id')
  t.equal(
    await codeOf(store.write(sampleSnapshot(), { ...STATE, fence: { lockId: holder!.id } })),
    'locked',
    'nor used as a fence',
  )
  t.equal(await codeOf(store.write(sampleSnapshot(), STATE)), 'locked')
  const removed = await store.forceUnlock({ principal: 'ops', reason: 'Go run crashed' })
  t.equal(removed?.pid, 4242)
  t.equal(await store.inspectLock(), undefined)
  t.equal((await store.lock({ who: 'me' }, {})).generation, 2)
})

t.test('an empty lock file counts as held', async (t) => {
  const { store, stackDir } = setup(t)
  await store.write(sampleSnapshot(), STATE)
  writeFileSync(join(stackDir, 'lock'), '')
  t.match(await store.inspectLock(), { legacy: true, pid: null })
  t.equal(await codeOf(store.lock({}, {})), 'locked')
  t.equal(await codeOf(store.write(sampleSnapshot(), STATE)), 'locked')
  t.equal((await store.forceUnlock())?.legacy, true)
  t.equal(await store.inspectLock(), undefined)
})

t.test('a lock marker that is not JSON counts as held', async (t) => {
  const { store, stackDir } = setup(t)
  await store.write(sampleSnapshot(), STATE)
  writeFileSync(join(stackDir, 'lock'), '{"id": "torn')
  t.match(await store.inspectLock(), { legacy: true })
  t.equal(await codeOf(store.lock({}, {})), 'locked')
})

t.test('unlock releases the lock and returns the holder', async (t) => {
  const { store, stackDir } = setup(t)
  const holder = await store.lock({ who: 'a' }, {})
  t.same(await store.unlock(holder.id), holder)
  t.equal(await store.inspectLock(), undefined)
  t.notOk(existsSync(join(stackDir, 'lock')))
  t.match(await store.lastRelease(), { event: 'unlock', holder: { id: holder.id }, generation: 1 })
})

t.test('unlock by the wrong id is locked and keeps the holder', async (t) => {
  const { store } = setup(t)
  const holder = await store.lock({ who: 'a' }, {})
  await t.rejects(store.unlock('not-the-id'), { code: 'locked', details: { holder: { id: holder.id } } })
  t.equal((await store.inspectLock())?.id, holder.id)
})

t.test('a retried unlock of a lock just released by the same id succeeds', async (t) => {
  const { store } = setup(t)
  const holder = await store.lock({ who: 'a' }, {})
  await store.unlock(holder.id)
  t.same(await store.unlock(holder.id), holder)
  t.equal(await store.inspectLock(), undefined)
})

t.test('unlock of an unknown id on a free stack is lock-not-held', async (t) => {
  const { store } = setup(t)
  t.equal(await codeOf(store.unlock('nobody')), 'lock-not-held', 'on a fresh stack')
  await store.write(sampleSnapshot(), STATE)
  t.equal(await codeOf(store.unlock('nobody')), 'lock-not-held')
  const holder = await store.lock({}, {})
  await store.unlock(holder.id)
  t.equal(await codeOf(store.unlock('somebody-else')), 'lock-not-held', 'after another id unlocked')
})

t.test('generation grows at every acquisition and force-unlock and survives a new StoreRoot', async (t) => {
  const { store, dir, clock } = setup(t)
  t.equal(await store.generation(), 0)
  const first = await store.lock({}, {})
  t.equal(first.generation, 1)
  await store.unlock(first.id)
  t.equal(await store.generation(), 1, 'unlock does not bump it')
  const second = await store.lock({}, {})
  t.equal(second.generation, 2)
  await store.forceUnlock({ principal: 'ops' })
  t.equal(await store.generation(), 3)
  t.equal(await store.forceUnlock(), undefined, 'force-unlocking a free stack removes nobody')
  t.equal(await store.generation(), 3, 'and does not bump it')
  const third = await store.lock({}, {}, { ttlMs: 1000 })
  t.equal(third.generation, 4)
  clock.advanceMs(2000)
  const fourth = await store.lock({}, {})
  t.equal(fourth.generation, 5, 'taking over an expired lease is an acquisition')
  const again = makeRoot(dir, { clock }).stack(FACTORY, 'dev')
  t.equal(await again.generation(), 5)
  await again.unlock(fourth.id)
  t.equal((await again.lock({}, {})).generation, 6)
})

t.test('relocking with the same client id while held returns the same holder', async (t) => {
  const { store, clock } = setup(t)
  const holder = await store.lock({ id: 'tf-lock-1', who: 'terraform' }, {})
  clock.advanceMs(1000)
  t.same(await store.lock({ id: 'tf-lock-1', who: 'terraform' }, {}), holder)
  t.equal(await store.generation(), 1, 'not a second acquisition')
  t.equal(await codeOf(store.lock({ id: 'tf-lock-2' }, {})), 'locked', 'another id is still refused')
})

t.test('while locked, every mutation must present the holder lock id', async (t) => {
  const { store } = setup(t)
  const [a, b] = await writeRevs(store, 2)
  await store.setCurrent(a!)
  const holder = await store.lock({ who: 'a' }, {})
  for (const fence of [undefined, { lockId: 'wrong' }]) {
    t.equal(
      await codeOf(store.write(sampleSnapshot(), { ...STATE, fence })),
      'locked',
      `write ${JSON.stringify(fence)}`,
    )
    t.equal(await codeOf(store.setCurrent(b!, { fence })), 'locked', 'setCurrent')
    t.equal(await codeOf(store.delete(b!, { fence })), 'locked', 'delete')
    t.equal(await codeOf(store.gc({ keep: 0, fence })), 'locked', 'gc')
  }
  t.same(await store.list(), [a, b])
  const fence = { lockId: holder.id }
  const c = (await store.write(sampleSnapshot(3), { ...STATE, fence, makeCurrent: true })).rev
  t.same(await store.setCurrent(b!, { fence }), { previous: c })
  t.same(await store.delete(a!, { fence }), { deleted: true, clearedCurrent: false })
  t.same(await store.gc({ keep: 0, fence }), { deleted: [c], kept: [b] })
})

t.test('current moved by another process is seen at the next read, however fast it moves', async (t) => {
  // Reads of current are checked by one lstat against the file last read; every move is a new file.
  const dir = t.testdir()
  const a = makeRoot(dir).stack(FACTORY, 'dev')
  const b = makeRoot(dir).stack(FACTORY, 'dev')
  const revs = [(await b.write(sampleSnapshot(1), STATE)).rev, (await b.write(sampleSnapshot(2), STATE)).rev]
  const seen: string[] = []
  for (let i = 0; i < 50; i++) {
    await b.setCurrent(revs[i % 2]!)
    seen.push(await a.currentRev())
  }
  t.same(
    seen,
    Array.from({ length: 50 }, (_, i) => revs[i % 2]),
    'every move seen by the other store at once',
  )
  await b.clearCurrent()
  t.equal(await codeOf(a.currentRev()), 'no-current', 'and so is a cleared current')
})

t.test('a lock taken while a write is being published never leaves a refused rev behind', async (t) => {
  // Another process asks for the lock the instant this write links its rev.
  // Fence check, link and make-current are one critical section, so the lock
  // is granted after the write is whole: the write succeeds and is current.
  // (Before, the lock could land between the link and the move of current:
  // the client was told 423 "nothing changed" while the rev stayed listed.)
  const dir = t.testdir()
  const other = makeRoot(dir).stack(FACTORY, 'dev')
  let rival: Promise<unknown> | undefined
  const racing: FsOps = {
    ...nodeFs,
    link: async (from, to) => {
      await nodeFs.link(from, to)
      rival ??= other.lock({ who: 'rival' }, {})
    },
  }
  const store = makeRoot(dir, { fs: racing }).stack(FACTORY, 'dev')
  const rev = (await store.write(sampleSnapshot(1), { ...STATE, makeCurrent: true })).rev
  t.ok(rival, 'the rival asked for the lock mid-publish')
  t.match(await rival, { who: 'rival' }, 'and got it once the write was done')
  t.same(await store.list(), [rev], 'the acknowledged write is listed')
  t.equal(await store.currentRev(), rev, 'and current')
})

t.test('requireLock refuses a mutation of an unlocked stack as lock-required', async (t) => {
  const { store } = setup(t)
  const rev = (await store.write(sampleSnapshot(), STATE)).rev
  const fence = { requireLock: true }
  t.equal(await codeOf(store.write(sampleSnapshot(), { ...STATE, fence })), 'lock-required')
  t.equal(await codeOf(store.setCurrent(rev, { fence })), 'lock-required')
  t.equal(await codeOf(store.delete(rev, { fence })), 'lock-required')
  t.equal(await codeOf(store.gc({ keep: 0, fence })), 'lock-required')
  t.same(await store.list(), [rev])
  const holder = await store.lock({}, {})
  t.type(
    (await store.write(sampleSnapshot(), { ...STATE, fence: { requireLock: true, lockId: holder.id } })).rev,
    'string',
  )
})

t.test('a lock id on an unlocked stack that never held it is lock-not-held', async (t) => {
  const { store } = setup(t)
  t.equal(await codeOf(store.write(sampleSnapshot(), { ...STATE, fence: { lockId: 'made-up' } })), 'lock-not-held')
  t.same(await store.list(), [])
})

t.test('an expired lease frees the stack and fences out its old holder', async (t) => {
  const { store, clock } = setup(t)
  await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })
  const old = await store.lock({ who: 'old' }, {}, { ttlMs: 60_000 })
  t.equal(old.expires, '2026-07-10T12:01:00Z')
  clock.advanceMs(60_001)
  t.equal(await store.inspectLock(), undefined)
  const next = await store.lock({ who: 'next' }, {})
  t.equal(next.generation, old.generation + 1)
  const before = await visible(store)
  t.equal(await codeOf(store.write(sampleSnapshot(2), { ...STATE, fence: { lockId: old.id } })), 'lock-lost')
  t.equal(await codeOf(store.setCurrent(before.list[0]!, { fence: { lockId: old.id } })), 'lock-lost')
  t.equal(await codeOf(store.renew(old.id, 60_000)), 'lock-lost')
  t.same(await visible(store), before, 'nothing changed')
  t.equal((await store.inspectLock())?.id, next.id)
})

t.test('a lost lock is still reported lost after later holders came and went', async (t) => {
  const { store, clock } = setup(t)
  const old = await store.lock({ who: 'old' }, {}, { ttlMs: 1_000 })
  clock.advanceMs(1_001)
  const next = await store.lock({ who: 'next' }, {})
  await store.unlock(next.id) // the last release is now an ordinary unlock
  const forced = await store.lock({ who: 'forced' }, {})
  await store.forceUnlock({ principal: 'ops', reason: 'stuck runner' })
  await store.unlock((await store.lock({ who: 'later' }, {})).id)
  t.equal(
    await codeOf(store.write(sampleSnapshot(2), { ...STATE, fence: { lockId: old.id } })),
    'lock-lost',
    'the expired holder writes',
  )
  t.equal(await codeOf(store.renew(old.id, 1_000)), 'lock-lost', 'and renews')
  t.equal(await codeOf(store.unlock(forced.id)), 'lock-lost', 'the force-unlocked holder unlocks')
  t.equal(
    await codeOf(store.write(sampleSnapshot(2), { ...STATE, fence: { lockId: next.id } })),
    'lock-not-held',
    'a holder that unlocked itself is simply not holding',
  )
  t.same(await store.list(), [], 'nothing was written')
})

t.test('an expired lease nobody took over still fences out its old holder', async (t) => {
  const { store, clock } = setup(t)
  await store.write(sampleSnapshot(), STATE)
  const old = await store.lock({ who: 'old' }, {}, { ttlMs: 1000 })
  clock.advanceMs(1000)
  t.equal(await store.inspectLock(), undefined)
  t.equal(await codeOf(store.write(sampleSnapshot(2), { ...STATE, fence: { lockId: old.id } })), 'lock-lost')
  t.equal(await codeOf(store.renew(old.id, 1000)), 'lock-lost')
  t.equal((await store.list()).length, 1)
  t.type((await store.write(sampleSnapshot(3), STATE)).rev, 'string', 'the stack is free for unfenced writes')
})

t.test('renew extends a lease from now', async (t) => {
  const { store, clock } = setup(t)
  const holder = await store.lock({}, {}, { ttlMs: 1000 })
  clock.advanceMs(800)
  const renewed = await store.renew(holder.id, 1000)
  t.equal(renewed.expires, '2026-07-10T12:00:01.8Z')
  t.equal(renewed.generation, holder.generation)
  clock.advanceMs(800)
  t.equal((await store.inspectLock())?.id, holder.id, 'still held past the first expiry')
  t.same(await store.renew(holder.id, undefined), { ...renewed, expires: null }, 'a renew without ttl drops the lease')
})

t.test('renew by an id that does not hold the lock is refused', async (t) => {
  const { store } = setup(t)
  t.equal(await codeOf(store.renew('nobody', 1000)), 'lock-not-held', 'on a fresh stack')
  const holder = await store.lock({}, {})
  t.equal(await codeOf(store.renew('nobody', 1000)), 'locked')
  await store.unlock(holder.id)
  t.equal(await codeOf(store.renew(holder.id, 1000)), 'lock-not-held', 'after the holder unlocked')
})

t.test('after force-unlock the old holder is lock-lost', async (t) => {
  const { store } = setup(t)
  const rev = (await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })).rev
  const old = await store.lock({ who: 'stuck' }, {})
  const removed = await store.forceUnlock({ principal: 'ops', reason: 'runner died' })
  t.same(removed, old)
  t.match(await store.lastRelease(), {
    event: 'force-unlock',
    by: 'ops',
    reason: 'runner died',
    generation: old.generation + 1,
    holder: { id: old.id },
  })
  const fence = { lockId: old.id }
  await t.rejects(store.write(sampleSnapshot(2), { ...STATE, fence }), {
    code: 'lock-lost',
    details: { lockId: old.id, event: 'force-unlock' },
  })
  t.equal(await codeOf(store.delete(rev, { fence, force: true })), 'lock-lost')
  t.equal(await codeOf(store.renew(old.id, 1000)), 'lock-lost')
  t.equal(await codeOf(store.unlock(old.id)), 'lock-lost')
  t.same(await store.list(), [rev])
  const next = await store.lock({ who: 'next' }, {})
  t.equal(
    await codeOf(store.write(sampleSnapshot(3), { ...STATE, fence })),
    'lock-lost',
    'also once someone else holds the lock',
  )
  t.equal(next.generation, old.generation + 2)
})

// --- waiting ---------------------------------------------------------------------

t.test('a waiting lock is granted when the holder unlocks in this process', async (t) => {
  // A poll interval longer than the wait proves the waiter is woken by the release, not by polling.
  const { store, stackDir, fs } = setup(t, { pollMs: 60_000 })
  const holder = await store.lock({ who: 'a' }, {})
  const markerReads = () => fs.calls.filter((c) => c.method === 'open' && c.path === join(stackDir, 'lock')).length
  const seen = markerReads()
  const events: string[] = []
  const waiter = store.lock({ who: 'b' }, {}, { waitMs: 5000 }).then((h) => {
    events.push('granted')
    return h
  })
  await until(() => markerReads() > seen)
  t.same(events, [], 'the waiter is blocked while the lock is held')
  events.push('unlock')
  await store.unlock(holder.id)
  const granted = await waiter
  t.same(events, ['unlock', 'granted'])
  t.match(granted, { who: 'b', generation: holder.generation + 1 })
  t.equal((await store.inspectLock())?.id, granted.id)
})

t.test('a wait that elapses on the store clock is wait-timeout with the holder', async (t) => {
  const { store, clock, stackDir, fs } = setup(t, { pollMs: 5 })
  const holder = await store.lock({ who: 'a' }, {})
  const markerReads = () => fs.calls.filter((c) => c.method === 'open' && c.path === join(stackDir, 'lock')).length
  const seen = markerReads()
  const waiter = store.lock({ who: 'b' }, {}, { waitMs: 30 })
  await until(() => markerReads() > seen)
  clock.advanceMs(31)
  await t.rejects(waiter, { code: 'wait-timeout', details: { holder: { id: holder.id } } })
  t.equal((await store.inspectLock())?.id, holder.id)
})

t.test('a wait does not elapse while the store clock stands still', async (t) => {
  // With the deadline on the wall clock, 20 polls of 5 ms would outlast the 30 ms wait.
  const { store, stackDir, fs } = setup(t, { pollMs: 5 })
  const holder = await store.lock({ who: 'a' }, {})
  const markerReads = () => fs.calls.filter((c) => c.method === 'open' && c.path === join(stackDir, 'lock')).length
  const seen = markerReads()
  let settled = false
  const waiter = store.lock({ who: 'b' }, {}, { waitMs: 30 }).finally(() => {
    settled = true
  })
  await until(() => markerReads() > seen + 20)
  t.notOk(settled, 'the waiter still waits after 20 polls')
  await store.unlock(holder.id)
  t.match(await waiter, { who: 'b' }, 'and gets the lock once it is released')
})

t.test('aborting a wait rejects and leaves no lock behind', async (t) => {
  const { store, stackDir, fs } = setup(t)
  const holder = await store.lock({ who: 'a' }, {})
  const markerReads = () => fs.calls.filter((c) => c.method === 'open' && c.path === join(stackDir, 'lock')).length
  const seen = markerReads()
  const controller = new AbortController()
  const waiter = store.lock({ who: 'b' }, {}, { waitMs: 5000, signal: controller.signal })
  await until(() => markerReads() > seen)
  controller.abort()
  await t.rejects(waiter, { name: 'AbortError' })
  t.equal((await store.inspectLock())?.id, holder.id)
  await store.unlock(holder.id)
  t.equal(await store.inspectLock(), undefined, 'the aborted waiter did not take the lock')
  t.equal(await store.generation(), holder.generation)
})

t.test('a lock with an already aborted signal rejects without locking', async (t) => {
  const { store } = setup(t)
  await t.rejects(store.lock({}, {}, { signal: AbortSignal.abort() }), { name: 'AbortError' })
  t.equal(await store.inspectLock(), undefined)
  t.equal(await store.generation(), 0)
})

// --- fault injection -------------------------------------------------------------

interface FaultOp {
  readonly name: string
  /** Builds the state before the call; returns what the call needs. */
  readonly prepare: (store: LocalStore) => Promise<{ revs: string[]; lockId?: string }>
  readonly run: (store: LocalStore, prepared: { revs: string[]; lockId?: string }) => Promise<unknown>
  readonly operation: RegExp
  readonly points: ReadonlyArray<{
    readonly what: string
    readonly method: FaultyMethod
    readonly nth: number
    readonly match?: (ctx: Ctx, path: string) => boolean
  }>
}

const isTemp = (_ctx: Ctx, path: string) => /\/\.tmp-[^/]*$/.test(path)

const FAULT_OPS: readonly FaultOp[] = [
  {
    name: 'write',
    prepare: async (store) => ({ revs: [(await store.write(sampleSnapshot(1), { ...STATE, makeCurrent: true })).rev] }),
    run: (store) => store.write(sampleSnapshot(2), STATE),
    operation: /snapshot/,
    points: [
      { what: 'writing the temp file', method: 'writeFile', nth: 1, match: isTemp },
      { what: 'fsyncing the temp file', method: 'sync', nth: 1, match: isTemp },
      { what: 'linking the rev', method: 'link', nth: 1 },
      {
        what: 'fsyncing the snapshots directory',
        method: 'sync',
        nth: 1,
        match: (ctx, path) => path === ctx.snapshots,
      },
    ],
  },
  {
    name: 'setCurrent',
    prepare: async (store) => {
      const revs = await writeRevs(store, 2)
      await store.setCurrent(revs[0]!)
      return { revs }
    },
    run: (store, { revs }) => store.setCurrent(revs[1]!),
    operation: /current/,
    points: [
      { what: 'writing the temp file', method: 'writeFile', nth: 1, match: isTemp },
      { what: 'renaming over current', method: 'rename', nth: 1 },
    ],
  },
  {
    name: 'delete',
    prepare: async (store) => {
      const revs = await writeRevs(store, 2)
      await store.setCurrent(revs[0]!)
      return { revs }
    },
    run: (store, { revs }) => store.delete(revs[1]!),
    operation: /delet/,
    points: [{ what: 'hiding the rev', method: 'rename', nth: 1, match: (_ctx, path) => path.endsWith('.json.enc') }],
  },
  {
    name: 'forced delete of current',
    prepare: async (store) => ({ revs: [(await store.write(sampleSnapshot(1), { ...STATE, makeCurrent: true })).rev] }),
    run: (store, { revs }) => store.delete(revs[0]!, { force: true }),
    operation: /delet/,
    points: [{ what: 'hiding the rev', method: 'rename', nth: 1, match: (_ctx, path) => path.endsWith('.json.enc') }],
  },
  {
    name: 'lock',
    prepare: async (store) => ({ revs: [(await store.write(sampleSnapshot(1), { ...STATE, makeCurrent: true })).rev] }),
    run: (store) => store.lock({ who: 'ci' }, {}),
    operation: /lock/,
    points: [
      { what: 'writing the marker temp file', method: 'writeFile', nth: 1, match: isTemp },
      { what: 'linking the marker', method: 'link', nth: 1 },
      { what: 'fsyncing the stack directory', method: 'sync', nth: 1, match: (ctx, path) => path === ctx.stackDir },
    ],
  },
  {
    name: 'unlock',
    prepare: async (store) => {
      const revs = [(await store.write(sampleSnapshot(1), { ...STATE, makeCurrent: true })).rev]
      return { revs, lockId: (await store.lock({ who: 'ci' }, {})).id }
    },
    run: (store, { lockId }) => store.unlock(lockId!),
    operation: /lock/,
    points: [
      // An unlock is one rename of the marker onto the release record.
      { what: 'renaming the marker onto the release record', method: 'rename', nth: 1 },
    ],
  },
]

const EXPECTED: Record<Exclude<FaultCode, 'BUG'>, string> = {
  ENOSPC: 'no-space',
  EIO: 'storage-failure',
  EACCES: 'storage-failure',
}

for (const op of FAULT_OPS) {
  for (const point of op.points) {
    for (const errno of ['ENOSPC', 'EIO', 'EACCES'] as const) {
      t.test(
        `${op.name} failing with ${errno} at ${point.what} is ${EXPECTED[errno]}, changes nothing, and succeeds once the fault clears`,
        async (t) => {
          const ctx = setup(t)
          const prepared = await op.prepare(ctx.store)
          const before = { visible: await visible(ctx.store), files: fileTree(ctx.stackDir) }
          ctx.fs.failNth(
            point.method,
            point.nth,
            errno,
            point.match === undefined ? undefined : (path) => point.match!(ctx, path),
          )
          await t.rejects(op.run(ctx.store, prepared), {
            code: EXPECTED[errno],
            details: { factory: FACTORY, stack: 'dev', operation: op.operation, errno },
          })
          t.ok(ctx.fs.fired, 'the fault was injected')
          t.same(await visible(ctx.store), before.visible, 'list, current and lock are as before')
          t.same(fileTree(ctx.stackDir), before.files, 'every file is as before')
          t.same(temps(ctx), [], 'no temp file is left')
          ctx.fs.clear()
          await t.resolves(op.run(ctx.store, prepared))
          t.notSame(await visible(ctx.store), before.visible, 'the retry did its work')
        },
      )
    }
  }
}

t.test('a fault while creating the stack directories is storage-failure and leaves no rev', async (t) => {
  const ctx = setup(t)
  ctx.fs.failNth('mkdir', 2, 'EACCES')
  await t.rejects(ctx.store.write(sampleSnapshot(), STATE), {
    code: 'storage-failure',
    details: { factory: FACTORY, stack: 'dev', errno: 'EACCES' },
  })
  ctx.fs.clear()
  t.same(await ctx.store.list(), [])
  t.equal((await ctx.store.write(sampleSnapshot(), STATE)).rev, T0)
})

t.test('a read fault is storage-failure, never no-current or rev-not-found', async (t) => {
  const ctx = setup(t)
  const rev = (await ctx.store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })).rev
  ctx.fs.failNth('open', 1, 'EIO', (path) => path.endsWith('/current'))
  t.equal(await codeOf(ctx.store.current()), 'storage-failure')
  ctx.fs.failNth('readFile', 1, 'EIO', (path) => path.endsWith('.json.enc'))
  t.equal(await codeOf(ctx.store.get(rev)), 'storage-failure')
  ctx.fs.failNth('readdir', 1, 'EACCES')
  t.equal(await codeOf(ctx.store.list()), 'storage-failure')
})
