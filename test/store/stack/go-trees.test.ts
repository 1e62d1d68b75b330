/** LocalStore on trees the Go tool wrote: revs, current and lock markers read as Go wrote them, and what it writes is what Go reads. */
import t from 'tap'
import { createDecipheriv } from 'node:crypto'
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Keyring } from '../../../src/crypto/keyring.js'
import { keyFromEnv } from '../../../src/crypto/keys.js'
import { decodeEnvelope, encodeEnvelope } from '../../../src/store/envelope.js'
import { ENV_KEY_REVS, FIXTURE_KEY, fixture, fixtureKeyring, makeRoot, sampleSnapshot } from '../../helpers/store.js'
import { FACTORY, STATE, codeOf, copyTree, setup } from '../../helpers/local-store.js'

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

t.test('a write sorts after a rev another writer added since this store last listed the history', async (t) => {
  const { store, snapshots } = setup(t, { tree: 'env-key' })
  const first = (await store.write(sampleSnapshot(1), STATE)).rev
  // The Go tool (no mutex) adds a rev an hour ahead of this store's frozen clock, and one far behind.
  const ahead = '2026-07-10T13:00:00.5Z'
  const behind = '2020-01-01T00:00:00Z'
  for (const rev of [ahead, behind])
    copyFileSync(join(snapshots, `${ENV_KEY_REVS[0]}.json.enc`), join(snapshots, `${rev}.json.enc`))
  const second = (await store.write(sampleSnapshot(2), STATE)).rev
  t.equal(second, `${ahead}_1`, 'after the newest rev, whoever wrote it')
  // Deleted since, the newest still bounds the next name: a new rev sorts after every rev there ever was here.
  await store.delete(second)
  await store.delete(ahead)
  const third = (await store.write(sampleSnapshot(3), STATE)).rev
  t.equal(third, `${ahead}_2`)
  t.same((await store.list()).slice(-2), [first, third])
})

t.test('concurrent writes share one listing of the history, never one that began before them', async (t) => {
  const { store, snapshots, fs } = setup(t, { tree: 'env-key' })
  const listings = () => fs.calls.filter((c) => c.method === 'readdir' && c.path === snapshots).length
  await store.write(sampleSnapshot(0), STATE)
  // Another writer (the Go tool, an hour ahead) adds a rev after that listing; every write below begins after it.
  const ahead = '2026-07-10T13:00:00.5Z'
  copyFileSync(join(snapshots, `${ENV_KEY_REVS[0]}.json.enc`), join(snapshots, `${ahead}.json.enc`))
  const before = listings()
  const revs = (await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((n) => store.write(sampleSnapshot(n), STATE)))).map(
    (w) => w.rev,
  )
  t.ok(
    revs.every((rev) => rev > ahead),
    `each write sorts after the rev added before it began: ${revs.join(', ')}`,
  )
  t.equal(new Set(revs).size, 8, 'eight distinct revs')
  const shared = listings() - before
  t.ok(shared >= 1 && shared < 8, `8 writes queued for the mutex listed the history ${shared} time(s)`)
  t.same((await store.list()).slice(-9), [ahead, ...[...revs].sort()], 'the history lists them in order')
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

t.test('a stack whose current file is empty has no current, as in Go', async (t) => {
  const { store, stackDir } = setup(t)
  await store.write(sampleSnapshot(), STATE)
  writeFileSync(join(stackDir, 'current'), '\n')
  t.equal(await codeOf(store.current()), 'no-current')
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
