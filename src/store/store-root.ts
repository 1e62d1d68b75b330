/**
 * The data directory: one shared `LocalStore` per factory/stack (so waiters in
 * this process share one wake-up channel) and discovery of factories and stacks.
 */
import { join } from 'node:path'
import type { Clock } from '../clock.js'
import type { Encrypter } from '../crypto/encrypter.js'
import { StateError } from '../errors.js'
import { writeTemp } from '../fs/durable.js'
import { type FsOps, errnoCode, nodeFs } from '../fs/fs-ops.js'
import { HeldLockIndex } from './held-locks.js'
import { LocalStore, type LocalStoreOptions } from './stack/local-store.js'
import { assertName, isName } from './names.js'
import type { HeldLocks, StackSummary, StoreCatalog } from './store.js'

/** Options of a store root: those of every stack's store, minus the names. */
export type StoreRootOptions = Omit<LocalStoreOptions, 'factory' | 'stack'>

/** A data directory holding `<factory>/<stack>` stores. */
export class StoreRoot implements StoreCatalog {
  readonly root: string
  readonly #options: StoreRootOptions
  readonly #fs: FsOps
  readonly #stores = new Map<string, LocalStore>()
  #heldLocks: HeldLockIndex | undefined

  constructor(options: StoreRootOptions) {
    this.root = options.root
    this.#options = options
    this.#fs = options.fs ?? nodeFs
  }

  /** The index of held locks by principal (`.held-locks/` in the data directory), made on first use. */
  get heldLocks(): HeldLocks {
    this.#heldLocks ??= new HeldLockIndex(this, { dataDir: this.root, fs: this.#fs })
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

  /** The store of `factory`/`stack` (validated names; the same instance every time). */
  stack(factory: string, stack: string): LocalStore {
    assertName('factory', factory)
    assertName('stack', stack)
    const key = `${factory}/${stack}`
    let store = this.#stores.get(key)
    if (store === undefined) {
      store = new LocalStore({ ...this.#options, factory, stack })
      this.#stores.set(key, store)
    }
    return store
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
      this.stack(scope.factory, scope.stack) // validates both names
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

  /** How many lock requests are waiting for a lock in this process, over every stack. */
  waiting(): number {
    let n = 0
    for (const store of this.#stores.values()) n += store.waiting
    return n
  }

  /** Stops all directory watchers. */
  close(): void {
    for (const store of this.#stores.values()) store.close()
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
