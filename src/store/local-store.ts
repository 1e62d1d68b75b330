/**
 * The local filesystem store of one factory/stack, in the Go tool's layout:
 *
 * ```
 * <root>/<factory>/<stack>/
 *   current                  rev + "\n"
 *   lock                     present while locked (JSON holder; the Go tool writes "<pid>\n")
 *   snapshots/<rev>.json.enc envelopes
 *   .lock-released           how the lock was last released (our addition; the Go tool ignores it)
 *   .mutex/                  proper-lockfile's short internal mutex (our addition)
 *   .trash/<rev>@<deleted>.json.enc  revs a prune removed, restorable until purged (our addition)
 * ```
 *
 * Safety never rests on one process's memory: rev names are claimed with
 * `link` (exclusive), the lock marker with `link`, pointers replaced with
 * `rename`, and every publication is fsynced with its directory. The mutex
 * only orders multi-step changes (CAS on current, lock transitions) between
 * processes; if it ever admitted two owners, exclusive create would still
 * keep one holder and one file per rev.
 */
import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { type FSWatcher, watch } from 'node:fs'
import { join } from 'node:path'
import type { Clock } from '../clock.js'
import type { Encrypter } from '../crypto/encrypter.js'
import { StateError, isStateError } from '../errors.js'
import { createExclusive, isRenamed, readNoFollow, removeStaleTemps, replaceAtomic, syncDir, writeTemp } from '../fs/durable.js'
import { type FsOps, errnoCode, nodeFs } from '../fs/fs-ops.js'
import { Mutex } from '../fs/mutex.js'
import { UndoLog } from '../fs/undo-log.js'
import { UNOBIN_PAYLOAD, decodeEnvelope, encodeEnvelope } from './envelope.js'
import { decodeHolder, decodeRelease, encodeHolder, encodeRelease } from './lock-marker.js'
import { assertName } from './names.js'
import { type RetentionPolicy, selectPrunable } from './retention-policy.js'
import { type ParsedRev, assertRev, formatInstant, formatRev, nextRev, parseRev, sortRevs } from './rev.js'
import type { Fence, LockClaims, LockContext, LockHolder, LockOptions, ReleasedLock, Snapshot, Store, WriteOptions, WriteOutcome } from './store.js'
import type { SnapshotCache } from './snapshot-cache.js'
import { validateUnobinSnapshot } from './unobin-snapshot.js'

const SNAPSHOT_SUFFIX = '.json.enc'
const LOCK_FILE = 'lock'
const RELEASE_FILE = '.lock-released'
/**
 * The last locks lost to an expired lease or a force-unlock (a JSON array,
 * newest last), so their holders keep hearing `lock-lost` after later holders
 * came and went; written only at those (rare) events, read only on refusal.
 */
const LOST_FILE = '.lock-lost'
const LOST_KEPT = 32
const CURRENT_FILE = 'current'
/** Where prune moves revs: inside the stack but outside `snapshots/`, so neither the Go tool nor list sees them. */
const TRASH_DIR = '.trash'

/** What a local store needs; everything is passed in. */
export interface LocalStoreOptions {
  readonly root: string
  readonly factory: string
  readonly stack: string
  readonly encrypter: Encrypter
  readonly clock: Clock
  /** This process's pid and host, recorded with lock holders. */
  readonly identity: { readonly pid: number; readonly host: string }
  readonly fs?: FsOps
  /** Fallback poll interval (ms) while waiting for a lock held by another process. Default 100. */
  readonly pollMs?: number
  /** Temp files older than this (ms) are leftovers of crashed writes and are removed. Default 60 000. */
  readonly tempMaxAgeMs?: number
  /** proper-lockfile stale time for the internal mutex (ms). Default 10 000. */
  readonly mutexStaleMs?: number
  /** Opened revs kept in memory (shared by the stacks of a root); none when absent. */
  readonly cache?: SnapshotCache
  /** Receives warnings (e.g. a compromised mutex); never given secrets. */
  readonly onWarning?: (message: string) => void
}

/** Options of `gc`. */
export interface GcOptions {
  /** Keep the newest `keep` revs (the current rev is always kept too). */
  readonly keep: number
  readonly dryRun?: boolean
  readonly fence?: Fence
}

/** The result of `gc`: what was (or would be) deleted and what stays. */
export interface GcResult {
  readonly deleted: string[]
  readonly kept: string[]
}

/** Options of `prune`. */
export interface PruneOptions {
  readonly policy: RetentionPolicy
  readonly dryRun?: boolean
  readonly fence?: Fence
  /** Also remove trash entries pruned longer ago than this, in the same undoable change. */
  readonly purgeWindowMs?: number
}

/** The result of `prune`: what was (or would be) moved to the trash and what stays, oldest first, and the trash entries purged. */
export interface PruneResult {
  readonly trashed: string[]
  readonly kept: string[]
  readonly purged: TrashEntry[]
}

/** A rev in the stack's trash: its name and when a prune moved it there. */
export interface TrashEntry {
  readonly rev: string
  /** RFC 3339 instant of the prune. */
  readonly deletedAt: string
}

/** What `reseal` did to one rev: re-sealed it, found it already sealed with the sealing key, or found no such file. */
export type ResealOutcome = 'resealed' | 'skipped' | 'absent'

/** The store of one factory/stack on the local filesystem. */
export class LocalStore implements Store {
  readonly #factory: string
  readonly #stack: string
  readonly #dir: string
  readonly #snapshots: string
  readonly #root: string
  readonly #encrypter: Encrypter
  readonly #clock: Clock
  readonly #fs: FsOps
  readonly #identity: { readonly pid: number; readonly host: string }
  readonly #pollMs: number
  readonly #tempMaxAgeMs: number
  readonly #mutex: Mutex
  readonly #changes = new EventEmitter()
  readonly #warn: (message: string) => void
  readonly #parsedRevs = new Map<string, ParsedRev | null>()
  readonly #cache: SnapshotCache | undefined
  /** The last `current` read, under the stat of the file it was read from (see #readCurrent). */
  #currentMemo: { key: string; rev: string | null } | undefined
  #ready = false
  #watcher: FSWatcher | undefined
  #waiters = 0

  constructor(options: LocalStoreOptions) {
    this.#factory = assertName('factory', options.factory)
    this.#stack = assertName('stack', options.stack)
    this.#root = options.root
    this.#dir = join(options.root, this.#factory, this.#stack)
    this.#snapshots = join(this.#dir, 'snapshots')
    this.#encrypter = options.encrypter
    this.#clock = options.clock
    this.#fs = options.fs ?? nodeFs
    this.#identity = options.identity
    this.#pollMs = options.pollMs ?? 100
    this.#tempMaxAgeMs = options.tempMaxAgeMs ?? 60_000
    this.#warn = options.onWarning ?? (() => {})
    this.#cache = options.cache
    this.#mutex = new Mutex(join(this.#dir, '.mutex'), {
      ...(options.mutexStaleMs === undefined ? {} : { staleMs: options.mutexStaleMs }),
      onCompromised: (err) => this.#warn(`internal mutex of ${this.#name()} compromised: ${err.message}`),
    })
    this.#changes.setMaxListeners(0)
  }

  stack(): { factory: string; stack: string } {
    return { factory: this.#factory, stack: this.#stack }
  }

  async current(): Promise<Snapshot> {
    const rev = await this.currentRev()
    try {
      return await this.get(rev)
    } catch (err) {
      if (isStateError(err, 'rev-not-found')) {
        throw new StateError('dangling-current', `current of ${this.#name()} names rev ${rev}, which is not stored: point current at a stored rev (PUT …/current) after checking the history`, { ...this.#where(), rev })
      }
      throw err
    }
  }

  async currentRev(): Promise<string> {
    return this.#io('reading current', async () => {
      await this.#dirs(false) // refuses a symlinked factory or stack directory before reading through it
      const rev = await this.#readCurrent()
      if (rev === null) throw new StateError('no-current', `${this.#name()} has no current rev`, this.#where())
      return rev
    })
  }

  async get(rev: string): Promise<Snapshot> {
    assertRev(rev)
    return this.#io(`reading rev ${rev}`, async () => {
      if (!(await this.#dirs(false))) throw this.#revNotFound(rev)
      const path = join(this.#snapshots, rev + SNAPSHOT_SUFFIX)
      let st
      try {
        st = await this.#fs.lstat(path)
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') throw this.#revNotFound(rev)
        throw err
      }
      const key = cacheKey(path, st)
      const cached = this.#cache?.get(key)
      if (cached !== undefined) return cached
      const bytes = await readNoFollow(this.#fs, path)
      if (bytes === undefined) throw this.#revNotFound(rev)
      try {
        const envelope = decodeEnvelope(bytes)
        const snapshot = { rev, payloadType: envelope.payloadType, body: this.#encrypter.open(envelope.ciphertext, envelope.encrypter) }
        this.#cache?.set(key, snapshot)
        return snapshot
      } catch (err) {
        if (isStateError(err, 'unreadable-snapshot')) {
          throw new StateError('unreadable-snapshot', `rev ${rev} of ${this.#name()} cannot be read: ${err.message}`, { ...this.#where(), rev, ...err.details })
        }
        throw err
      }
    })
  }

  async write(body: Buffer, options: WriteOptions): Promise<string> {
    return (await this.writeSnapshot(body, options)).rev
  }

  async writeSnapshot(body: Buffer, options: WriteOptions): Promise<WriteOutcome> {
    if (options.payloadType === UNOBIN_PAYLOAD) validateUnobinSnapshot(body)
    const sealed = encodeEnvelope({ payloadType: options.payloadType, encrypter: this.#encrypter.ref, ciphertext: this.#encrypter.seal(body) })
    return this.#io('writing a snapshot', async () => {
      // Fenced before the directories are made: a refused write leaves no trace (not even a new stack).
      await this.#dirs(false)
      await this.#assertFence(options.fence)
      await this.#dirs(true)
      const outcome = await this.#publish(sealed, options.fence, options.makeCurrent === true)
      await this.#remember(outcome.rev, { rev: outcome.rev, payloadType: options.payloadType, body })
      return outcome
    })
  }

  async setCurrent(rev: string, options: { fence?: Fence; ifMatch?: string | null } = {}): Promise<{ previous: string | null }> {
    assertRev(rev)
    return this.#io(`setting current to ${rev}`, async () => {
      if (!(await this.#dirs(false))) throw this.#revNotFound(rev)
      return this.#mutex.run(async () => {
        await this.#assertFence(options.fence)
        const previous = await this.#readCurrent()
        if (options.ifMatch !== undefined && options.ifMatch !== previous) {
          throw new StateError('current-mismatch', `current of ${this.#name()} is ${previous ?? 'unset'}, not ${options.ifMatch ?? 'unset'}: re-read it and retry`, { ...this.#where(), current: previous })
        }
        await this.get(rev) // must exist and open: never point current at an unreadable rev
        await this.#movePointer(rev, previous)
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
    return this.#io('clearing current', async () => {
      if (!(await this.#dirs(false))) return { previous: null }
      return this.#mutex.run(async () => {
        await this.#assertFence(options.fence)
        const previous = await this.#readCurrent()
        if (previous !== null) {
          await this.#undoable(async (log) => {
            await log.hide(this.#dir, CURRENT_FILE)
            await syncDir(this.#fs, this.#dir)
          })
        }
        return { previous }
      })
    })
  }

  async list(): Promise<string[]> {
    return this.#io('listing revs', async () => {
      if (!(await this.#dirs(false))) return []
      return sortRevs(await this.#revNames())
    })
  }

  async delete(rev: string, options: { fence?: Fence; force?: boolean } = {}): Promise<{ deleted: boolean; clearedCurrent: boolean }> {
    assertRev(rev)
    return this.#io(`deleting rev ${rev}`, async () => {
      if (!(await this.#dirs(false))) return { deleted: false, clearedCurrent: false }
      return this.#mutex.run(async () => {
        await this.#assertFence(options.fence)
        return this.#undoable(async (log) => {
          const outcome = await this.#deleteRev(rev, options.force === true, log)
          if (outcome.deleted) await syncDir(this.#fs, this.#snapshots)
          if (outcome.clearedCurrent) await syncDir(this.#fs, this.#dir)
          return outcome
        })
      })
    })
  }

  /** Deletes all but the newest `keep` revs and the current one (or only reports them with `dryRun`). */
  async gc(options: GcOptions): Promise<GcResult> {
    return this.#io('collecting garbage', async () => {
      if (!(await this.#dirs(false))) return { deleted: [], kept: [] }
      return this.#mutex.run(async () => {
        await this.#assertFence(options.fence)
        const revs = sortRevs(await this.#revNames())
        const current = await this.#readCurrent()
        const newest = new Set(revs.slice(Math.max(0, revs.length - options.keep)))
        const deleted = revs.filter((r) => !newest.has(r) && r !== current && parseRev(r) !== undefined)
        const kept = revs.filter((r) => !deleted.includes(r))
        if (options.dryRun !== true && deleted.length > 0) {
          await this.#undoable(async (log) => {
            for (const rev of deleted) await this.#deleteRev(rev, false, log)
            await syncDir(this.#fs, this.#snapshots)
          })
        }
        return { deleted, kept }
      })
    })
  }

  /**
   * Moves the revs `options.policy` does not keep (see retention-policy.ts;
   * the current and the newest rev are always kept) into the stack's trash,
   * from which `restore` brings them back until `purgeTrash` removes them.
   * Fenced like every change of history. Each move is a rename; if one
   * fails, the revs already moved are moved back before the error is thrown.
   */
  async prune(options: PruneOptions): Promise<PruneResult> {
    return this.#io('pruning revs', async () => {
      if (!(await this.#dirs(false))) return { trashed: [], kept: [], purged: [] }
      return this.#mutex.run(async () => {
        await this.#assertFence(options.fence)
        const { prune, keep } = selectPrunable(await this.#revNames(), await this.#readCurrent(), options.policy, this.#clock.nowNanos())
        const purge = options.purgeWindowMs === undefined ? [] : await this.#expiredTrash(options.purgeWindowMs)
        if (options.dryRun === true || (prune.length === 0 && purge.length === 0)) return { trashed: prune, kept: keep, purged: purge }
        const trash = (await this.#trashDir(true))!
        const deletedAt = this.#now()
        // One undoable change: expired trash entries hidden, pruned revs moved in; an error puts everything back.
        await this.#undoable(async (log) => {
          for (const e of purge) await log.hide(trash, trashName(e.rev, e.deletedAt))
          for (const rev of prune) await log.move(join(this.#snapshots, rev + SNAPSHOT_SUFFIX), join(trash, trashName(rev, deletedAt)))
          await syncDir(this.#fs, trash)
          if (prune.length > 0) await syncDir(this.#fs, this.#snapshots)
        })
        return { trashed: prune, kept: keep, purged: purge }
      })
    })
  }

  /** The revs in the stack's trash, oldest rev first (an absent trash is empty). */
  async trashed(): Promise<TrashEntry[]> {
    return this.#io('listing the trash', async () => {
      if (!(await this.#dirs(false))) return []
      return this.#trashEntries()
    })
  }

  /**
   * Brings `rev` back from the trash into the history (the newest copy when
   * it was pruned more than once). Current does not move. Throws
   * `rev-not-found` when the trash holds no such rev. A rev already back in
   * the history (a restore that crashed half-way) only loses its trash copy:
   * a rev name always names the same snapshot.
   */
  async restore(rev: string, options: { fence?: Fence } = {}): Promise<TrashEntry> {
    assertRev(rev)
    return this.#io(`restoring rev ${rev}`, async () => {
      if (!(await this.#dirs(false))) throw this.#notInTrash(rev)
      return this.#mutex.run(async () => {
        await this.#assertFence(options.fence)
        const entry = (await this.#trashEntries()).filter((e) => e.rev === rev).at(-1)
        if (entry === undefined) throw this.#notInTrash(rev)
        const trash = join(this.#dir, TRASH_DIR)
        await this.#undoable(async (log) => {
          // Exclusive: never replaces a rev (already back after a restore that crashed half-way: same name, same snapshot).
          if (await log.link(join(trash, trashName(entry.rev, entry.deletedAt)), join(this.#snapshots, rev + SNAPSHOT_SUFFIX))) await syncDir(this.#fs, this.#snapshots)
          await log.hide(trash, trashName(entry.rev, entry.deletedAt))
          await syncDir(this.#fs, trash)
        })
        return entry
      })
    })
  }

  /**
   * Removes trash entries older than `windowMs` (by the instant of their
   * prune), and leftover temp files of the trash. Returns what was (or with
   * `dryRun` would be) removed. Removing what is absent is not an error.
   */
  async purgeTrash(windowMs: number, options: { dryRun?: boolean } = {}): Promise<TrashEntry[]> {
    return this.#io('purging the trash', async () => {
      if (!(await this.#dirs(false))) return []
      const trash = await this.#trashDir(false)
      if (trash === undefined) return []
      const nowNanos = this.#clock.nowNanos()
      const expired = await this.#expiredTrash(windowMs)
      if (options.dryRun === true) return expired
      await removeStaleTemps(this.#fs, trash, this.#tempMaxAgeMs, Number(nowNanos / 1_000_000n))
      if (expired.length === 0) return []
      await this.#mutex.run(() =>
        this.#undoable(async (log) => {
          for (const e of expired) await log.hide(trash, trashName(e.rev, e.deletedAt))
          await syncDir(this.#fs, trash)
        }),
      )
      return expired
    })
  }

  /**
   * Re-seals one rev with the sealing key (key rotation): reads it, opens it
   * with any configured key, seals the same plaintext with the sealing key
   * and atomically replaces the file under the same name (temp file, fsync,
   * rename, directory fsync), so a crash leaves the old or the new envelope,
   * both readable while the old key is configured. A rev the sealing key
   * already opens is skipped, so a rerun resumes where a killed run stopped.
   * With `trashedAt`, re-seals that trash entry instead (restorable revs must
   * outlive the old key too). Content and pointers do not change, so this
   * needs no stack lock; it takes the stack's mutex so that a rev being
   * deleted is never brought back. Throws `unreadable-snapshot` when no
   * configured key opens the rev.
   */
  async reseal(rev: string, options: { trashedAt?: string } = {}): Promise<ResealOutcome> {
    assertRev(rev)
    const where = options.trashedAt === undefined ? `rev ${rev}` : `rev ${rev} in the trash`
    return this.#io(`re-sealing ${where}`, async () => {
      if (!(await this.#dirs(false))) return 'absent'
      const dir = options.trashedAt === undefined ? this.#snapshots : join(this.#dir, TRASH_DIR)
      const name = options.trashedAt === undefined ? rev + SNAPSHOT_SUFFIX : trashName(rev, options.trashedAt)
      return this.#mutex.run(async (): Promise<ResealOutcome> => {
        const bytes = await readNoFollow(this.#fs, join(dir, name))
        if (bytes === undefined) return 'absent'
        let resealed: Buffer
        try {
          const envelope = decodeEnvelope(bytes)
          if (this.#encrypter.isSealedWithSealingKey(envelope.ciphertext, envelope.encrypter)) return 'skipped'
          const body = this.#encrypter.open(envelope.ciphertext, envelope.encrypter)
          resealed = encodeEnvelope({ payloadType: envelope.payloadType, encrypter: this.#encrypter.ref, ciphertext: this.#encrypter.seal(body) })
        } catch (err) {
          if (isStateError(err, 'unreadable-snapshot')) {
            throw new StateError('unreadable-snapshot', `${where} of ${this.#name()} cannot be re-sealed: ${err.message}`, { ...this.#where(), rev, ...err.details })
          }
          throw err
        }
        await replaceAtomic(this.#fs, dir, name, resealed)
        return 'resealed'
      })
    })
  }

  /** How many `lock` calls of this store are waiting for the lock right now (this process only). */
  get waiting(): number {
    return this.#waiters
  }

  async lock(claims: LockClaims, context: LockContext, options: LockOptions = {}): Promise<LockHolder> {
    const waitMs = Math.max(0, options.waitMs ?? 0)
    const deadline = Date.now() + waitMs
    const signal = options.signal
    return this.#io('taking the lock', async () => {
      await this.#dirs(true)
      for (;;) {
        signal?.throwIfAborted()
        const attempt = await this.#mutex.run(() => this.#tryAcquire(claims, context, options.ttlMs))
        if (attempt.acquired) {
          if (signal?.aborted === true) {
            // The caller went away while we were acquiring: never leave a lock behind.
            await this.unlock(attempt.holder.id).catch(() => {})
            signal.throwIfAborted()
          }
          return attempt.holder
        }
        const now = Date.now()
        if (waitMs === 0 || now >= deadline) {
          if (waitMs > 0) throw new StateError('wait-timeout', `${this.#name()} stayed locked for the whole wait of ${Math.round(waitMs / 1000)} s: ${describeHolder(attempt.holder)}`, { ...this.#where(), holder: attempt.holder })
          throw this.#locked(attempt.holder)
        }
        const expiresMs = attempt.holder.expires === null ? Infinity : Date.parse(attempt.holder.expires) - this.#nowMs() + now
        await this.#waitForChange(Math.min(deadline, expiresMs + 1), signal)
      }
    })
  }

  async inspectLock(): Promise<LockHolder | undefined> {
    return this.#io('reading the lock', async () => {
      await this.#dirs(false) // refuses a symlinked factory or stack directory before reading through it
      const holder = await this.#readMarker()
      return holder !== undefined && !this.#expired(holder) ? holder : undefined
    })
  }

  async renew(id: string, ttlMs: number | undefined): Promise<LockHolder> {
    return this.#io('renewing the lock', async () => {
      if (!(await this.#dirs(false))) throw this.#notHeld(id)
      return this.#mutex.run(async () => {
        const holder = await this.#readMarker()
        // A marker the Go tool wrote (or an unreadable one) is someone else's lock: never renewed into ours.
        if (holder?.legacy) throw this.#locked(holder)
        if (holder === undefined || holder.id !== id) {
          const live = holder !== undefined && !this.#expired(holder) ? holder : undefined
          // Checked before "locked": a holder whose lease expired or was force-unlocked must learn it lost the lock.
          const lost = await this.#lostRecord(id)
          if (lost !== undefined) throw this.#lost(lost, live)
          if (live !== undefined) throw this.#locked(live)
          throw this.#notHeld(id)
        }
        if (this.#expired(holder)) throw this.#lost({ event: 'expired', holder, generation: holder.generation, at: holder.expires ?? '' })
        const renewed: LockHolder = { ...holder, expires: this.#expiry(ttlMs) }
        await replaceAtomic(this.#fs, this.#dir, LOCK_FILE, encodeHolder(renewed))
        return renewed
      })
    })
  }

  async unlock(id: string): Promise<LockHolder> {
    return this.#io('releasing the lock', async () => {
      if (!(await this.#dirs(false))) throw this.#notHeld(id)
      const released = await this.#mutex.run(async () => {
        const holder = await this.#readMarker()
        if (holder !== undefined && holder.id === id && !holder.legacy) {
          // One atomic step: the marker itself becomes the release record (an unlock keeps its generation).
          await this.#fs.rename(join(this.#dir, LOCK_FILE), join(this.#dir, RELEASE_FILE))
          await syncDir(this.#fs, this.#dir)
          return holder
        }
        const release = await this.#readRelease()
        if (release !== undefined && release.holder.id === id && release.event === 'unlock') return release.holder // a retry of an unlock that succeeded
        if (holder !== undefined && !this.#expired(holder)) throw this.#locked(holder)
        const lost = await this.#lostRecord(id)
        if (lost !== undefined) throw this.#lost(lost)
        throw this.#notHeld(id)
      })
      this.#changes.emit('change')
      return released
    })
  }

  async forceUnlock(by: { principal?: string | null; reason?: string | null } = {}): Promise<LockHolder | undefined> {
    return this.#io('force-unlocking', async () => {
      if (!(await this.#dirs(false))) return undefined
      const removed = await this.#mutex.run(async () => {
        const holder = await this.#readMarker()
        if (holder === undefined) return undefined
        const before = await this.#generation(holder)
        await this.#recordRelease({ event: 'force-unlock', holder, generation: before + 1, at: this.#now(), by: by.principal ?? null, reason: by.reason ?? null })
        await this.#removeMarker(holder.id)
        return holder
      })
      if (removed !== undefined) this.#changes.emit('change')
      return removed
    })
  }

  async lastRelease(): Promise<ReleasedLock | undefined> {
    return this.#io('reading the last release', async () => ((await this.#dirs(false)) ? this.#readRelease() : undefined))
  }

  async generation(): Promise<number> {
    return this.#io('reading the generation', async () => ((await this.#dirs(false)) ? this.#generation(await this.#readMarker()) : 0))
  }

  /** Stops watching the stack directory (waiters fall back to polling). */
  close(): void {
    this.#watcher?.close()
    this.#watcher = undefined
  }

  // --- snapshots -----------------------------------------------------------

  /** Caches what was just written (a write is usually read back next, e.g. as current). */
  async #remember(rev: string, snapshot: Snapshot): Promise<void> {
    if (this.#cache === undefined) return
    const path = join(this.#snapshots, rev + SNAPSHOT_SUFFIX)
    const st = await this.#fs.lstat(path).catch(() => undefined)
    if (st?.isFile()) this.#cache.set(cacheKey(path, st), snapshot)
  }

  /**
   * Claims the next rev with an exclusive link of one fsynced temp file
   * (retrying on collision), and makes it current when asked. The fence check,
   * the link and the move of current happen in one critical section of the
   * stack mutex, which lock, unlock and force-unlock also take: a lock granted
   * to another client between the check and the link would otherwise let a
   * refused write land anyway (found by the kill -9 torture test). A failure
   * before current moved withdraws the rev, so an error means nothing changed.
   */
  async #publish(sealed: Buffer, fence: Fence | undefined, makeCurrent: boolean): Promise<WriteOutcome> {
    let temp = await writeTemp(this.#fs, this.#snapshots, sealed)
    try {
      return await this.#mutex.run(async () => {
        await this.#assertFence(fence)
        for (let attempt = 0; attempt < 1000; attempt++) {
          const rev = formatRev(nextRev(this.#clock.nowNanos(), newestRev(await this.#revNames(), this.#parsedRevs)))
          const path = join(this.#snapshots, rev + SNAPSHOT_SUFFIX)
          try {
            await this.#fs.link(temp, path)
          } catch (err) {
            const code = errnoCode(err)
            if (code === 'EEXIST') continue // a writer outside this server (the Go tool) claimed this rev first
            if (code === 'ENOENT') {
              temp = await writeTemp(this.#fs, this.#snapshots, sealed) // our temp was cleaned up: write it again
              continue
            }
            throw err
          }
          let current = false
          try {
            await syncDir(this.#fs, this.#snapshots)
            if (makeCurrent) {
              const previous = await this.#readCurrent()
              // Never move current backwards: a writer outside the mutex (the Go tool) may have made a later rev current.
              current = previous === null || sortRevs([previous, rev])[1] === rev
              if (current) await this.#movePointer(rev, previous)
            }
          } catch (err) {
            // Not durable, or current did not move: withdraw the rev (unless current names it after all).
            if ((err as { currentMoved?: boolean }).currentMoved !== true) await this.#fs.unlink(path).catch(() => {})
            throw err
          }
          return { rev, current }
        }
        throw new Error(`could not claim a rev in ${this.#name()} after 1000 attempts`)
      })
    } finally {
      await this.#fs.unlink(temp).catch(() => {})
    }
  }

  async #revNames(): Promise<string[]> {
    const entries = await this.#fs.readdir(this.#snapshots, { withFileTypes: true })
    return entries.filter((e) => e.isFile() && e.name.endsWith(SNAPSHOT_SUFFIX) && !e.name.startsWith('.')).map((e) => e.name.slice(0, -SNAPSHOT_SUFFIX.length))
  }

  /**
   * The rev `current` names, or null. Another process may replace the file
   * at any moment, so it is checked at every call, but with one `lstat`: the
   * file is only ever replaced whole (a new inode by rename), so while its
   * inode, size, mtime and ctime are unchanged its content is the one last
   * read. Anything but a regular file takes the full read, with its errors.
   */
  async #readCurrent(): Promise<string | null> {
    const path = join(this.#dir, CURRENT_FILE)
    let st
    try {
      st = await this.#fs.lstat(path)
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err
      this.#currentMemo = undefined
      return null
    }
    const key = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`
    if (st.isFile() && this.#currentMemo?.key === key) return this.#currentMemo.rev
    const bytes = await readNoFollow(this.#fs, path)
    const text = bytes?.toString('utf8').trim() ?? ''
    if (text !== '' && parseRev(text) === undefined) {
      throw new StateError('unreadable-snapshot', `current of ${this.#name()} does not hold a rev (it holds ${JSON.stringify(text.slice(0, 80))}): point current at a stored rev`, this.#where())
    }
    const rev = text === '' ? null : text
    // Remembered under the stat taken before the read: if the file was replaced in between, the next stat differs.
    this.#currentMemo = st.isFile() ? { key, rev } : undefined
    return rev
  }

  /**
   * Hides `rev` (and current, when it names `rev` and `force` allows) in
   * `log`; the caller fsyncs and commits. The rev goes first, current second:
   * a crash in between leaves a dangling current (an explicit error) rather
   * than a stack without current (which a client would read as "no state").
   */
  async #deleteRev(rev: string, force: boolean, log: UndoLog): Promise<{ deleted: boolean; clearedCurrent: boolean }> {
    const isCurrent = (await this.#readCurrent()) === rev
    if (isCurrent && !force) throw new StateError('rev-is-current', `rev ${rev} is the current one of ${this.#name()}: point current elsewhere first, or delete with force (which leaves the stack without current)`, { ...this.#where(), rev })
    const deleted = await log.hide(this.#snapshots, rev + SNAPSHOT_SUFFIX) // removing what is absent is not an error
    const clearedCurrent = isCurrent && (await log.hide(this.#dir, CURRENT_FILE))
    return { deleted, clearedCurrent }
  }

  /** Runs a change of several names as one: everything `fn` did through the log is taken back if it throws. */
  async #undoable<T>(fn: (log: UndoLog) => Promise<T>): Promise<T> {
    const log = new UndoLog(this.#fs, (message) => this.#warn(`${this.#name()}: ${message}`))
    let result: T
    try {
      result = await fn(log)
    } catch (err) {
      await log.rollback()
      throw err
    }
    await log.commit()
    return result
  }

  /**
   * Points current at `rev`. If the directory fsync fails after the rename,
   * the previous pointer is put back, so the error means "current did not
   * move"; returns normally or throws with current as it was (unless even
   * that failed, which is logged).
   */
  async #movePointer(rev: string, previous: string | null): Promise<void> {
    try {
      await replaceAtomic(this.#fs, this.#dir, CURRENT_FILE, Buffer.from(`${rev}\n`))
    } catch (err) {
      if (isRenamed(err)) {
        const restore = previous === null ? this.#fs.unlink(join(this.#dir, CURRENT_FILE)) : replaceAtomic(this.#fs, this.#dir, CURRENT_FILE, Buffer.from(`${previous}\n`))
        await restore.catch((e: unknown) => {
          this.#warn(`${this.#name()}: current could not be put back to ${previous ?? 'unset'} after a failed fsync; it names ${rev}: ${errnoCode(e) ?? String(e)}`)
          throw Object.assign(err as Error, { currentMoved: true })
        })
      }
      throw err
    }
  }

  /** Trash entries pruned more than `windowMs` ago. */
  async #expiredTrash(windowMs: number): Promise<TrashEntry[]> {
    const limit = this.#clock.nowNanos() - BigInt(Math.round(windowMs)) * 1_000_000n
    return (await this.#trashEntries()).filter((e) => (parseRev(e.deletedAt)?.nanos ?? 0n) <= limit)
  }

  // --- trash ---------------------------------------------------------------

  /** The trash directory (created when asked; a symlink is refused); undefined when absent and not created. */
  async #trashDir(create: boolean): Promise<string | undefined> {
    const trash = join(this.#dir, TRASH_DIR)
    return (await this.#realDir(trash, create)) ? trash : undefined
  }

  async #trashEntries(): Promise<TrashEntry[]> {
    const trash = await this.#trashDir(false)
    if (trash === undefined) return []
    const entries = await this.#fs.readdir(trash, { withFileTypes: true })
    const parsed: TrashEntry[] = []
    for (const e of entries) {
      if (!e.isFile() || e.name.startsWith('.') || !e.name.endsWith(SNAPSHOT_SUFFIX)) continue
      const [rev, deletedAt, extra] = e.name.slice(0, -SNAPSHOT_SUFFIX.length).split('@')
      if (rev === undefined || deletedAt === undefined || extra !== undefined || parseRev(rev) === undefined || parseRev(deletedAt) === undefined) continue
      parsed.push({ rev, deletedAt })
    }
    const position = new Map(sortRevs(parsed.map((e) => e.rev)).map((rev, i) => [rev, i]))
    return parsed.sort((a, b) => position.get(a.rev)! - position.get(b.rev)! || (a.deletedAt < b.deletedAt ? -1 : a.deletedAt > b.deletedAt ? 1 : 0))
  }

  #notInTrash(rev: string): StateError {
    return new StateError('rev-not-found', `rev ${rev} is not in the trash of ${this.#name()}: list it with GET …/trash (entries are purged after the trash window)`, { ...this.#where(), rev })
  }

  // --- locks ---------------------------------------------------------------

  async #tryAcquire(claims: LockClaims, context: LockContext, ttlMs: number | undefined): Promise<{ acquired: boolean; holder: LockHolder }> {
    let marker = await this.#readMarker()
    if (marker !== undefined) {
      if (!this.#expired(marker)) {
        // The same client retrying its lock (Terraform retries LOCK on 5xx) gets it again.
        if (claims.id !== undefined && marker.id === claims.id && !marker.legacy) return { acquired: true, holder: marker }
        return { acquired: false, holder: marker }
      }
      await this.#recordRelease({ event: 'expired', holder: marker, generation: await this.#generation(marker), at: this.#now() })
      if (!(await this.#removeMarker(marker.id))) {
        const now = await this.#readMarker()
        if (now !== undefined) return { acquired: false, holder: now }
      }
      marker = undefined
    }
    const holder: LockHolder = {
      id: claims.id ?? randomUUID(),
      generation: (await this.#generation(undefined)) + 1,
      who: claims.who ?? '',
      operation: claims.operation ?? '',
      info: claims.info ?? '',
      principal: context.principal ?? null,
      remote: context.remote ?? null,
      created: this.#now(),
      expires: this.#expiry(ttlMs),
      pid: this.#identity.pid,
      host: this.#identity.host,
      client: claims.client ?? null,
      legacy: false,
    }
    if (await createExclusive(this.#fs, this.#dir, LOCK_FILE, encodeHolder(holder))) return { acquired: true, holder }
    const winner = await this.#readMarker()
    return winner === undefined ? this.#tryAcquire(claims, context, ttlMs) : { acquired: false, holder: winner }
  }

  /**
   * Removes the marker if it still belongs to `id`: renames it to a unique
   * name first (only one remover can win), checks whose it was, and puts back
   * a marker that turned out to be someone else's.
   */
  async #removeMarker(id: string): Promise<boolean> {
    const aside = join(this.#dir, `.tmp-lock-${randomUUID()}`)
    try {
      await this.#fs.rename(join(this.#dir, LOCK_FILE), aside)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false
      throw err
    }
    const taken = await readNoFollow(this.#fs, aside)
    if (taken !== undefined && decodeHolder(taken).id !== id) {
      await this.#fs.link(aside, join(this.#dir, LOCK_FILE)).catch((err: unknown) => this.#warn(`could not restore the lock marker of ${this.#name()}: ${errnoCode(err) ?? String(err)}`))
      await this.#fs.unlink(aside).catch(() => {})
      return false
    }
    await this.#fs.unlink(aside).catch(() => {})
    await syncDir(this.#fs, this.#dir)
    return true
  }

  async #readMarker(): Promise<LockHolder | undefined> {
    const bytes = await readNoFollow(this.#fs, join(this.#dir, LOCK_FILE))
    return bytes === undefined ? undefined : decodeHolder(bytes)
  }

  async #readRelease(): Promise<ReleasedLock | undefined> {
    const bytes = await readNoFollow(this.#fs, join(this.#dir, RELEASE_FILE))
    return bytes === undefined ? undefined : decodeRelease(bytes)
  }

  async #recordRelease(release: ReleasedLock): Promise<void> {
    if (release.event !== 'unlock') {
      const lost = [...(await this.#readLost()), release].slice(-LOST_KEPT)
      await replaceAtomic(this.#fs, this.#dir, LOST_FILE, Buffer.from(`[\n${lost.map((r) => encodeRelease(r).toString('utf8').trim()).join(',\n')}\n]\n`))
    }
    await replaceAtomic(this.#fs, this.#dir, RELEASE_FILE, encodeRelease(release))
  }

  /** The lost-locks log (unreadable entries are skipped: it only sharpens refusals). */
  async #readLost(): Promise<ReleasedLock[]> {
    const bytes = await readNoFollow(this.#fs, join(this.#dir, LOST_FILE))
    if (bytes === undefined) return []
    try {
      const docs: unknown = JSON.parse(bytes.toString('utf8'))
      if (!Array.isArray(docs)) return []
      return docs.map((d) => decodeRelease(Buffer.from(JSON.stringify(d)))).filter((r): r is ReleasedLock => r !== undefined && r.event !== 'unlock')
    } catch {
      return []
    }
  }

  /** How lock `id` was lost (lease expired, force-unlocked), if it was: the last release, else the lost-locks log. */
  async #lostRecord(id: string): Promise<ReleasedLock | undefined> {
    const release = await this.#readRelease()
    if (release !== undefined && release.holder.id === id) return release.event === 'unlock' ? undefined : release
    return (await this.#readLost()).findLast((r) => r.holder.id === id)
  }

  /** The generation: the highest of the held marker's and the last release's. */
  async #generation(marker: LockHolder | undefined): Promise<number> {
    const release = await this.#readRelease()
    return Math.max(release?.generation ?? 0, marker?.generation ?? 0)
  }

  /**
   * Checks a mutation against the lock: a live holder's id must be presented;
   * an id whose lock expired or was force-unlocked is refused; with
   * `requireLock`, an unlocked stack is refused too.
   */
  async #assertFence(fence: Fence | undefined): Promise<void> {
    const holder = await this.#readMarker()
    const lockId = fence?.lockId
    if (holder !== undefined && !this.#expired(holder)) {
      if (lockId !== undefined && lockId === holder.id && !holder.legacy) return
      if (lockId !== undefined) {
        const lost = await this.#lostRecord(lockId)
        if (lost !== undefined) throw this.#lost(lost, holder)
      }
      throw this.#locked(holder)
    }
    if (lockId !== undefined) {
      if (holder !== undefined && holder.id === lockId) throw this.#lost({ event: 'expired', holder, generation: holder.generation, at: holder.expires ?? '' })
      const lost = await this.#lostRecord(lockId)
      if (lost !== undefined) throw this.#lost(lost)
      throw new StateError('lock-not-held', `${this.#name()} is not locked with id ${lockId}: take the lock again before writing`, { ...this.#where(), lockId })
    }
    if (fence?.requireLock === true) {
      throw new StateError('lock-required', `this server requires holding the lock of ${this.#name()} for every change: take the lock and send its id in Lock-Id`, this.#where())
    }
  }

  #expired(holder: LockHolder): boolean {
    if (holder.expires === null) return false
    const expires = Date.parse(holder.expires)
    return Number.isFinite(expires) && expires <= this.#nowMs()
  }

  #expiry(ttlMs: number | undefined): string | null {
    return ttlMs === undefined ? null : formatInstant(this.#clock.nowNanos() + BigInt(Math.round(ttlMs)) * 1_000_000n)
  }

  /** Resolves when the lock may have changed, at `untilMs`, or when `signal` aborts. */
  async #waitForChange(untilMs: number, signal: AbortSignal | undefined): Promise<void> {
    this.#waiters++
    this.#watch()
    try {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          this.#changes.off('change', done)
          signal?.removeEventListener('abort', done)
          resolve()
        }
        const timer = setTimeout(done, Math.max(1, Math.min(untilMs - Date.now(), this.#pollMs)))
        this.#changes.on('change', done)
        signal?.addEventListener('abort', done, { once: true })
      })
    } finally {
      this.#waiters--
      if (this.#waiters === 0) this.close()
    }
  }

  /** Watches the stack directory so a release by another process wakes waiters at once. */
  #watch(): void {
    if (this.#watcher !== undefined) return
    try {
      this.#watcher = watch(this.#dir, { persistent: false }, (_event, name) => {
        if (name === null || name === LOCK_FILE) this.#changes.emit('change')
      })
      this.#watcher.on('error', () => this.close())
    } catch {
      this.#watcher = undefined // polling still wakes waiters
    }
  }

  // --- helpers -------------------------------------------------------------

  /** Verifies the stack's directories are real directories (no symlink out of the root), creating them if asked. */
  async #dirs(create: boolean): Promise<boolean> {
    if (this.#ready) return true
    if (create) await this.#fs.mkdir(this.#root, { recursive: true })
    for (const dir of [join(this.#root, this.#factory), this.#dir, this.#snapshots]) {
      if (!(await this.#realDir(dir, create))) return false
    }
    const nowMs = this.#nowMs()
    await removeStaleTemps(this.#fs, this.#snapshots, this.#tempMaxAgeMs, nowMs)
    await removeStaleTemps(this.#fs, this.#dir, this.#tempMaxAgeMs, nowMs)
    this.#ready = true
    return true
  }

  /**
   * True when `dir` is a real directory (creating it if asked); false when it
   * is absent and not created. Throws `unsafe-path` for a symlink or a file:
   * the server never follows links out of its data directory.
   */
  async #realDir(dir: string, create: boolean): Promise<boolean> {
    let st
    try {
      st = await this.#fs.lstat(dir)
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err
      if (!create) return false
      await this.#fs.mkdir(dir).catch((e: unknown) => {
        if (errnoCode(e) !== 'EEXIST') throw e
      })
      st = await this.#fs.lstat(dir)
    }
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw new StateError('unsafe-path', `${dir} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}; the server never follows links out of its data directory`, this.#where())
    }
    return true
  }

  /** Runs a filesystem step, turning disk faults into errors that name the stack and the operation. */
  async #io<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof StateError || (err instanceof Error && err.name === 'AbortError')) throw err
      const code = errnoCode(err)
      if (code === 'ELOOP') {
        // O_NOFOLLOW met a symlink where a stack file should be: never follow it out of the data directory.
        throw new StateError('unsafe-path', `a file of ${this.#name()} is a symlink while ${operation}; the server never follows links out of its data directory`, { ...this.#where(), operation }, { cause: err })
      }
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new StateError('no-space', `no space left on the data volume while ${operation} in ${this.#name()}: nothing was changed; free space and retry`, { ...this.#where(), operation, errno: code }, { cause: err })
      }
      if (code === 'ENOENT') {
        // A directory of the stack was removed under the running server: look at it afresh next time.
        this.#ready = false
        throw new StateError('storage-failure', `a file or directory of ${this.#name()} disappeared while ${operation} (ENOENT): something outside the server removed it; nothing was changed, retry`, { ...this.#where(), operation, errno: code }, { cause: err })
      }
      if (code !== undefined) {
        throw new StateError('storage-failure', `the data directory refused ${operation} in ${this.#name()} (${code}): nothing was changed; check permissions and the volume, then retry`, { ...this.#where(), operation, errno: code }, { cause: err })
      }
      throw err
    }
  }

  #now(): string {
    return formatInstant(this.#clock.nowNanos())
  }

  #nowMs(): number {
    return Number(this.#clock.nowNanos() / 1_000_000n)
  }

  #name(): string {
    return `${this.#factory}/${this.#stack}`
  }

  #where(): Record<string, string> {
    return { factory: this.#factory, stack: this.#stack }
  }

  #revNotFound(rev: string): StateError {
    return new StateError('rev-not-found', `rev ${rev} is not stored in ${this.#name()}: list the revs with GET …/snapshots`, { ...this.#where(), rev })
  }

  #notHeld(id: string): StateError {
    return new StateError('lock-not-held', `${this.#name()} is not locked with id ${id}`, { ...this.#where(), lockId: id })
  }

  #locked(holder: LockHolder): StateError {
    return new StateError('locked', `${this.#name()} is locked: ${describeHolder(holder)}. Wait for it, or if the holder is gone, force-unlock it (DELETE …/lock?force=true)`, { ...this.#where(), holder })
  }

  #lost(release: ReleasedLock, holder?: LockHolder): StateError {
    const how = release.event === 'expired' ? `its lease expired at ${release.holder.expires ?? release.at}` : `it was force-unlocked at ${release.at}${release.by ? ` by ${release.by}` : ''}${release.reason ? ` (${release.reason})` : ''}`
    return new StateError('lock-lost', `lock ${release.holder.id} on ${this.#name()} is no longer held: ${how}. Nothing was changed; take the lock again and re-read the state before writing`, { ...this.#where(), lockId: release.holder.id, event: release.event, ...(holder ? { holder } : {}) })
  }
}

/** The identity of a rev file for the snapshot cache: a new file under the same name never matches. */
function cacheKey(path: string, st: { ino: number; size: number; mtimeMs: number }): string {
  return `${path}\0${st.ino}:${st.size}:${st.mtimeMs}`
}

/** One line saying who holds a lock and since when, for messages. */
export function describeHolder(holder: LockHolder): string {
  if (holder.legacy) return `held by ${holder.who}`
  const who = holder.who !== '' ? holder.who : (holder.principal ?? 'an unnamed client')
  const parts = [`held by ${who}`]
  if (holder.operation !== '') parts.push(`for ${holder.operation}`)
  if (holder.created !== null) parts.push(`since ${holder.created}`)
  parts.push(`(lock id ${holder.id}, generation ${holder.generation}${holder.expires !== null ? `, lease until ${holder.expires}` : ''})`)
  return parts.join(' ')
}

/** The file name of a trash entry: `<rev>@<deletedAt>.json.enc` (both RFC 3339, neither holds an @). */
function trashName(rev: string, deletedAt: string): string {
  return `${rev}@${deletedAt}${SNAPSHOT_SUFFIX}`
}

/** The newest valid rev among `names`; `parsed` remembers names already parsed (a stack's revs only grow). */
function newestRev(names: readonly string[], parsed: Map<string, ParsedRev | null>): ParsedRev | undefined {
  let newest: ParsedRev | undefined
  for (const name of names) {
    let p = parsed.get(name)
    if (p === undefined) {
      p = parseRev(name) ?? null
      parsed.set(name, p)
    }
    if (p !== null && (newest === undefined || p.nanos > newest.nanos || (p.nanos === newest.nanos && p.suffix > newest.suffix))) newest = p
  }
  return newest
}
