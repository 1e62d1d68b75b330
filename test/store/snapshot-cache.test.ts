import t from 'tap'
import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SystemClock } from '../../src/clock.js'
import { NoopEncrypter } from '../../src/crypto/noop.js'
import { encodeEnvelope } from '../../src/store/envelope.js'
import { SnapshotCache } from '../../src/store/snapshot-cache.js'
import { StoreRoot } from '../../src/store/store-root.js'
import { FaultyFs } from '../helpers/faulty-fs.js'
import { sampleSnapshot } from '../helpers/store.js'

function cachedRoot(dir: string, fs: FaultyFs, bytes = 1024 * 1024): StoreRoot {
  return new StoreRoot({
    root: dir,
    encrypter: new NoopEncrypter(),
    clock: new SystemClock(),
    identity: { pid: 1, host: 'h' },
    fs,
    cache: new SnapshotCache(bytes),
  })
}

t.test('a cached rev is read again with one lstat and no open', async (t) => {
  const fs = new FaultyFs()
  const store = cachedRoot(t.testdir(), fs).stack('f', 's')
  const rev = (await store.write(sampleSnapshot(1), { payloadType: 'state' })).rev
  const first = await store.get(rev)
  const before = fs.calls.length
  const second = await store.get(rev)
  t.same(second.body, first.body)
  t.same(
    fs.calls.slice(before).map((c) => c.method),
    ['lstat'],
  )
})

t.test('a rev replaced by a new file under the same name (key rotation) is read again', async (t) => {
  const fs = new FaultyFs()
  const dir = t.testdir()
  const store = cachedRoot(dir, fs).stack('f', 's')
  const rev = (await store.write(sampleSnapshot(1), { payloadType: 'state' })).rev
  t.same((await store.get(rev)).body, sampleSnapshot(1))
  const path = join(dir, 'f', 's', 'snapshots', `${rev}.json.enc`)
  writeFileSync(
    `${path}.new`,
    encodeEnvelope({ payloadType: 'state', encrypter: { name: 'noop' }, ciphertext: sampleSnapshot(2) }),
  )
  renameSync(`${path}.new`, path)
  t.same((await store.get(rev)).body, sampleSnapshot(2))
})

t.test('the cache evicts the least recently used snapshots beyond its byte bound and skips large bodies', async (t) => {
  const cache = new SnapshotCache(400)
  const stamp = { ino: 1, size: 10, mtimeMs: 1.5 }
  const snap = (n: number, size: number) => ({ rev: `r${n}`, payloadType: 'state', body: Buffer.alloc(size) })
  cache.set('a', stamp, snap(1, 100))
  cache.set('b', stamp, snap(2, 100))
  cache.set('c', stamp, snap(3, 100))
  t.ok(cache.get('a', stamp), 'a is kept and becomes most recently used')
  cache.set('d', stamp, snap(4, 100))
  cache.set('e', stamp, snap(5, 100))
  t.equal(cache.get('b', stamp), undefined, 'b, least recently used, was evicted')
  t.ok(cache.get('a', stamp))
  t.ok(cache.bytes <= 400)
  cache.set('big', stamp, snap(6, 101))
  t.equal(cache.get('big', stamp), undefined, 'a body over a quarter of the bound is never cached')
  const off = new SnapshotCache(0)
  off.set('x', stamp, snap(7, 0))
  t.equal(off.get('x', stamp), undefined, 'a zero bound disables the cache, even for an empty body')
})

t.test('an entry answers only the file it was read from: another stamp misses and frees its bytes', async (t) => {
  const cache = new SnapshotCache(1000)
  const stamp = { ino: 7, size: 40, mtimeMs: 1000.25 }
  const body = Buffer.alloc(100)
  cache.set('p', stamp, { rev: 'r', payloadType: 'state', body })
  t.equal(cache.get('p', stamp)?.body, body)
  for (const other of [
    { ...stamp, ino: 8 },
    { ...stamp, size: 41 },
    { ...stamp, mtimeMs: 1000.5 },
  ]) {
    cache.set('p', stamp, { rev: 'r', payloadType: 'state', body })
    t.equal(cache.get('p', other), undefined, `a different ${JSON.stringify(other)} misses`)
    t.equal(cache.bytes, 0, 'the stale entry is dropped at once')
    t.equal(cache.get('p', stamp), undefined, 'and stays dropped')
  }
  cache.set('p', stamp, { rev: 'r', payloadType: 'state', body })
  cache.set('p', { ...stamp, ino: 9 }, { rev: 'r', payloadType: 'state', body: Buffer.alloc(50) })
  t.equal(cache.bytes, 50, "a new file under the path takes the old entry's place")
})
