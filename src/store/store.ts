/**
 * The contract of the seed's `Store`: one per factory/stack, holding
 * immutable snapshots (revs), a `current` pointer and an exclusive lock. It
 * knows nothing of HTTP; errors are `StateError`s with stable codes.
 */

/** A stored snapshot: its rev, payload type and plaintext bytes (exactly as written). */
export interface Snapshot {
  readonly rev: string
  readonly payloadType: string
  readonly body: Buffer
}

/** Fencing for a mutation: who claims the right to change a locked stack. */
export interface Fence {
  /** The lock id the caller holds (header `Lock-Id`, or `?ID=` on Terraform routes). */
  readonly lockId?: string | undefined
  /** Refuse the mutation unless the caller holds the stack's lock (server option). */
  readonly requireLock?: boolean | undefined
}

/** What a client claims about itself when it takes a lock (display only). */
export interface LockClaims {
  readonly who?: string | undefined
  readonly operation?: string | undefined
  readonly info?: string | undefined
  /** A client-chosen lock id (Terraform generates its own); random when absent. */
  readonly id?: string | undefined
  /** Extra client facts kept verbatim (Terraform's LockInfo). */
  readonly client?: Readonly<Record<string, unknown>> | undefined
}

/** What the server knows about the caller, recorded with the holder. */
export interface LockContext {
  readonly principal?: string | undefined
  readonly remote?: string | undefined
}

/** The holder of a stack's lock, as recorded in the `lock` marker. */
export interface LockHolder {
  readonly id: string
  readonly generation: number
  readonly who: string
  readonly operation: string
  readonly info: string
  readonly principal: string | null
  readonly remote: string | null
  /** RFC 3339 instant the lock was taken (null for a marker the Go tool wrote). */
  readonly created: string | null
  /** RFC 3339 instant the lease ends, or null for a lock without a lease. */
  readonly expires: string | null
  readonly pid: number | null
  readonly host: string | null
  /** Client facts kept verbatim (Terraform LockInfo), or null. */
  readonly client: Readonly<Record<string, unknown>> | null
  /** True when the marker was written by the Go tool (`<pid>\n`) or cannot be parsed. */
  readonly legacy: boolean
}

/** How a lock was last released, kept so retries and fenced writers get the right answer. */
export interface ReleasedLock {
  readonly event: 'unlock' | 'force-unlock' | 'expired'
  readonly holder: LockHolder
  /** The stack's generation after the event. */
  readonly generation: number
  readonly at: string
  readonly by?: string | null
  readonly reason?: string | null
}

/** Options of `lock`. */
export interface LockOptions {
  /** Lease in milliseconds; the lock frees itself after it unless renewed. None: until unlocked. */
  readonly ttlMs?: number | undefined
  /** Wait up to this many milliseconds for a held lock to be released (0: fail at once). */
  readonly waitMs?: number | undefined
  /** Aborts the wait; a lock is never left behind for an aborted caller. */
  readonly signal?: AbortSignal | undefined
}

/** Options of `write`. */
export interface WriteOptions {
  readonly payloadType: string
  readonly fence?: Fence | undefined
  /** Also point current at the new rev (one call, one fence check). */
  readonly makeCurrent?: boolean | undefined
}

/** What a write did: the new rev, and whether current now names it. */
export interface WriteOutcome {
  readonly rev: string
  readonly current: boolean
}

/** A summary of a stack for discovery. */
export interface StackSummary {
  readonly factory: string
  readonly stack: string
  readonly current: string | null
  readonly revs: number
  readonly lock: LockHolder | null
  /** The error code met while reading the stack (e.g. `unreadable-snapshot`), or null. */
  readonly error: string | null
}

/** One factory/stack's snapshots, current pointer and lock. */
export interface Store {
  /** The factory and stack this store serves. */
  stack(): { readonly factory: string; readonly stack: string }
  /** The current snapshot. Throws `no-current`, `dangling-current`, `unreadable-snapshot`. */
  current(): Promise<Snapshot>
  /** The current rev. Throws `no-current` when the stack has none. */
  currentRev(): Promise<string>
  /** One snapshot. Throws `rev-not-found`, `unreadable-snapshot`. */
  get(rev: string): Promise<Snapshot>
  /** Stores a snapshot under a new rev; does not move current unless asked. */
  write(body: Buffer, options: WriteOptions): Promise<string>
  /** Like `write`, and says whether current moved (with makeCurrent it does not when a later rev is already current). */
  writeSnapshot(body: Buffer, options: WriteOptions): Promise<WriteOutcome>
  /** Points current at `rev` (which must exist), optionally only if current is `ifMatch`. */
  setCurrent(rev: string, options?: { fence?: Fence; ifMatch?: string | null }): Promise<{ previous: string | null }>
  /** Removes the current pointer (revs stay); absent pointer is not an error. */
  clearCurrent(options?: { fence?: Fence }): Promise<{ previous: string | null }>
  /** All revs, oldest first (Go's ordering). */
  list(): Promise<string[]>
  /** Removes a rev; an absent rev is not an error. Refuses the current rev unless `force`. */
  delete(rev: string, options?: { fence?: Fence; force?: boolean }): Promise<{ deleted: boolean; clearedCurrent: boolean }>
  /** Takes the stack's lock. Throws `locked` (with the holder), `wait-timeout`, or the signal's reason. */
  lock(claims: LockClaims, context: LockContext, options?: LockOptions): Promise<LockHolder>
  /** The holder, or undefined when the stack is free (an expired lease is free). */
  inspectLock(): Promise<LockHolder | undefined>
  /** Extends the lease of lock `id`. Throws `lock-not-held`, `lock-lost`. */
  renew(id: string, ttlMs: number | undefined): Promise<LockHolder>
  /** Releases lock `id`; a retry after success succeeds. Throws `locked` (another holder), `lock-not-held`. */
  unlock(id: string): Promise<LockHolder>
  /** Removes whoever holds the lock; returns the removed holder (undefined when free). */
  forceUnlock(by?: { principal?: string | null; reason?: string | null }): Promise<LockHolder | undefined>
  /** How the lock was last released, if it ever was. */
  lastRelease(): Promise<ReleasedLock | undefined>
  /** The stack's generation: grows at every acquisition and force-unlock. */
  generation(): Promise<number>
}
