/**
 * The per-caller lock cap's index: which stacks each principal holds or is
 * taking, kept in the data directory as one entry per (principal, stack), so
 * counting a caller's locks reads that caller's entries only — never every
 * stack's marker — and every replica on the volume sees the same index.
 *
 * Layout: `<data>/.held-locks/<sha256(principal), 32 hex>/<factory>+<stack>`
 * (`+` is never part of a name). An entry is created exclusively *before*
 * the lock is taken and carries `pendingUntil`; it counts while the stack's
 * marker names the principal, or while it is pending. When the request
 * answers, its entry is confirmed (no longer pending) if the lock is held,
 * and removed otherwise; entries left by
 * releases elsewhere (an unlock on another replica, a force-unlock, an
 * expired lease, a crash) are found stale — marker not the principal's,
 * pending time over — and removed when next counted. At start the index is
 * rebuilt from every stack's marker, once, in the background (the first
 * reservations wait for it; listening and every other request do not).
 *
 * Leftovers: an entry is written under a temp name and then linked (or
 * renamed) into place, so a writer killed in between leaves a temp file in
 * the principal's directory. It is never counted (entries are the
 * `<factory>+<stack>` names); a reservation sweeps its principal's
 * directory, and `sweep` (at start and in each retention run) every one, by
 * the owner rule of src/fs/temp-files.ts.
 *
 * Exactness: reservations of one principal are serialised in this process,
 * so N concurrent requests with cap C grant exactly C (on free stacks).
 * Across replicas, each reservation is created before the entries are
 * listed, so of two concurrent reservations the later lister always sees
 * the other: the cap is never exceeded, though a race between replicas may
 * refuse a request that a sequential order would have granted.
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { writeTemp } from '../fs/durable.js'
import { type FsOps, errnoCode, nodeFs } from '../fs/fs-ops.js'
import type { OwnerProbe } from '../fs/owner.js'
import { sweepTemps } from '../fs/temp-files.js'
import { isName } from './names.js'
import type { HeldLocks, Reservation, StoreCatalog } from './store.js'

/** The index directory, inside the data directory (a dot-name: never a factory). */
export const HELD_LOCKS_DIR = '.held-locks'

/** Stacks whose markers the rebuild reads at once. */
const REBUILD_CONCURRENCY = 32

/** Options of the index. */
export interface HeldLockIndexOptions {
  /** The data directory (the index is its `.held-locks/`). */
  readonly dataDir: string
  /** Wall-clock milliseconds (entries are shared between processes). */
  readonly now?: () => number
  readonly fs?: FsOps
  /** How temp files of dead writers are judged (see src/fs/temp-files.ts); leftovers are never swept when absent. */
  readonly sweep?: { readonly probe: OwnerProbe; readonly maxAgeMs: number }
}

/** The per-principal index of held locks (see the file comment). */
export class HeldLockIndex implements HeldLocks {
  readonly #root: StoreCatalog
  readonly #dir: string
  readonly #fs: FsOps
  readonly #now: () => number
  readonly #sweep: HeldLockIndexOptions['sweep']
  /** The reservation (or sweep) in progress per principal directory (this process's are serialised). */
  readonly #queues = new Map<string, Promise<unknown>>()
  /** The rebuild at start (reservations wait for it). */
  #rebuilt: Promise<void> = Promise.resolve()

  constructor(root: StoreCatalog, options: HeldLockIndexOptions) {
    this.#root = root
    this.#dir = join(options.dataDir, HELD_LOCKS_DIR)
    this.#fs = options.fs ?? nodeFs
    this.#now = options.now ?? Date.now
    this.#sweep = options.sweep
  }

  async reserve(
    principal: string,
    factory: string,
    stack: string,
    cap: number,
    pendingMs: number,
  ): Promise<Reservation> {
    await this.#rebuilt
    return this.#serial(this.#principalDir(principal), async () => {
      const dir = this.#principalDir(principal)
      await this.#fs.mkdir(dir, { recursive: true })
      const name = entryName(factory, stack)
      const created = await this.#put(dir, name, true, principal, this.#now() + pendingMs)
      let held = 0
      const names = await this.#names(dir)
      await this.#sweepDir(dir, names).catch(() => 0) // best effort: a leftover never fails a reservation
      for (const other of names.filter(isEntry)) {
        if (other === name) continue
        if (await this.#counts(principal, dir, other)) held++
      }
      if (held >= cap) {
        if (created) await this.#remove(join(dir, name))
        await this.#fs.rmdir(dir).catch(() => {})
        return { granted: false, held }
      }
      if (!created) await this.#put(dir, name, false, principal, this.#now() + pendingMs) // an old entry of this stack: pending again from now
      return { granted: true, held }
    })
  }

  async settle(principal: string, factory: string, stack: string): Promise<void> {
    return this.#serial(this.#principalDir(principal), () => this.#settle(principal, factory, stack)) // never removes the directory under a reservation
  }

  /**
   * Removes the temp files dead writers left in every principal's directory
   * (each under that directory's in-process queue, so never beside this
   * process's own reservation of it). Returns how many; throws what the
   * filesystem throws (an absent index holds nothing).
   */
  async sweep(): Promise<number> {
    let removed = 0
    if (!(await this.#isRealDir(this.#dir))) return 0 // absent (or a link, never swept through)
    for (const key of await this.#names(this.#dir)) {
      const dir = join(this.#dir, key)
      if (!(await this.#isRealDir(dir))) continue
      removed += await this.#serial(dir, async () => this.#sweepDir(dir, await this.#names(dir)))
    }
    return removed
  }

  async #isRealDir(path: string): Promise<boolean> {
    return (await this.#fs.lstat(path).catch(() => undefined))?.isDirectory() === true
  }

  /** Sweeps `dir` (whose names were just read) by the owner rule; 0 when sweeping is not configured. */
  async #sweepDir(dir: string, names: readonly string[]): Promise<number> {
    if (this.#sweep === undefined) return 0
    return sweepTemps(this.#fs, dir, {
      probe: this.#sweep.probe,
      maxAgeMs: this.#sweep.maxAgeMs,
      nowMs: this.#now(),
      names,
    })
  }

  async #settle(principal: string, factory: string, stack: string): Promise<void> {
    const holder = await this.#root
      .stack(factory, stack)
      .inspectLock()
      .catch(() => undefined)
    const dir = this.#principalDir(principal)
    // Held: the entry is confirmed (no longer pending), so it goes stale the moment the marker stops naming the principal.
    if (holder?.principal === principal) {
      if ((await this.#read(join(dir, entryName(factory, stack))))?.pendingUntil !== 0)
        await this.#put(dir, entryName(factory, stack), false, principal, 0)
    } else {
      await this.#remove(join(dir, entryName(factory, stack)))
      await this.#fs.rmdir(dir).catch(() => {}) // a refused first lock leaves nothing behind (ENOTEMPTY keeps the others)
    }
  }

  startRebuild(onError: (err: unknown) => void): void {
    this.#rebuilt = this.#rebuild().catch(onError)
  }

  async #rebuild(): Promise<void> {
    const names = await this.#root.stackNames().catch(() => [])
    for (let i = 0; i < names.length; i += REBUILD_CONCURRENCY) {
      await Promise.all(
        names.slice(i, i + REBUILD_CONCURRENCY).map(async ({ factory, stack }) => {
          const holder = await this.#root
            .stack(factory, stack)
            .inspectLock()
            .catch(() => undefined)
          if (holder?.principal == null) return
          const dir = this.#principalDir(holder.principal)
          await this.#fs.mkdir(dir, { recursive: true })
          await this.#put(dir, entryName(factory, stack), true, holder.principal, 0) // an existing entry is left as it is
        }),
      )
    }
    let principals: string[] = []
    try {
      principals = await this.#fs.readdir(this.#dir)
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err
    }
    for (const key of principals) {
      const dir = join(this.#dir, key)
      for (const name of await this.#entries(dir)) {
        const entry = await this.#read(join(dir, name))
        if (entry !== undefined) await this.#counts(entry.principal, dir, name)
      }
    }
  }

  /** True when the entry counts (held, or pending); removes it when stale. */
  async #counts(principal: string, dir: string, name: string): Promise<boolean> {
    const [factory, stack] = name.split('+') as [string, string]
    if (!isName(factory) || !isName(stack)) return false
    const holder = await this.#root
      .stack(factory, stack)
      .inspectLock()
      .catch(() => undefined)
    if (holder?.principal === principal) return true
    const entry = await this.#read(join(dir, name))
    if (entry !== undefined && entry.pendingUntil > this.#now()) return true
    await this.#remove(join(dir, name))
    return false
  }

  /** Writes an entry; `exclusive`: only if absent (false when it existed). */
  async #put(dir: string, name: string, exclusive: boolean, principal: string, pendingUntil: number): Promise<boolean> {
    const body = Buffer.from(`${JSON.stringify({ principal, pendingUntil })}\n`)
    const temp = await writeTemp(this.#fs, dir, body)
    try {
      if (exclusive) {
        try {
          await this.#fs.link(temp, join(dir, name))
          return true
        } catch (err) {
          if (errnoCode(err) === 'EEXIST') return false
          throw err
        }
      }
      await this.#fs.rename(temp, join(dir, name))
      return true
    } finally {
      await this.#fs.unlink(temp).catch(() => {})
    }
  }

  async #read(path: string): Promise<{ principal: string; pendingUntil: number } | undefined> {
    try {
      const doc = JSON.parse((await this.#fs.readFile(path)).toString('utf8')) as {
        principal?: unknown
        pendingUntil?: unknown
      }
      return {
        principal: typeof doc.principal === 'string' ? doc.principal : '',
        pendingUntil: typeof doc.pendingUntil === 'number' ? doc.pendingUntil : 0,
      }
    } catch {
      return undefined
    }
  }

  async #entries(dir: string): Promise<string[]> {
    return (await this.#names(dir)).filter(isEntry)
  }

  /** Every name in `dir`; none when it is absent. */
  async #names(dir: string): Promise<string[]> {
    try {
      return await this.#fs.readdir(dir)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return []
      throw err
    }
  }

  async #remove(path: string): Promise<void> {
    await this.#fs.unlink(path).catch((err: unknown) => {
      if (errnoCode(err) !== 'ENOENT') throw err
    })
  }

  #principalDir(principal: string): string {
    return join(this.#dir, createHash('sha256').update(principal).digest('hex').slice(0, 32))
  }

  /** Runs `fn` after every earlier reservation, settle or sweep of principal directory `dir`. */
  async #serial<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(dir) ?? Promise.resolve()
    const run = previous.then(fn, fn)
    const tail = run.catch(() => undefined)
    this.#queues.set(dir, tail)
    void tail.then(() => {
      if (this.#queues.get(dir) === tail) this.#queues.delete(dir)
    })
    return run
  }
}

/** True for an entry name (`<factory>+<stack>`): never a temp file or another dot-name. */
function isEntry(name: string): boolean {
  return name.includes('+') && !name.startsWith('.')
}

/** The entry name of a stack: `<factory>+<stack>`. */
function entryName(factory: string, stack: string): string {
  return `${factory}+${stack}`
}
