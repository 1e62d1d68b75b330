/** LocalStore under injected filesystem faults: every fault point of every mutation answers an error and leaves the stack as it was. */
import t from 'tap'
import type { LocalStore } from '../../../src/store/stack/local-store.js'
import type { FaultCode, FaultyMethod } from '../../helpers/faulty-fs.js'
import { sampleSnapshot } from '../../helpers/store.js'
import {
  type Ctx,
  FACTORY,
  STATE,
  T0,
  codeOf,
  fileTree,
  setup,
  temps,
  visible,
  writeRevs,
} from '../../helpers/local-store.js'

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
const inMeta = (_ctx: Ctx, path: string) => /\/\.meta\/[^/.][^/]*\.json$/.test(path)
const isMetaDir = (ctx: Ctx, path: string) => path === `${ctx.stackDir}/.meta`
const RECORD = { principal: 'ci', remote: null, requestId: null, kind: 'unobin', serial: null, lineage: null } as const
/** Where a recorded write's metadata can fail: created and written under the mutex, made durable with the rev. */
const META_POINTS = [
  { what: 'creating the metadata file', method: 'open', nth: 1, match: inMeta },
  { what: 'writing the metadata file', method: 'writeFile', nth: 1, match: inMeta },
  { what: 'fsyncing the metadata file', method: 'sync', nth: 1, match: inMeta },
  { what: 'fsyncing the metadata directory', method: 'sync', nth: 1, match: isMetaDir },
] as const

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
  ...[false, true].map(
    (makeCurrent): FaultOp => ({
      name: makeCurrent ? 'recorded write made current' : 'recorded write',
      // A first recorded write makes `.meta`: the fault then hits a rev's file, not the directory's creation.
      prepare: async (store) => ({
        revs: [(await store.write(sampleSnapshot(1), { ...STATE, makeCurrent: true, record: RECORD })).rev],
      }),
      run: (store) => store.write(sampleSnapshot(2), { ...STATE, makeCurrent, record: RECORD }),
      operation: /snapshot/,
      points: META_POINTS,
    }),
  ),
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
