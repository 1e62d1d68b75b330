import { join } from 'node:path'
import type { Clock } from '../../clock.js'
import type { Encrypter } from '../../crypto/encrypter.js'
import { StateError } from '../../errors.js'
import { syncDir } from '../../fs/durable.js'
import { type FsOps, nodeFs } from '../../fs/fs-ops.js'
import { Mutex } from '../../fs/mutex.js'
import { type OwnerProbe, hostProbe } from '../../fs/owner.js'
import { DEFAULT_TEMP_MAX_AGE_MS } from '../../fs/temp-files.js'
import { UNOBIN_PAYLOAD } from '../envelope.js'
import { envelopeToWrite } from '../envelope-slices.js'
import { checkUnobinSnapshot } from '../../parse/parse-pool.js'
import { assertName } from '../names.js'
import { assertRev, sortRevs } from '../rev.js'
import type { SnapshotCache } from '../snapshot-cache.js'
import type {
  Fence,
  GcOptions,
  GcResult,
  LockClaims,
  LockContext,
  LockHolder,
  LockOptions,
  ManagedStore,
  PruneOptions,
  PruneResult,
  ReleasedLock,
  ResealOutcome,
  RevMeta,
  Snapshot,
  TrashEntry,
  WriteOptions,
  WriteOutcome,
} from '../store.js'
import { History } from './history.js'
import { MUTEX_FILE } from './layout.js'
import { notHeld } from './lock-errors.js'
import { LockRecords } from './lock-records.js'
import { LockWait } from './lock-wait.js'
import { resealRev } from './reseal-rev.js'
import { revMetaOf } from './rev-meta.js'
import { StackDir } from './stack-dir.js'
import { type ProcessIdentity, StackLock } from './stack-lock.js'
import { Trash } from './trash.js'

/** What a local store needs; everything is passed in. */
export interface LocalStoreOptions {
  readonly root: string
  readonly factory: string
  readonly stack: string
  readonly encrypter: Encrypter
  readonly clock: Clock
  /** This process's pid and host, recorded with lock holders. */
  readonly identity: ProcessIdentity
  readonly fs?: FsOps
  /** Fallback poll interval (ms) while waiting for a lock held by another process. Default 100. */
  readonly pollMs?: number
  /**
   * Temp files older than this (ms) are removed whoever wrote them (a writer
   * on another host may still use a younger one); those of a writer on this
   * host that has exited go at once. Default 60 000.
   */
  readonly tempMaxAgeMs?: number
  /** Who this process is and whether another (a mutex owner, a temp file's writer) still runs; the host's when absent. */
  readonly probe?: OwnerProbe
  /** Stale time of the internal mutex (ms): an owner on another host (or one that cannot be judged) is taken over after it. Default 10 000. */
  readonly mutexStaleMs?: number
  /** Opened revs kept in memory (shared by the stacks of a root); none when absent. */
  readonly cache?: SnapshotCache
  /** Receives warnings (e.g. a compromised mutex); never given secrets. */
  readonly onWarning?: (message: string) => void
  /**
   * Told when the store starts its first operation in flight (`busy` true)
   * and when its last one ends (false); the store root keeps busy stores and
   * may drop idle ones (see store-root.ts).
   */
  readonly onActivity?: (store: LocalStore, busy: boolean) => void
  /** The data volume folds case (see src/fs/case-folding.ts): names that differ only in case from one on disk are refused. */
  readonly foldsCase?: boolean
}

/** The store of one factory/stack on the local filesystem. */
export class LocalStore implements ManagedStore {
  readonly #dir: StackDir
  readonly #encrypter: Encrypter
  readonly #mutex: Mutex
  readonly #history: History
  readonly #trash: Trash
  readonly #lock: StackLock
  readonly #wait: LockWait

  constructor(options: LocalStoreOptions) {
    const warn = options.onWarning ?? (() => {})
    const fs = options.fs ?? nodeFs
    const probe = options.probe ?? hostProbe()
    this.#dir = new StackDir({
      root: options.root,
      factory: assertName('factory', options.factory),
      stack: assertName('stack', options.stack),
      fs,
      clock: options.clock,
      tempMaxAgeMs: options.tempMaxAgeMs ?? DEFAULT_TEMP_MAX_AGE_MS,
      probe,
      warn,
      onActivity: (busy) => options.onActivity?.(this, busy),
      foldsCase: options.foldsCase === true,
    })
    this.#encrypter = options.encrypter
    const dir = this.#dir
    this.#mutex = new Mutex(join(this.#dir.path, MUTEX_FILE), {
      fs,
      clock: options.clock,
      probe,
      // Every change of the stack first sweeps what dead writers left in the stack directory.
      onHeld: () => dir.sweepForChange(),
      ...(options.mutexStaleMs === undefined ? {} : { staleMs: options.mutexStaleMs }),
      onCompromised: (err) => warn(`internal mutex of ${this.#dir.name} compromised: ${err.message}`),
    })
    this.#history = new History(this.#dir, this.#encrypter, this.#mutex, options.cache)
    this.#trash = new Trash(this.#dir, this.#history, this.#mutex)
    this.#wait = new LockWait(this.#dir.path, fs, options.pollMs ?? 100)
    this.#lock = new StackLock(this.#dir, new LockRecords(this.#dir), this.#mutex, this.#wait, options.identity)
  }

  /** Whether an operation is in flight (a lock wait is one): the root never drops a busy store. */
  get busy(): boolean {
    return this.#dir.busy
  }

  /** Whether the stack's directories were found on disk by the last operation that looked (a missing stack's store is not worth keeping). */
  get seen(): boolean {
    return this.#dir.ready
  }

  stack(): { factory: string; stack: string } {
    return { factory: this.#dir.factory, stack: this.#dir.stack }
  }

  async current(): Promise<Snapshot> {
    // One step for the pointer and its rev: the path every small GET takes (see BENCHMARKS.md).
    return this.#dir.io('reading the current snapshot', async () => {
      await this.#dir.ensure(false) // refuses a symlinked factory or stack directory before reading through it
      const snapshot = await this.#history.currentSnapshot() // its rev was parsed by readCurrent: no second validation
      if (snapshot === undefined) throw this.#noCurrent()
      return snapshot
    })
  }

  async currentRev(): Promise<string> {
    return this.#dir.io('reading current', async () => {
      await this.#dir.ensure(false) // refuses a symlinked factory or stack directory before reading through it
      const rev = await this.#history.readCurrent()
      if (rev === null) throw this.#noCurrent()
      return rev
    })
  }

  #noCurrent(): StateError {
    return new StateError('no-current', `${this.#dir.name} has no current rev`, this.#dir.where())
  }

  async get(rev: string): Promise<Snapshot> {
    assertRev(rev)
    return this.#dir.io(`reading rev ${rev}`, async () => {
      if (!(await this.#dir.ensure(false))) throw this.#history.revNotFound(rev)
      return this.#history.read(rev)
    })
  }

  async write(body: Buffer, options: WriteOptions): Promise<WriteOutcome> {
    if (options.payloadType === UNOBIN_PAYLOAD) await checkUnobinSnapshot(body) // off the main thread when large
    const sealed = envelopeToWrite(body, options.payloadType, this.#encrypter)
    // The record's digest is taken here, outside the stack's mutex: hashing a large body must not hold up its other writers.
    const written = options.record === undefined ? undefined : await revMetaOf(options.record, body)
    return this.#dir.io('writing a snapshot', async () => {
      // Fenced before the directories are made: a refused write leaves no trace (not even a new stack).
      await this.#dir.ensure(false)
      await this.#lock.assertFence(options.fence)
      await this.#dir.ensure(true)
      const outcome = await this.#history.publish(sealed, options.makeCurrent === true, async () => {
        const holder = await this.#lock.assertFence(options.fence)
        if (options.admit !== undefined) {
          const current = await this.#history.currentSnapshot()
          if (options.admit(current) === 'unchanged' && current !== undefined)
            return { rev: current.rev, current: true, written: false }
        }
        return { meta: written === undefined ? undefined : written(holder) }
      })
      if (outcome.written)
        await this.#history.remember(outcome.rev, { rev: outcome.rev, payloadType: options.payloadType, body })
      return outcome
    })
  }

  async setCurrent(
    rev: string,
    options: { fence?: Fence; ifMatch?: string | null } = {},
  ): Promise<{ previous: string | null }> {
    assertRev(rev)
    return this.#dir.io(`setting current to ${rev}`, async () => {
      if (!(await this.#dir.ensure(false))) throw this.#history.revNotFound(rev)
      return this.#mutex.run(async () => {
        await this.#lock.assertFence(options.fence)
        const previous = await this.#history.readCurrent()
        if (options.ifMatch !== undefined && options.ifMatch !== previous) {
          throw new StateError(
            'current-mismatch',
            `current of ${this.#dir.name} is ${previous ?? 'unset'}, not ${options.ifMatch ?? 'unset'}: re-read it and retry`,
            { ...this.#dir.where(), current: previous },
          )
        }
        await this.#history.read(rev) // must exist and open: never point current at an unreadable rev
        await this.#history.movePointer(rev, previous)
        return { previous }
      })
    })
  }

  /**
   * Removes the current pointer, keeping every rev (Terraform's "delete
   * state": later reads say there is no state, history stays restorable).
   * Clearing an absent pointer is not an error.
   */
  async clearCurrent(options: { fence?: Fence } = {}): Promise<{ previous: string | null }> {
    return this.#dir.io('clearing current', async () => {
      if (!(await this.#dir.ensure(false))) return { previous: null }
      return this.#mutex.run(async () => {
        await this.#lock.assertFence(options.fence)
        const previous = await this.#history.readCurrent()
        if (previous !== null) {
          await this.#dir.undoable(async (log) => {
            await this.#history.hideCurrent(log)
            await syncDir(this.#dir.fs, this.#dir.path)
          })
        }
        return { previous }
      })
    })
  }

  async list(): Promise<string[]> {
    return this.#dir.io('listing revs', async () => {
      if (!(await this.#dir.ensure(false))) return []
      return sortRevs(await this.#history.revNames())
    })
  }

  async describe(revs: readonly string[]): Promise<Array<RevMeta | null>> {
    for (const rev of revs) assertRev(rev)
    return this.#dir.io('reading history metadata', async () => {
      if (!(await this.#dir.ensure(false))) return revs.map(() => null)
      return this.#history.metas.read(revs)
    })
  }

  async delete(
    rev: string,
    options: { fence?: Fence; force?: boolean } = {},
  ): Promise<{ deleted: boolean; clearedCurrent: boolean }> {
    assertRev(rev)
    return this.#dir.io(`deleting rev ${rev}`, async () => {
      if (!(await this.#dir.ensure(false))) return { deleted: false, clearedCurrent: false }
      return this.#mutex.run(async () => {
        await this.#lock.assertFence(options.fence)
        return this.#dir.undoable(async (log) => {
          const outcome = await this.#history.deleteRev(rev, options.force === true, log)
          await this.#history.metas.sync()
          if (outcome.deleted) await syncDir(this.#dir.fs, this.#dir.snapshots)
          if (outcome.clearedCurrent) await syncDir(this.#dir.fs, this.#dir.path)
          return outcome
        })
      })
    })
  }

  async gc(options: GcOptions): Promise<GcResult> {
    return this.#dir.io('collecting garbage', async () => {
      if (!(await this.#dir.ensure(false))) return { deleted: [], kept: [] }
      return this.#mutex.run(async () => {
        await this.#lock.assertFence(options.fence)
        return this.#history.gc(options.keep, options.dryRun === true)
      })
    })
  }

  async prune(options: PruneOptions): Promise<PruneResult> {
    return this.#dir.io('pruning revs', async () => {
      if (!(await this.#dir.ensure(false))) return { trashed: [], kept: [], purged: [] }
      return this.#mutex.run(async () => {
        await this.#lock.assertFence(options.fence)
        if (options.dryRun !== true) await this.#dir.sweepAll() // retention also sweeps leftovers in snapshots/ and the trash
        return this.#trash.prune(options.policy, options.purgeWindowMs, options.dryRun === true)
      })
    })
  }

  async trashed(): Promise<TrashEntry[]> {
    return this.#dir.io('listing the trash', async () => {
      if (!(await this.#dir.ensure(false))) return []
      return this.#trash.entries()
    })
  }

  async restore(rev: string, options: { fence?: Fence } = {}): Promise<TrashEntry> {
    assertRev(rev)
    return this.#dir.io(`restoring rev ${rev}`, async () => {
      if (!(await this.#dir.ensure(false))) throw this.#trash.notInTrash(rev)
      return this.#mutex.run(async () => {
        await this.#lock.assertFence(options.fence)
        return this.#trash.restore(rev)
      })
    })
  }

  async purgeTrash(windowMs: number, options: { dryRun?: boolean } = {}): Promise<TrashEntry[]> {
    return this.#dir.io('purging the trash', async () => {
      if (!(await this.#dir.ensure(false))) return []
      if (options.dryRun !== true) await this.#dir.sweepAll() // retention also sweeps leftovers in snapshots/ and the trash
      return this.#trash.purge(windowMs, options.dryRun === true)
    })
  }

  async sweep(onError?: (err: unknown) => void): Promise<number> {
    return this.#dir.io('sweeping leftover temp files', async () => {
      const before = this.#dir.swept
      if (!(await this.#dir.ensure(false))) return 0 // ensure's first-use sweep counts too
      await this.#mutex.run(() => this.#dir.sweepAll(onError))
      return this.#dir.swept - before
    })
  }

  async reseal(rev: string, options: { trashedAt?: string } = {}): Promise<ResealOutcome> {
    assertRev(rev)
    const where = options.trashedAt === undefined ? `rev ${rev}` : `rev ${rev} in the trash`
    return this.#dir.io(`re-sealing ${where}`, async () => {
      if (!(await this.#dir.ensure(false))) return 'absent'
      return resealRev(this.#dir, this.#encrypter, this.#mutex, rev, options.trashedAt)
    })
  }

  /** How many `lock` calls of this store are waiting for the lock right now (this process only). */
  get waiting(): number {
    return this.#wait.waiting
  }

  async lock(claims: LockClaims, context: LockContext, options: LockOptions = {}): Promise<LockHolder> {
    return this.#dir.io('taking the lock', async () => {
      await this.#dir.ensure(true)
      return this.#lock.lock(claims, context, options)
    })
  }

  async inspectLock(): Promise<LockHolder | undefined> {
    return this.#dir.io('reading the lock', async () => {
      await this.#dir.ensure(false) // refuses a symlinked factory or stack directory before reading through it
      return this.#lock.inspect()
    })
  }

  async renew(id: string, ttlMs: number | undefined): Promise<LockHolder> {
    return this.#dir.io('renewing the lock', async () => {
      if (!(await this.#dir.ensure(false))) throw notHeld(this.#dir, id)
      return this.#lock.renew(id, ttlMs)
    })
  }

  async unlock(id: string): Promise<LockHolder> {
    return this.#dir.io('releasing the lock', async () => {
      if (!(await this.#dir.ensure(false))) throw notHeld(this.#dir, id)
      return this.#lock.unlock(id)
    })
  }

  async forceUnlock(by: { principal?: string | null; reason?: string | null } = {}): Promise<LockHolder | undefined> {
    return this.#dir.io('force-unlocking', async () => {
      if (!(await this.#dir.ensure(false))) return undefined
      return this.#lock.forceUnlock(by)
    })
  }

  async lastRelease(): Promise<ReleasedLock | undefined> {
    return this.#dir.io('reading the last release', async () =>
      (await this.#dir.ensure(false)) ? this.#lock.lastRelease() : undefined,
    )
  }

  async generation(): Promise<number> {
    return this.#dir.io('reading the generation', async () =>
      (await this.#dir.ensure(false)) ? this.#lock.generation() : 0,
    )
  }

  /** Stops watching the stack directory (waiters fall back to polling). */
  close(): void {
    this.#wait.close()
  }
}
