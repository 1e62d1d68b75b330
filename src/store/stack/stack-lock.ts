/**
 * The lock of one stack, held across requests: acquisition (with a lease,
 * client-chosen ids and retries), renewal, release and force-unlock, the
 * generation that grows at every acquisition and force-unlock, and the
 * fence every change of the stack passes. Each transition runs in the
 * stack's mutex; the marker itself is claimed by exclusive create and
 * removed by rename-aside, so two holders are impossible even if the mutex
 * fails.
 */
import { createHash, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { createExclusive, syncDir } from '../../fs/durable.js'
import { errnoCode, lstatIfPresent } from '../../fs/fs-ops.js'
import type { Mutex } from '../../fs/mutex.js'
import { formatInstant } from '../../time/instant.js'
import type { Fence, LockClaims, LockContext, LockHolder, LockOptions, ReleasedLock } from '../store.js'
import { LOCK_IDS_DIR } from './layout.js'
import { fenceNotHeld, idReused, lockRequired, locked, lost, notHeld, waitTimeout } from './lock-errors.js'
import type { LockRecords } from './lock-records.js'
import type { LockWait } from './lock-wait.js'
import type { StackDir } from './stack-dir.js'

/** This process's pid and host, recorded with lock holders. */
export interface ProcessIdentity {
  readonly pid: number
  readonly host: string
}

/** The name of a granted client-chosen id's entry under `LOCK_IDS_DIR`. */
function idEntry(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 40)
}

/** What one attempt to take the lock gave: the lock, or the holder that has it. */
interface Attempt {
  readonly acquired: boolean
  readonly holder: LockHolder
}

/** A caller waiting for the lock, as an unlock of this process may grant it (see `StackLock.unlock`). */
interface Claimant {
  readonly claims: LockClaims
  readonly context: LockContext
  readonly ttlMs: number | undefined
  /** Set by the unlock that took this claimant: what the attempt it made for the waiter gave (or threw). */
  outcome: Promise<Attempt> | undefined
}

/** The lock state machine of one stack. */
export class StackLock {
  readonly #dir: StackDir
  readonly #records: LockRecords
  readonly #mutex: Mutex
  readonly #wait: LockWait
  readonly #identity: ProcessIdentity

  constructor(dir: StackDir, records: LockRecords, mutex: Mutex, wait: LockWait, identity: ProcessIdentity) {
    this.#dir = dir
    this.#records = records
    this.#mutex = mutex
    this.#wait = wait
    this.#identity = identity
  }

  /**
   * Takes the lock, waiting up to `options.waitMs` for a held one. Throws
   * `locked`, `wait-timeout`, or the signal's reason; a lock is never left
   * behind for an aborted caller.
   */
  async lock(claims: LockClaims, context: LockContext, options: LockOptions): Promise<LockHolder> {
    const waitMs = Math.max(0, options.waitMs ?? 0)
    // The deadline is on the store's clock (as lease expiries are): a test's frozen clock freezes the wait too.
    const deadline = this.#dir.nowMs() + waitMs
    const signal = options.signal
    const claimant: Claimant = { claims, context, ttlMs: options.ttlMs, outcome: undefined }
    let handed: Attempt | undefined
    for (;;) {
      if (handed === undefined) signal?.throwIfAborted()
      const attempt = handed ?? (await this.#mutex.run(() => this.#tryAcquire(claims, context, options.ttlMs)))
      handed = undefined
      if (attempt.acquired) {
        if (signal?.aborted === true) {
          // The caller went away while we were acquiring: never leave a lock behind.
          await this.unlock(attempt.holder.id).catch(() => {})
          signal.throwIfAborted()
        }
        return attempt.holder
      }
      const now = this.#dir.nowMs()
      if (waitMs === 0 || now >= deadline) {
        if (waitMs > 0) throw waitTimeout(this.#dir, waitMs, attempt.holder)
        throw locked(this.#dir, attempt.holder)
      }
      const expiresMs = attempt.holder.expires === null ? Infinity : Date.parse(attempt.holder.expires)
      await this.#wait.waitForChange(Math.min(deadline, expiresMs + 1) - now, signal, claimant)
      // An unlock of this process took us: what it gave is the next attempt (a grant, a refusal of our id, or a holder).
      if (claimant.outcome !== undefined) {
        handed = await claimant.outcome
        claimant.outcome = undefined
      }
    }
  }

  /** The holder, or undefined when the stack is free (an expired lease is free). */
  async inspect(): Promise<LockHolder | undefined> {
    const holder = await this.#records.readMarker()
    return holder !== undefined && !this.#expired(holder) ? holder : undefined
  }

  /** Extends the lease of lock `id`. Throws `locked`, `lock-lost`, `lock-not-held`. */
  async renew(id: string, ttlMs: number | undefined): Promise<LockHolder> {
    return this.#mutex.run(async () => {
      const holder = await this.#records.readMarker()
      // A marker the Go tool wrote (or an unreadable one) is someone else's lock: never renewed into ours.
      if (holder?.legacy) throw locked(this.#dir, holder)
      if (holder === undefined || holder.id !== id) {
        const live = holder !== undefined && !this.#expired(holder) ? holder : undefined
        // Checked before "locked": a holder whose lease expired or was force-unlocked must learn it lost the lock.
        const lostRecord = await this.#records.lostRecord(id)
        if (lostRecord !== undefined) throw lost(this.#dir, lostRecord, live)
        if (live !== undefined) throw locked(this.#dir, live)
        throw notHeld(this.#dir, id)
      }
      if (this.#expired(holder))
        throw lost(this.#dir, { event: 'expired', holder, generation: holder.generation, at: holder.expires ?? '' })
      const renewed: LockHolder = { ...holder, expires: this.#expiry(ttlMs) }
      await this.#records.replaceMarker(renewed)
      return renewed
    })
  }

  /**
   * Releases lock `id`; a retry after success succeeds. Throws `locked`,
   * `lock-lost`, `lock-not-held`. When a caller of this process waits for
   * the lock, the release grants it in the same critical section: the marker
   * moves onto the release record and the waiter's marker is created, with
   * one directory fsync for both (see `#handOver`).
   */
  async unlock(id: string): Promise<LockHolder> {
    let handed = false
    const released = await this.#mutex.run(async () => {
      const holder = await this.#records.readMarker()
      if (holder !== undefined && holder.id === id && !holder.legacy) {
        const next = this.#wait.take() as Claimant | undefined
        if (next === undefined) await this.#records.markerToRelease(true)
        else handed = await this.#handOver(holder, next)
        return holder
      }
      const release = await this.#records.readRelease()
      if (release !== undefined && release.holder.id === id && release.event === 'unlock') return release.holder // a retry of an unlock that succeeded
      if (holder !== undefined && !this.#expired(holder)) throw locked(this.#dir, holder)
      const lostRecord = await this.#records.lostRecord(id)
      if (lostRecord !== undefined) throw lost(this.#dir, lostRecord)
      throw notHeld(this.#dir, id)
    })
    // Handed over, the lock is not free: the other waiters of this process would only find it held again.
    if (!handed) this.#wait.notify()
    return released
  }

  /** Removes whoever holds the lock, recording who did it and why; returns the removed holder. */
  async forceUnlock(by: { principal?: string | null; reason?: string | null }): Promise<LockHolder | undefined> {
    const removed = await this.#mutex.run(async () => {
      const holder = await this.#records.readMarker()
      if (holder === undefined) return undefined
      const before = await this.#records.generation(holder)
      await this.#records.recordRelease({
        event: 'force-unlock',
        holder,
        generation: before + 1,
        at: this.#dir.now(),
        by: by.principal ?? null,
        reason: by.reason ?? null,
      })
      await this.#records.removeMarker(holder.id)
      return holder
    })
    if (removed !== undefined) this.#wait.notify()
    return removed
  }

  /** How the lock was last released, if it ever was. */
  async lastRelease(): Promise<ReleasedLock | undefined> {
    return this.#records.readRelease()
  }

  /** The stack's generation. */
  async generation(): Promise<number> {
    return this.#records.generation(await this.#records.readMarker())
  }

  /**
   * Checks a change against the lock: a live holder's id must be presented;
   * an id whose lock expired or was force-unlocked is refused (`lock-lost`);
   * with `requireLock`, an unlocked stack is refused too (`lock-required`).
   * Call under the mutex, in the same critical section as the change.
   * Returns the holder whose id was presented, or undefined for a free stack.
   */
  async assertFence(fence: Fence | undefined): Promise<LockHolder | undefined> {
    const holder = await this.#records.readMarker()
    const lockId = fence?.lockId
    if (holder !== undefined && !this.#expired(holder)) {
      if (lockId !== undefined && lockId === holder.id && !holder.legacy) return holder
      if (lockId !== undefined) {
        const lostRecord = await this.#records.lostRecord(lockId)
        if (lostRecord !== undefined) throw lost(this.#dir, lostRecord, holder)
      }
      throw locked(this.#dir, holder)
    }
    if (lockId !== undefined) {
      if (holder !== undefined && holder.id === lockId)
        throw lost(this.#dir, { event: 'expired', holder, generation: holder.generation, at: holder.expires ?? '' })
      const lostRecord = await this.#records.lostRecord(lockId)
      if (lostRecord !== undefined) throw lost(this.#dir, lostRecord)
      throw fenceNotHeld(this.#dir, lockId)
    }
    if (fence?.requireLock === true) throw lockRequired(this.#dir)
    return undefined
  }

  /**
   * Releases `holder`'s lock to the waiter `next` (call under the mutex):
   * the marker becomes the release record, then the waiter's marker is
   * created by exclusive link, whose directory fsync makes both durable (a
   * crash before it leaves the old holder's lock or the release, neither
   * answered). The waiter is given what its own attempt would have given:
   * the lock, its id refused, or the holder of a marker that appeared
   * meanwhile (the Go tool takes no mutex). Whatever happens to the grant,
   * the release itself is made durable before this returns; true when the
   * waiter got the lock.
   */
  async #handOver(holder: LockHolder, next: Claimant): Promise<boolean> {
    let settle!: (attempt: Promise<Attempt>) => void
    next.outcome = new Promise<Attempt>((resolve) => {
      settle = resolve
    })
    // Until the grant is made, what the waiter hears is the lock still held: it waits on, as before it was taken.
    let given: Promise<Attempt> = Promise.resolve({ acquired: false, holder })
    try {
      await this.#records.markerToRelease(false)
      // The release record is the holder just renamed: no marker, and the generation is known.
      given = this.#claimAndGrant(next.claims, next.context, next.ttlMs, holder.generation)
      const attempt = await given.catch(() => undefined)
      // A grant that failed or lost to another marker did not fsync the directory: the release must still be durable.
      if (attempt?.acquired !== true) await syncDir(this.#dir.fs, this.#dir.path)
      return attempt?.acquired === true
    } finally {
      settle(given)
    }
  }

  async #tryAcquire(claims: LockClaims, context: LockContext, ttlMs: number | undefined): Promise<Attempt> {
    const marker = await this.#records.readMarker()
    if (marker !== undefined) {
      if (!this.#expired(marker)) {
        // The same client retrying its lock (Terraform retries LOCK on 5xx) gets it again.
        if (claims.id !== undefined && marker.id === claims.id && !marker.legacy)
          return { acquired: true, holder: marker }
        return { acquired: false, holder: marker }
      }
      // Reaping the expired lock is a change: an id that will be refused is refused first, so a refusal changes nothing.
      if (claims.id !== undefined) await this.#assertIdFree(claims.id, marker)
      await this.#records.recordRelease({
        event: 'expired',
        holder: marker,
        generation: await this.#records.generation(marker),
        at: this.#dir.now(),
      })
      if (!(await this.#records.removeMarker(marker.id))) {
        const now = await this.#records.readMarker()
        if (now !== undefined) return { acquired: false, holder: now }
      }
    }
    return this.#claimAndGrant(claims, context, ttlMs)
  }

  /** Claims the client's id (if it chose one) and grants the lock on a free stack; `generation`: the stack's, when known. */
  async #claimAndGrant(
    claims: LockClaims,
    context: LockContext,
    ttlMs: number | undefined,
    generation?: number,
  ): Promise<Attempt> {
    // A client-chosen id is granted once: after its release, expiry or force-unlock the old holder's writes must never come back to life.
    const claimed = claims.id === undefined ? undefined : await this.#claimId(claims.id)
    try {
      return await this.#grant(claims, context, ttlMs, claimed, generation)
    } catch (err) {
      // A failed grant (I/O fault) changes nothing: the id stays free for the client's retry.
      if (claimed !== undefined) await this.#dir.fs.unlink(claimed).catch(() => {})
      throw err
    }
  }

  /** Creates the marker for a new holder; on a lost race, frees the claimed id and reports the winner. */
  async #grant(
    claims: LockClaims,
    context: LockContext,
    ttlMs: number | undefined,
    claimed: string | undefined,
    generation?: number,
  ): Promise<Attempt> {
    const holder: LockHolder = {
      id: claims.id ?? randomUUID(),
      generation: (generation ?? (await this.#records.generation(undefined))) + 1,
      who: claims.who ?? '',
      operation: claims.operation ?? '',
      info: claims.info ?? '',
      principal: context.principal ?? null,
      remote: context.remote ?? null,
      created: this.#dir.now(),
      expires: this.#expiry(ttlMs),
      pid: this.#identity.pid,
      host: this.#identity.host,
      client: claims.client ?? null,
      legacy: false,
    }
    if (await this.#records.createMarker(holder)) return { acquired: true, holder }
    if (claimed !== undefined) await this.#dir.fs.unlink(claimed).catch(() => {}) // not granted: the id stays free for the client's retry
    const winner = await this.#records.readMarker()
    return winner === undefined ? this.#tryAcquire(claims, context, ttlMs) : { acquired: false, holder: winner }
  }

  /**
   * Records `id` as granted (exclusive create of its entry); throws
   * `lock-id-reused` when it was granted before (its entry, the last release
   * or the lost-locks log names it). Returns the entry's path.
   */
  async #claimId(id: string): Promise<string> {
    await this.#refuseEnded(id)
    const dir = join(this.#dir.path, LOCK_IDS_DIR)
    await this.#dir.fs.mkdir(dir).catch((err: unknown) => {
      if (errnoCode(err) !== 'EEXIST') throw err // a full volume is no-space, not a missing directory later
    })
    if (!(await createExclusive(this.#dir.fs, dir, idEntry(id), Buffer.from('\n')))) throw idReused(this.#dir, id, null)
    return join(dir, idEntry(id))
  }

  /**
   * Throws `lock-id-reused` when `#claimId` would, reading only: before
   * the expired lock of `expired` is reaped (its own id counts as used).
   */
  async #assertIdFree(id: string, expired: LockHolder): Promise<void> {
    if (expired.id === id) throw idReused(this.#dir, id, 'expired')
    await this.#refuseEnded(id)
    if ((await lstatIfPresent(this.#dir.fs, join(this.#dir.path, LOCK_IDS_DIR, idEntry(id)))) !== undefined)
      throw idReused(this.#dir, id, null)
  }

  /** Throws `lock-id-reused` when the last release or the lost-locks log names `id` (its lock ended, and how). */
  async #refuseEnded(id: string): Promise<void> {
    const release = await this.#records.readRelease()
    if (release?.holder.id === id) throw idReused(this.#dir, id, release.event)
    const lostRecord = await this.#records.lostRecord(id)
    if (lostRecord !== undefined) throw idReused(this.#dir, id, lostRecord.event)
  }

  #expired(holder: LockHolder): boolean {
    if (holder.expires === null) return false
    const expires = Date.parse(holder.expires)
    return Number.isFinite(expires) && expires <= this.#dir.nowMs()
  }

  #expiry(ttlMs: number | undefined): string | null {
    return ttlMs === undefined
      ? null
      : formatInstant(this.#dir.clock.nowNanos() + BigInt(Math.round(ttlMs)) * 1_000_000n)
  }
}
