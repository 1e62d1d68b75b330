/** LocalStore's history on disk: damaged and dangling files, refusals that leave the tree as it was, temp files, and another process moving current. */
import t from 'tap'
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SystemClock } from '../../../src/clock.js'
import { type FsOps, nodeFs } from '../../../src/fs/fs-ops.js'
import { decodeEnvelope, encodeEnvelope } from '../../../src/store/envelope.js'
import { fixtureKeyring, makeRoot, sampleSnapshot } from '../../helpers/store.js'
import { FACTORY, STATE, T0, codeOf, fileTree, setup, temps, writeRevs } from '../../helpers/local-store.js'

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

t.test('garbage in current is unreadable-snapshot', async (t) => {
  const { store, stackDir } = setup(t)
  await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })
  for (const garbage of ['not a rev\n', '../../etc/passwd\n', '2026-07-10T12:00:00.10Z\n', '\u0000\u0001\u0002']) {
    writeFileSync(join(stackDir, 'current'), garbage)
    t.equal(await codeOf(store.currentRev()), 'unreadable-snapshot', JSON.stringify(garbage))
    t.equal(await codeOf(store.current()), 'unreadable-snapshot', JSON.stringify(garbage))
  }
})

t.test('setCurrent refuses a rev that cannot be opened', async (t) => {
  const { store, snapshots } = setup(t)
  const [a, b] = await writeRevs(store, 2)
  await store.setCurrent(a!)
  writeFileSync(join(snapshots, `${b}.json.enc`), '{"envelope-')
  t.equal(await codeOf(store.setCurrent(b!)), 'unreadable-snapshot')
  t.equal(await store.currentRev(), a)
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

t.test('a forced delete of the rev a dangling current names clears current', async (t) => {
  const { store, stackDir } = setup(t)
  await store.write(sampleSnapshot(), STATE)
  writeFileSync(join(stackDir, 'current'), '2026-07-10T13:00:00Z\n')
  t.same(await store.delete('2026-07-10T13:00:00Z', { force: true }), { deleted: false, clearedCurrent: true })
  t.equal(await codeOf(store.current()), 'no-current')
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

t.test('writes in a tight loop with the system clock are listed in write order', async (t) => {
  const { store } = setup(t, { clock: new SystemClock() })
  const revs = await writeRevs(store, 8)
  t.equal(new Set(revs).size, 8)
  t.same(await store.list(), revs)
})
