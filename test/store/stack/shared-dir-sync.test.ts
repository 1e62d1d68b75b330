/**
 * Writes that do not move current share the snapshots directory's fsync
 * (syncDirShared): each still answers only after an fsync that began after
 * its link, so concurrent writers pay fewer fsyncs and lose no durability;
 * a shared fsync that fails withdraws every rev it was to make durable.
 */
import t from 'tap'
import { join } from 'node:path'
import { syncDirShared } from '../../../src/fs/durable.js'
import { type FsOps, nodeFs } from '../../../src/fs/fs-ops.js'
import { FaultyFs } from '../../helpers/faulty-fs.js'
import { makeRoot, sampleSnapshot } from '../../helpers/store.js'

const STATE = { payloadType: 'state' } as const

/** The real filesystem; each fsync of directory `dir` is counted, and waits while `hold` is on. */
class HeldSyncs {
  count = 0
  #release: (() => void) | undefined
  #gate: Promise<void> = Promise.resolve()
  readonly fs: FsOps

  constructor(dir: string, base: FsOps = nodeFs) {
    this.fs = {
      ...base,
      open: async (path, flags, mode) => {
        const handle = await base.open(path, flags, mode)
        if (String(path) !== dir) return handle
        const held = async (): Promise<void> => {
          this.count++
          await this.#gate
          return handle.sync()
        }
        return new Proxy(handle, {
          get: (target, prop) => {
            if (prop === 'sync') return held
            const value: unknown = Reflect.get(target, prop)
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
          },
        })
      },
    }
  }

  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#release = resolve
    })
  }

  release(): void {
    this.#release?.()
  }
}

t.test('callers who ask while a directory fsync runs share the next one', async (t) => {
  const dir = t.testdir()
  const syncs = new HeldSyncs(dir)
  syncs.hold()
  const first = syncDirShared(syncs.fs, dir)
  const later = Array.from({ length: 7 }, () => syncDirShared(syncs.fs, dir))
  for (const deadline = Date.now() + 10_000; syncs.count === 0 && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 5))
  t.equal(syncs.count, 1, 'one fsync runs; the seven later callers wait for the next')
  syncs.release()
  await Promise.all([first, ...later])
  t.equal(syncs.count, 2, 'the seven shared one fsync, begun after they asked')
})

t.test(
  'eight writers of one stack: each answered after its rev is fsynced, with two directory fsyncs in all',
  async (t) => {
    const dir = t.testdir()
    const snapshots = join(dir, 'f1', 's1', 'snapshots')
    const syncs = new HeldSyncs(snapshots)
    let links = 0
    let answered = 0
    const fs: FsOps = {
      ...syncs.fs,
      link: async (from, to) => {
        await nodeFs.link(from, to)
        // The first write's fsync is held until all eight have linked their revs.
        if (String(to).startsWith(`${snapshots}/`) && ++links === 8) {
          t.equal(answered, 0, 'no write answered before its fsync')
          syncs.release()
        }
      },
    }
    const root = makeRoot(dir, { fs })
    t.teardown(() => root.close())
    const store = root.stack('f1', 's1')
    const seed = await store.write(sampleSnapshot('seed'), STATE)
    links = 0
    syncs.count = 0
    syncs.hold()
    const writes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.write(sampleSnapshot(i), STATE).then((w) => {
          answered++
          return w
        }),
      ),
    )
    t.equal(new Set(writes.map((w) => w.rev)).size, 8, 'eight revs')
    t.same((await store.list()).sort(), [seed.rev, ...writes.map((w) => w.rev)].sort(), 'all listed')
    t.equal(syncs.count, 2, 'the first fsync, and one the other seven shared')
  },
)

t.test('a shared fsync that fails withdraws the revs of every write that waited for it', async (t) => {
  const dir = t.testdir()
  const snapshots = join(dir, 'f1', 's1', 'snapshots')
  const faulty = new FaultyFs()
  const syncs = new HeldSyncs(snapshots, faulty)
  let links = 0
  const fs: FsOps = {
    ...syncs.fs,
    link: async (from, to) => {
      await faulty.link(from, to)
      if (String(to).startsWith(`${snapshots}/`) && ++links === 4) syncs.release()
    },
  }
  const root = makeRoot(dir, { fs })
  t.teardown(() => root.close())
  const store = root.stack('f1', 's1')
  const kept = await store.write(sampleSnapshot('kept'), STATE)
  links = 1
  syncs.hold()
  // The first of the three writes fsyncs alone; the other two share the second fsync, which fails.
  faulty.failNth('sync', 2, 'EIO', (path) => path === snapshots)
  const results = await Promise.all(
    Array.from({ length: 3 }, (_, i) =>
      store.write(sampleSnapshot(`w${i}`), STATE).then(
        (w) => w,
        (e: unknown) => e,
      ),
    ),
  )
  t.ok(faulty.fired, 'the second directory fsync failed')
  const failed = results.filter((r) => r instanceof Error)
  t.equal(failed.length, 2, 'both writes that shared it failed')
  for (const err of failed) t.match(err, { code: 'storage-failure' })
  const ok = results.filter((r) => !(r instanceof Error)) as { rev: string }[]
  t.same((await store.list()).sort(), [kept.rev, ...ok.map((w) => w.rev)].sort(), 'only the answered writes are listed')
})
