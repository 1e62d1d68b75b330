/**
 * StackObserver: what changes in one stack, as events — the lock taken,
 * renewed, released, force-unlocked or expired; revs written or deleted;
 * current moved — whoever made the change (this process, another replica on
 * the same volume, or the Go tool). It watches the stack's directory and its
 * `snapshots` directory (a change is seen within milliseconds) and also
 * re-reads the stack's cheap state every `pollMs` (a lease running out
 * changes no file, and some volumes never deliver watch events).
 *
 * One refresh costs: an lstat of the snapshots directory, a read of
 * `current`, a read of the `lock` marker, and, only when the directory's
 * mtime moved, a listing of the revs (and a read of the last release when a
 * holder disappeared). Refreshes never overlap; errors are swallowed and
 * retried at the next tick (the stream stays open; a broken stack shows in
 * its own routes).
 */
import { type FSWatcher, watch as fsWatch } from 'node:fs'
import { lstat } from 'node:fs/promises'
import { join } from 'node:path'
import type { LockHolder, ReleasedLock } from './store.js'

/** A change of a stack. */
export type StackEvent =
  | { readonly type: 'lock.acquired'; readonly holder: LockHolder }
  | { readonly type: 'lock.renewed'; readonly holder: LockHolder }
  | { readonly type: 'lock.released'; readonly holder: LockHolder }
  | {
      readonly type: 'lock.force-unlocked'
      readonly holder: LockHolder
      readonly by: string | null
      readonly reason: string | null
    }
  | { readonly type: 'lock.expired'; readonly holder: LockHolder }
  | { readonly type: 'rev.written'; readonly rev: string }
  | { readonly type: 'rev.deleted'; readonly rev: string }
  | { readonly type: 'current.moved'; readonly rev: string | null; readonly previous: string | null }

/** What a stack looks like now. */
export interface StackView {
  readonly current: string | null
  readonly lock: LockHolder | null
  /** Number of revs, and the newest one. */
  readonly revs: number
  readonly newest: string | null
}

/** The store calls an observer makes (all reads). */
export interface ObservedStore {
  currentRev(): Promise<string>
  inspectLock(): Promise<LockHolder | undefined>
  lastRelease(): Promise<ReleasedLock | undefined>
  list(): Promise<string[]>
}

/** Options of an observer. */
export interface ObserverOptions {
  /** Re-read the stack's state this often even without watch events (milliseconds). */
  readonly pollMs: number
  /** Milliseconds since the epoch (lease expiry). */
  readonly now: () => number
}

/** Watches one stack and reports each change to `emit`. */
export class StackObserver {
  readonly #store: ObservedStore
  readonly #dir: string | undefined
  readonly #options: ObserverOptions
  readonly #emit: (event: StackEvent) => void
  readonly #watchers: FSWatcher[] = []
  #timer: NodeJS.Timeout | undefined
  #view: StackView = { current: null, lock: null, revs: 0, newest: null }
  #revs = new Set<string>()
  #revsMtime = -1
  #running: Promise<void> | undefined
  #again = false
  #closed = false

  constructor(
    store: ObservedStore,
    dir: string | undefined,
    options: ObserverOptions,
    emit: (event: StackEvent) => void,
  ) {
    this.#store = store
    this.#dir = dir
    this.#options = options
    this.#emit = emit
  }

  /** The view as of the last refresh. */
  view(): StackView {
    return this.#view
  }

  /** Reads the initial view, then watches. */
  async start(): Promise<StackView> {
    await this.#read(false)
    this.#watch()
    this.#timer = setInterval(() => this.refresh(), this.#options.pollMs)
    this.#timer.unref()
    return this.#view
  }

  /** Re-reads the stack now (coalesced with a refresh already running). */
  refresh(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    if (this.#running !== undefined) {
      this.#again = true
      return this.#running
    }
    this.#running = (async () => {
      do {
        this.#again = false
        await this.#read(true).catch(() => undefined)
      } while (this.#again && !this.#closed)
    })().finally(() => {
      this.#running = undefined
    })
    return this.#running
  }

  /** Stops watching. */
  close(): void {
    this.#closed = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    for (const w of this.#watchers.splice(0)) w.close()
  }

  #watch(): void {
    if (this.#dir === undefined) return
    // The stack directory may not exist yet; the poll finds it, and watches it then.
    for (const dir of [this.#dir, join(this.#dir, 'snapshots')]) {
      if (this.#watchers.some((w) => (w as FSWatcher & { dir?: string }).dir === dir)) continue
      try {
        const watcher = fsWatch(dir, { persistent: false }, () => {
          void this.refresh()
        })
        watcher.on('error', () => watcher.close())
        Object.assign(watcher, { dir })
        this.#watchers.push(watcher)
      } catch {
        // not there (yet) or not watchable: the poll covers it
      }
    }
  }

  async #read(report: boolean): Promise<void> {
    const before = this.#view
    const current = await this.#store.currentRev().catch(() => null)
    const lock = (await this.#store.inspectLock().catch(() => undefined)) ?? null
    let revs = this.#revs
    // Without a directory to stat, every refresh lists the revs.
    const mtime =
      this.#dir === undefined
        ? Number.NaN
        : await lstat(join(this.#dir, 'snapshots')).then(
            (s) => s.mtimeMs,
            () => 0,
          )
    if (mtime !== this.#revsMtime) {
      const listed = await this.#store.list().catch(() => null)
      if (listed !== null) {
        revs = new Set(listed)
        this.#revsMtime = mtime
        if (report) {
          for (const rev of listed) if (!this.#revs.has(rev)) this.#emit({ type: 'rev.written', rev })
          for (const rev of this.#revs) if (!revs.has(rev)) this.#emit({ type: 'rev.deleted', rev })
        }
        this.#revs = revs
        if (this.#dir !== undefined && this.#watchers.length < 2) this.#watch()
      }
    }
    const newest = revs.size === 0 ? null : [...revs].at(-1)!
    this.#view = { current, lock, revs: revs.size, newest }
    if (!report) return
    if (current !== before.current) this.#emit({ type: 'current.moved', rev: current, previous: before.current })
    const was = before.lock
    if (was !== null && (lock === null || lock.id !== was.id)) await this.#released(was)
    if (lock !== null && (was === null || lock.id !== was.id)) this.#emit({ type: 'lock.acquired', holder: lock })
    else if (lock !== null && was !== null && lock.expires !== was.expires)
      this.#emit({ type: 'lock.renewed', holder: lock })
  }

  async #released(holder: LockHolder): Promise<void> {
    const release = await this.#store.lastRelease().catch(() => undefined)
    if (release !== undefined && release.holder.id === holder.id) {
      if (release.event === 'force-unlock')
        return this.#emit({
          type: 'lock.force-unlocked',
          holder,
          by: release.by ?? null,
          reason: release.reason ?? null,
        })
      if (release.event === 'expired') return this.#emit({ type: 'lock.expired', holder })
      return this.#emit({ type: 'lock.released', holder })
    }
    const expired = holder.expires !== null && Date.parse(holder.expires) <= this.#options.now()
    this.#emit(expired ? { type: 'lock.expired', holder } : { type: 'lock.released', holder })
  }
}
