/**
 * The data directory: the `LocalStore` handle of each factory/stack, and
 * discovery of factories and stacks.
 *
 * Handles are a cache, never the truth: every operation reads the disk
 * (memoized revs and `current` are keyed by the file's stat), the internal
 * mutex and the lock waiters' wake-up channel are shared by path, so a
 * handle made afresh behaves exactly as the one it replaces. Memory is
 * therefore bounded whatever names callers ask for: a handle with an
 * operation in flight (a lock wait is one) is always kept; when the last
 * operation of a stack that is not on disk ends, its handle is dropped (a
 * request for a missing stack leaves nothing behind); and at most
 * `maxIdleStacks` idle handles of existing stacks are kept, the least
 * recently used dropped first.
 */
import { join } from 'node:path'
import type { Clock } from '../clock.js'
import type { Encrypter } from '../crypto/encrypter.js'
import { StateError } from '../errors.js'
import { writeTemp } from '../fs/durable.js'
import { type FsOps, errnoCode, nodeFs } from '../fs/fs-ops.js'
import { type OwnerProbe, hostProbe } from '../fs/owner.js'
import { DEFAULT_TEMP_MAX_AGE_MS, sweepTemps } from '../fs/temp-files.js'
import { HeldLockIndex } from './held-locks.js'
import { LocalStore, type LocalStoreOptions } from './stack/local-store.js'
import { assertName, isName } from './names.js'
import type { HeldLocks, StackSummary, StoreCatalog } from './store.js'

/** Idle stack handles kept when the options do not say (a few KB each). */
export const DEFAULT_MAX_IDLE_STACKS = 1000

/** Options of a store root: those of every stack's store, minus the names and the activity hook. */
export type StoreRootOptions = Omit<LocalStoreOptions, 'factory' | 'stack' | 'onActivity'> & {
  /** Idle handles of existing stacks kept in memory (least recently used dropped first). Default 1000. */
  readonly maxIdleStacks?: number
}

/** A data directory holding `<factory>/<stack>` stores. */
export class StoreRoot implements StoreCatalog {
  readonly root: string
  readonly #options: StoreRootOptions
  readonly #fs: FsOps
  /** Handles by `factory/stack`, least recently used first. */
  readonly #stores = new Map<string, LocalStore>()
  /** The key last looked up in `#stores`, which is its last key while it is there. */
  #newestKey: string | undefined
  /** Handles with an operation in flight, including any no longer in `#stores`. */
  readonly #busy = new Set<LocalStore>()
  readonly #maxIdle: number
  readonly #probe: OwnerProbe
  readonly #tempMaxAgeMs: number
  #heldLocks: HeldLockIndex | undefined

  constructor(options: StoreRootOptions) {
    this.root = options.root
    this.#options = options
    this.#fs = options.fs ?? nodeFs
    this.#maxIdle = Math.max(0, options.maxIdleStacks ?? DEFAULT_MAX_IDLE_STACKS)
    this.#probe = options.probe ?? hostProbe()
    this.#tempMaxAgeMs = options.tempMaxAgeMs ?? DEFAULT_TEMP_MAX_AGE_MS
  }

  /** The index of held locks by principal (`.held-locks/` in the data directory), made on first use. */
  get heldLocks(): HeldLocks {
    return this.#index()
  }

  #index(): HeldLockIndex {
    this.#heldLocks ??= new HeldLockIndex(this, {
      dataDir: this.root,
      fs: this.#fs,
      sweep: { probe: this.#probe, maxAgeMs: this.#tempMaxAgeMs },
    })
    return this.#heldLocks
  }

  /** The encrypter every stack seals with. */
  get encrypter(): Encrypter {
    return this.#options.encrypter
  }

  /** The clock every stack reads. */
  get clock(): Clock {
    return this.#options.clock
  }

  /** True when the data volume folds case: names that differ only in case are refused, grants compare case-blind. */
  get foldsCase(): boolean {
    return this.#options.foldsCase === true
  }

  /**
   * The store of `factory`/`stack` (validated names): the same handle while
   * it is in use, a new one (with the same view of the disk) after it was
   * dropped as idle.
   */
  stack(factory: string, stack: string): LocalStore {
    assertName('factory', factory)
    assertName('stack', stack)
    const key = `${factory}/${stack}`
    let store = this.#stores.get(key)
    if (store === undefined) {
      store = new LocalStore({
        ...this.#options,
        factory,
        stack,
        onActivity: (s, busy) => this.#activity(key, s, busy),
      })
      this.#trim()
    } else if (key === this.#newestKey) {
      return store // already the most recently used (the Map's last key)
    } else {
      this.#stores.delete(key) // re-inserted below: most recently used last
    }
    this.#stores.set(key, store)
    this.#newestKey = key
    return store
  }

  /** How many stack handles are in memory now (kept idle or busy); for tests and metrics. */
  handles(): number {
    let n = this.#stores.size
    for (const store of this.#busy) if (!this.#stores.has(storeKey(store))) n++
    return n
  }

  /** The directory of `factory`/`stack` (validated names), for watchers. */
  stackDir(factory: string, stack: string): string {
    assertName('factory', factory)
    assertName('stack', stack)
    return join(this.root, factory, stack)
  }

  /** Factory names, sorted (directories with valid names; symlinks and dot-entries are skipped). */
  async factories(): Promise<string[]> {
    return this.#dirNames(this.root)
  }

  /**
   * Stack names of `factory`, sorted. Throws `factory-not-found` when it has
   * none, or when it is not a real directory (a symlink is never followed,
   * just as `factories` skips it).
   */
  async stacks(factory: string): Promise<string[]> {
    assertName('factory', factory)
    const dir = join(this.root, factory)
    if (!(await this.#isDir(dir))) {
      throw new StateError('factory-not-found', `factory ${factory} has no stacks`, { factory })
    }
    return this.#dirNames(dir)
  }

  /** A stack's summary: current rev, rev count, lock holder, and the code of any fault reading them. */
  async summary(factory: string, stack: string): Promise<StackSummary> {
    const store = this.stack(factory, stack)
    let error: StackSummary['error'] = null
    // One broken stack must not hide the others from discovery: report its fault instead of failing the list.
    const tolerate =
      <T>(fallback: T) =>
      (err: unknown): T => {
        if (err instanceof StateError && err.code === 'no-current') return fallback
        if (!(err instanceof StateError)) throw err
        error ??= err.code
        return fallback
      }
    const [revs, lock, current] = await Promise.all([
      store.list().catch(tolerate<string[]>([])),
      store.inspectLock().catch(tolerate<undefined>(undefined)),
      store.currentRev().catch(tolerate<string | null>(null)),
    ])
    return { factory, stack, current, revs: revs.length, lock: lock ?? null, error }
  }

  /**
   * Every `{factory, stack}` in `scope`, sorted: all stacks, the stacks of
   * one factory, or one stack (which need not exist yet). Throws
   * `factory-not-found` for a named factory without stacks.
   */
  async stackNames(
    scope: { readonly factory?: string | undefined; readonly stack?: string | undefined } = {},
  ): Promise<Array<{ factory: string; stack: string }>> {
    if (scope.stack !== undefined && scope.factory === undefined)
      throw new StateError('invalid-request', 'a stack is named only together with its factory')
    if (scope.factory !== undefined && scope.stack !== undefined) {
      assertName('factory', scope.factory)
      assertName('stack', scope.stack)
      return [{ factory: scope.factory, stack: scope.stack }]
    }
    const factories = scope.factory === undefined ? await this.factories() : [scope.factory]
    const out: Array<{ factory: string; stack: string }> = []
    for (const factory of factories) {
      const stacks =
        scope.factory === undefined ? await this.stacks(factory).catch(() => []) : await this.stacks(factory)
      for (const stack of stacks) out.push({ factory, stack })
    }
    return out
  }

  /**
   * Proves the data directory takes a new file: creates, fsyncs and removes
   * a temp file through the store's filesystem. Throws the filesystem's
   * error (ENOSPC, EROFS, EACCES, …) when it does not. Readiness uses it.
   */
  async probeWritable(): Promise<void> {
    await this.#fs.mkdir(this.root, { recursive: true })
    const probe = await writeTemp(this.#fs, this.root, Buffer.from('ok'))
    await this.#fs.unlink(probe)
  }

  /**
   * Removes the temp files dead writers left outside the stacks: the data
   * directory's own (a readiness or case probe cut by a kill) and the
   * held-locks index's (an entry's write cut before its link). The owner rule
   * is every sweep's (src/fs/temp-files.ts): a writer on this host that is
   * gone, at once; a live writer's, another host's or an unnamed one, once
   * older than the temp age bound. Returns how many; throws what the
   * filesystem throws for the data directory (an absent one holds nothing).
   */
  async sweepLeftovers(): Promise<number> {
    const nowMs = Number(this.clock.nowNanos() / 1_000_000n)
    const removed = await sweepTemps(this.#fs, this.root, { probe: this.#probe, maxAgeMs: this.#tempMaxAgeMs, nowMs })
    return removed + (await this.#index().sweep())
  }

  /** How many lock requests are waiting for a lock in this process, over every stack. */
  waiting(): number {
    let n = 0
    for (const store of this.#busy) n += store.waiting // a waiting store is busy
    return n
  }

  /** Stops all directory watchers. */
  close(): void {
    for (const store of new Set([...this.#stores.values(), ...this.#busy])) store.close()
  }

  /** Keeps busy handles; drops a missing stack's handle when it goes idle. */
  #activity(key: string, store: LocalStore, busy: boolean): void {
    if (busy) {
      this.#busy.add(store)
      return
    }
    this.#busy.delete(store)
    if (!store.seen && this.#stores.get(key) === store) this.#stores.delete(key)
  }

  /** Drops the least recently used idle handles until at most `maxIdleStacks` remain (before one more is added). */
  #trim(): void {
    if (this.#stores.size < this.#maxIdle) return
    let excess = this.#stores.size - this.#maxIdle + 1
    for (const [key, store] of this.#stores) {
      if (excess === 0) break
      if (store.busy) continue // busy handles are bounded by the requests in flight
      store.close()
      this.#stores.delete(key)
      excess--
    }
  }

  async #dirNames(dir: string): Promise<string[]> {
    let entries
    try {
      entries = await this.#fs.readdir(dir, { withFileTypes: true })
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return []
      throw err
    }
    return entries
      .filter((e) => e.isDirectory() && isName(e.name))
      .map((e) => e.name)
      .sort()
  }

  async #isDir(path: string): Promise<boolean> {
    try {
      return (await this.#fs.lstat(path)).isDirectory()
    } catch {
      return false
    }
  }
}

/** The `#stores` key of a handle. */
function storeKey(store: LocalStore): string {
  const { factory, stack } = store.stack()
  return `${factory}/${stack}`
}
