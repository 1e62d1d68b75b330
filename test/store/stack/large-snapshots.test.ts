/**
 * Large snapshots through the store: sealed in slices as the temp file is
 * written, opened in slices, byte-exact both ways and in the Go tool's
 * layout on disk; a fault half-way through the sliced write leaves the
 * stack as it was.
 */
import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Keyring } from '../../../src/crypto/keyring.js'
import { keyFromEnv } from '../../../src/crypto/keys.js'
import { decodeEnvelope, encodeEnvelope } from '../../../src/store/envelope.js'
import { SLICED_BYTES } from '../../../src/store/envelope-slices.js'
import { FaultyFs } from '../../helpers/faulty-fs.js'
import { fixtureKeyring, makeRoot } from '../../helpers/store.js'
import { STATE, codeOf, fileTree, setup, temps, visible } from '../../helpers/local-store.js'

/** A valid unobin snapshot of about `size` bytes (many entries, as real large states have). */
function largeSnapshot(size: number, marker: string): Buffer {
  const entries: string[] = []
  let total = 0
  for (let n = 0; total < size; n++) {
    const entry = JSON.stringify({
      address: `module.m.thing${n}`,
      'entry-kind': 'leaf',
      category: 'resource',
      binding: { alias: 'aws', kind: 'thing' },
      outputs: { id: `${marker}-${n}`, blob: 'z'.repeat(500) },
    })
    entries.push(entry)
    total += entry.length + 1
  }
  return Buffer.from(`{\n  "format-version": 1,\n  "entries": [${entries.join(',')}]\n}\n`)
}

t.test('a large snapshot is written and read back byte-exact, in the Go layout on disk', async (t) => {
  const ctx = setup(t, { encrypter: fixtureKeyring() })
  const body = largeSnapshot(3 * SLICED_BYTES, 'one')
  t.ok(body.length >= SLICED_BYTES)
  const { rev } = await ctx.store.write(body, {
    ...STATE,
    makeCurrent: true,
    record: { principal: 'ci', remote: '127.0.0.1', requestId: 'r1', kind: 'unobin', serial: null, lineage: null },
  })
  const read = await ctx.store.get(rev)
  t.ok(read.body.equals(body), 'read back byte-exact')
  t.equal(read.payloadType, 'state')
  // The file is the envelope the one-piece encoder would write for its ciphertext.
  const file = readFileSync(join(ctx.snapshots, `${rev}.json.enc`))
  const envelope = decodeEnvelope(Buffer.from(file))
  t.ok(encodeEnvelope(envelope).equals(file), 'the Go layout, byte for byte')
  t.ok(fixtureKeyring().open(envelope.ciphertext, envelope.encrypter).equals(body), 'opens whole to the body')
  const [meta] = await ctx.store.describe([rev])
  t.equal(meta?.sha256, createHash('sha256').update(body).digest('hex'), 'the recorded digest is of the body')
  t.equal(meta?.bytes, body.length)
  t.same(temps(ctx), [])
})

t.test('a large rev in another layout (written by hand) is still read, by the whole-file path', async (t) => {
  const ctx = setup(t, { encrypter: fixtureKeyring() })
  const body = largeSnapshot(2 * SLICED_BYTES, 'two')
  const { rev } = await ctx.store.write(body, STATE)
  const path = join(ctx.snapshots, `${rev}.json.enc`)
  // Compact JSON: the same envelope, not in the layout the sliced path reads.
  writeFileSync(path, JSON.stringify(JSON.parse(readFileSync(path, 'utf8'))))
  // (The rewritten file has another size and inode: the snapshot cache misses.)
  t.ok((await ctx.store.get(rev)).body.equals(body))
})

t.test('a disk filling up half-way through a large sliced write leaves the stack as it was', async (t) => {
  const ctx = setup(t, { encrypter: fixtureKeyring() })
  const first = await ctx.store.write(largeSnapshot(SLICED_BYTES, 'before'), { ...STATE, makeCurrent: true })
  const before = fileTree(ctx.dir)
  const seen = await visible(ctx.store)
  // The temp file is written in pieces: the third piece fails (the head and one slice are already on disk).
  ctx.fs.failNth('writeFile', 3, 'ENOSPC', (path) => /\/\.tmp-[^/]*$/.test(path))
  t.equal(await codeOf(ctx.store.write(largeSnapshot(3 * SLICED_BYTES, 'after'), STATE)), 'no-space')
  t.ok(ctx.fs.fired, 'the fault hit the sliced write')
  t.same(fileTree(ctx.dir), before, 'not a byte changed')
  t.same(await visible(ctx.store), seen)
  t.same(temps(ctx), [])
  t.same(readdirSync(ctx.snapshots), [`${first.rev}.json.enc`])
})

t.test(
  'a read fault half-way through opening a large rev in slices is a clear error, and the rev reads again after',
  async (t) => {
    const ctx = setup(t, { encrypter: fixtureKeyring() })
    const body = largeSnapshot(3 * SLICED_BYTES, 'read-fault')
    const { rev } = await ctx.store.write(body, STATE)
    // A root of its own (an empty snapshot cache), over the same tree, whose range reads fail on demand.
    const fs = new FaultyFs()
    const root = makeRoot(ctx.dir, { encrypter: fixtureKeyring(), fs })
    t.teardown(() => root.close())
    const store = root.stack('cluster-deploy', 'dev')
    const before = fileTree(ctx.dir)
    fs.failNth('read', 4, 'EIO', (path) => path.endsWith(`${rev}.json.enc`))
    t.equal(await codeOf(store.get(rev)), 'storage-failure')
    t.ok(fs.fired, 'the fault hit a range read of the rev')
    t.same(fileTree(ctx.dir), before, 'nothing changed')
    t.ok((await store.get(rev)).body.equals(body), 'read whole after the fault')
  },
)

t.test(
  'key rotation re-seals a large rev in slices: it opens with the new key alone, and a rerun skips it',
  async (t) => {
    const OLD = Buffer.alloc(32, 'o').toString('base64')
    const NEW = Buffer.alloc(32, 'n').toString('base64')
    const key = (name: string, value: string) => keyFromEnv({ [name]: value }, name)
    const dir = t.testdir()
    const body = largeSnapshot(2 * SLICED_BYTES, 'rotate')
    const writer = makeRoot(dir, { encrypter: new Keyring(key('STATE_KEY', OLD)) })
    t.teardown(() => writer.close())
    const { rev } = await writer.stack('f', 's').write(body, STATE)
    // The new key in the variable the old one used (the refs match, the keys do not), the old one kept to open.
    const fs = new FaultyFs()
    const rotating = makeRoot(dir, { fs, encrypter: new Keyring(key('STATE_KEY', NEW), [key('STATE_KEY_OLD', OLD)]) })
    t.teardown(() => rotating.close())
    const store = rotating.stack('f', 's')
    t.equal(await store.reseal(rev), 'resealed')
    const path = join(dir, 'f', 's', 'snapshots', `${rev}.json.enc`)
    const reads = fs.calls.filter((c) => c.path === path)
    t.ok(
      reads.some((c) => c.method === 'read'),
      'opened by range reads',
    )
    t.notOk(
      reads.some((c) => c.method === 'readFile'),
      'never read whole',
    )
    const file = readFileSync(path)
    const envelope = decodeEnvelope(Buffer.from(file))
    t.ok(encodeEnvelope(envelope).equals(file), 'the Go layout, byte for byte')
    t.ok(
      new Keyring(key('STATE_KEY', NEW)).open(envelope.ciphertext, envelope.encrypter).equals(body),
      'the new key alone opens it',
    )
    t.equal(await store.reseal(rev), 'skipped', 'a rerun skips what the sealing key opens')
    t.ok(file.equals(readFileSync(path)), 'and leaves it as it is')
    // A rev no configured key opens is refused by name, and left as it is.
    const stranger = makeRoot(dir, {
      encrypter: new Keyring(key('STATE_KEY', Buffer.alloc(32, 'x').toString('base64'))),
    })
    t.teardown(() => stranger.close())
    await t.rejects(stranger.stack('f', 's').reseal(rev), {
      code: 'unreadable-snapshot',
      message: /cannot be re-sealed/,
    })
    t.ok(file.equals(readFileSync(path)))
  },
)
