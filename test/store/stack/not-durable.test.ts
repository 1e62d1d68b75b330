/**
 * A failed directory fsync right after a pointer was replaced (set-current,
 * renew, a write that makes its rev current): the answer must match the
 * disk. When the old file is put back, the error says nothing was changed
 * and nothing did; when even that fails, the error says the change was made
 * (and may not be durable), and the disk shows it.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FsOps } from '../../../src/fs/fs-ops.js'
import type { Store } from '../../../src/store/store.js'
import { ManualClock } from '../../helpers/clock.js'
import { FaultyFs } from '../../helpers/faulty-fs.js'
import { makeRoot, sampleSnapshot } from '../../helpers/store.js'

const STATE = { payloadType: 'state' } as const

/** The filesystem of a case: the stack directory's fsync fails once; with `undoFails`, so does the rename that would put the old file back. */
function faults(
  stackDir: string,
  name: string,
  undoFails: boolean,
): { fs: FsOps; arm: () => void; fired: () => boolean } {
  const faulty = new FaultyFs()
  let armed = false
  let renames = 0
  const fs: FsOps = {
    ...faulty,
    rename: async (from, to) => {
      if (armed && undoFails && String(to) === join(stackDir, name) && ++renames === 2)
        throw Object.assign(new Error('EIO: injected'), { code: 'EIO' })
      return faulty.rename(from, to)
    },
  }
  return {
    fs,
    arm: () => {
      armed = true
      faulty.failNth('sync', 1, 'EIO', (path) => path === stackDir)
    },
    fired: () => faulty.fired,
  }
}

interface Case {
  readonly name: string
  /** The file the operation replaces. */
  readonly file: string
  /** Seeds the stack; returns what the operation needs. */
  readonly seed: (store: Store, clock: ManualClock) => Promise<{ revs: string[]; lockId?: string }>
  readonly run: (store: Store, seeded: { revs: string[]; lockId?: string }) => Promise<unknown>
}

const CASES: readonly Case[] = [
  {
    name: 'set-current',
    file: 'current',
    seed: async (store, clock) => {
      const revs: string[] = []
      for (let i = 0; i < 2; i++) {
        clock.advanceMs(1000)
        revs.push((await store.write(sampleSnapshot(i), { ...STATE, makeCurrent: true })).rev)
      }
      return { revs }
    },
    run: (store, seeded) => store.setCurrent(seeded.revs[0]!),
  },
  {
    name: 'a write that makes its rev current',
    file: 'current',
    seed: async (store, clock) => {
      clock.advanceMs(1000)
      return { revs: [(await store.write(sampleSnapshot('old'), { ...STATE, makeCurrent: true })).rev] }
    },
    run: async (store) => {
      return store.write(sampleSnapshot('new'), { ...STATE, makeCurrent: true })
    },
  },
  {
    name: 'renew',
    file: 'lock',
    seed: async (store) => ({ revs: [], lockId: (await store.lock({ who: 'ci' }, {}, { ttlMs: 60_000 })).id }),
    run: (store, seeded) => store.renew(seeded.lockId!, 600_000),
  },
]

for (const c of CASES) {
  for (const undoFails of [false, true]) {
    t.test(
      `${c.name}: a failed directory fsync ${undoFails ? 'whose undo fails too answers "the change was made"' : 'puts the old file back and answers "nothing was changed"'}, as the disk shows`,
      async (t) => {
        const dir = t.testdir()
        const stackDir = join(dir, 'f1', 's1')
        const clock = new ManualClock()
        const { fs, arm, fired } = faults(stackDir, c.file, undoFails)
        const root = makeRoot(dir, { fs, clock })
        t.teardown(() => root.close())
        const store = root.stack('f1', 's1')
        const seeded = await c.seed(store, clock)
        const before = readFileSync(join(stackDir, c.file), 'utf8')
        const listed = await store.list()
        clock.advanceMs(1000)
        arm()
        const err = await c.run(store, seeded).then(
          () => undefined,
          (e: unknown) => e,
        )
        t.ok(fired(), 'the directory fsync failed')
        t.match(err, { code: 'storage-failure' }, 'answered storage-failure')
        const after = readFileSync(join(stackDir, c.file), 'utf8')
        const message = (err as Error | undefined)?.message ?? ''
        if (undoFails) {
          t.match(
            message,
            /the change was made and is visible, but may not survive/,
            'the answer says the change is in place',
          )
          t.not(after, before, `and ${c.file} shows it`)
          if (c.file === 'current') t.equal(after.trim(), await store.currentRev(), 'current reads as the new pointer')
          if (c.name.startsWith('a write'))
            t.equal((await store.list()).length, listed.length + 1, 'the rev current names stays listed')
        } else {
          t.match(message, /nothing was changed/, 'the answer says nothing changed')
          t.equal(after, before, `and ${c.file} is as it was`)
          t.same(await store.list(), listed, 'the history is as it was')
        }
      },
    )
  }
}
