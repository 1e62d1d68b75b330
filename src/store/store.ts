/**
 * The contract of the seed's `Store`: one per factory/stack, holding
 * immutable snapshots (revs), a `current` pointer and an exclusive lock. It
 * knows nothing of HTTP; errors are `StateError`s with stable codes.
 *
 * Routes, retention and authorization depend on these interfaces only
 * (`Store`, `ManagedStore`, `StoreCatalog`), never on an implementation, so a
 * second one (an object-storage store is planned) can serve them unchanged;
 * `test/store/store-contract.ts` states the promises every one must keep.
 */
import type { Clock } from '../clock.js'
import type { Encrypter } from '../crypto/encrypter.js'
import type { RetentionPolicy } from './retention-policy.js'
import type { LockHolder } from './lock-holder.js'

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

export type { LockHolder } from './lock-holder.js'

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
  /**
   * A rule the write must pass against the current snapshot (undefined when
   * the stack has none), run inside the write's critical section, so no
   * other write lands between the check and this one (Terraform's
   * lineage/serial rule). It throws to refuse the write (nothing changes),
   * or answers 'unchanged' when current already holds what this write would
   * store (an idempotent retry): then no rev is written and the outcome names
   * current. Throws `dangling-current` when current names a missing rev.
   */
  readonly admit?: ((current: Snapshot | undefined) => 'write' | 'unchanged') | undefined
  /**
   * Who caused the write and what the document is, recorded durably with
   * the new rev as its history metadata (see `RevMeta`). Without it the rev
   * gets no metadata, like a rev the Go tool wrote.
   */
  readonly record?: WriteRecord | undefined
}

/** What a stored document is: an unobin snapshot, a Terraform/OpenTofu state, or a state its client encrypted itself. */
export type PayloadKind = 'unobin' | 'terraform' | 'opaque'

/**
 * What the front end (the HTTP layer, a tool) knows about a write: the
 * caller and the document's kind, which it already read to validate it. The
 * store adds the lock held at the write, the size and the digest. Neutral:
 * no request object, no HTTP words.
 */
export interface WriteRecord {
  /** The authenticated principal, or null when the front end has none. */
  readonly principal: string | null
  /** The caller's network address, or null. */
  readonly remote: string | null
  /** The id the front end gave the request (correlates with its logs and audit records), or null. */
  readonly requestId: string | null
  readonly kind: PayloadKind
  /** Terraform serial and lineage (also kept in the clear by OpenTofu-encrypted states); null otherwise. */
  readonly serial: number | null
  readonly lineage: string | null
}

/** The lock a rev was written under: the holder's id and what it claimed. */
export interface RevLock {
  readonly id: string
  readonly who: string
  readonly operation: string
  readonly principal: string | null
}

/**
 * A rev's history metadata, written durably before the rev is published and
 * removed, trashed and restored with it. A rev without metadata was written
 * by another tool (the Go tool) or before the server recorded it.
 */
export interface RevMeta extends WriteRecord {
  readonly rev: string
  /** The lock the writer held, or null when the stack was not locked. */
  readonly lock: RevLock | null
  /** Size of the stored document (plaintext) in bytes. */
  readonly bytes: number
  /** SHA-256 (hex) of the stored document (plaintext). */
  readonly sha256: string
}

/** What a write did: the new rev (or current's, when `admit` answered 'unchanged'), and whether current now names it. */
export interface WriteOutcome {
  readonly rev: string
  readonly current: boolean
  /** False when `admit` answered 'unchanged' and nothing was stored. */
  readonly written: boolean
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
  /**
   * Stores a snapshot under a new rev (always later than every stored one);
   * moves current only with `makeCurrent`, and then says whether it did (it
   * does not when a later rev is already current). Throws `invalid-snapshot`,
   * `malformed-json` (unobin payloads), the fence's `locked`, `lock-lost`,
   * `lock-not-held`, `lock-required`; on any error nothing changed.
   */
  write(body: Buffer, options: WriteOptions): Promise<WriteOutcome>
  /** Points current at `rev` (which must exist), optionally only if current is `ifMatch`. */
  setCurrent(rev: string, options?: { fence?: Fence; ifMatch?: string | null }): Promise<{ previous: string | null }>
  /** Removes the current pointer (revs stay); absent pointer is not an error. */
  clearCurrent(options?: { fence?: Fence }): Promise<{ previous: string | null }>
  /** All revs, oldest first (Go's ordering). */
  list(): Promise<string[]>
  /**
   * The history metadata of each of `revs`, in the same order: null for a
   * rev without metadata (written by another tool, or absent), never an
   * error for a missing or unreadable metadata file.
   */
  describe(revs: readonly string[]): Promise<Array<RevMeta | null>>
  /** Removes a rev; an absent rev is not an error. Refuses the current rev unless `force`. */
  delete(
    rev: string,
    options?: { fence?: Fence; force?: boolean },
  ): Promise<{ deleted: boolean; clearedCurrent: boolean }>
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

/**
 * A `Store` with the operators' history management: garbage collection,
 * retention into a trash (restorable until purged), and re-sealing for key
 * rotation. Every change is fenced like `write` unless said otherwise.
 */
export interface ManagedStore extends Store {
  /** Deletes all but the newest `keep` revs and the current one (or only reports them with `dryRun`). */
  gc(options: GcOptions): Promise<GcResult>
  /**
   * Moves the revs the policy does not keep (the current and the newest rev
   * are always kept) into the trash; with `purgeWindowMs`, also purges
   * expired trash entries in the same change. On an error nothing moved.
   */
  prune(options: PruneOptions): Promise<PruneResult>
  /** The revs in the trash, oldest rev first (an absent trash is empty). */
  trashed(): Promise<TrashEntry[]>
  /**
   * Brings `rev` back from the trash into the history (the newest copy when
   * pruned more than once); current does not move. Throws `rev-not-found`
   * when the trash holds no such rev.
   */
  restore(rev: string, options?: { fence?: Fence }): Promise<TrashEntry>
  /** Removes trash entries pruned more than `windowMs` ago (not fenced); removing what is absent is not an error. */
  purgeTrash(windowMs: number, options?: { dryRun?: boolean }): Promise<TrashEntry[]>
  /**
   * Removes the temp files dead writers left in every directory of the
   * stack (see src/fs/temp-files.ts for the owner rule), under the stack's
   * mutex, as every change does for the stack directory. Returns how many
   * files were removed from the stack meanwhile; a directory that cannot be
   * swept goes to `onError` and the others are still swept. An absent stack
   * has nothing to sweep.
   */
  sweep(onError?: (err: unknown) => void): Promise<number>
  /**
   * Re-seals one rev (the trash entry pruned at `trashedAt`, when given)
   * with the sealing key; content and pointers do not change, so it needs no
   * lock. Throws `unreadable-snapshot` when no configured key opens it.
   */
  reseal(rev: string, options?: { trashedAt?: string }): Promise<ResealOutcome>
}

/**
 * The stacks of one data directory: one shared store per factory/stack,
 * discovery of factories and stacks, and the readiness probe.
 */
/** What a lock-cap reservation decided. */
export interface Reservation {
  /** True when the caller may go on taking the lock. */
  readonly granted: boolean
  /** Locks the principal holds or is taking on other stacks. */
  readonly held: number
}

/**
 * Which stacks each principal holds or is taking a lock on, for a
 * per-principal lock cap: counted without reading every stack, shared by
 * every process on the same storage.
 */
export interface HeldLocks {
  /**
   * Reserves `factory`/`stack` for `principal` (before its lock is taken,
   * counting for `pendingMs`) if it holds fewer than `cap` locks on other
   * stacks; otherwise leaves nothing behind. Retaking a stack the principal
   * already holds is never refused.
   */
  reserve(principal: string, factory: string, stack: string, cap: number, pendingMs: number): Promise<Reservation>
  /** After a lock attempt or an unlock answers: confirms the entry when the stack's lock names `principal`, removes it otherwise. */
  settle(principal: string, factory: string, stack: string): Promise<void>
  /** Starts rebuilding the index from every stack's lock in the background (reservations wait for it). */
  startRebuild(onError: (err: unknown) => void): void
}

export interface StoreCatalog {
  /** The encrypter every stack seals with. */
  readonly encrypter: Encrypter
  /** The clock every stack reads. */
  readonly clock: Clock
  /**
   * True when the data volume folds case (`Prod` and `prod` are one
   * directory): stores refuse a name spelled otherwise than on disk
   * (`name-case-conflict`), and authorization compares names ignoring case.
   */
  readonly foldsCase: boolean
  /** The store of `factory`/`stack` (validated names; the same instance while it is in use). Throws `invalid-name`. */
  stack(factory: string, stack: string): ManagedStore
  /** Factory names, sorted. */
  factories(): Promise<string[]>
  /** Stack names of `factory`, sorted. Throws `factory-not-found` when it has none. */
  stacks(factory: string): Promise<string[]>
  /** A stack's summary: current rev, rev count, lock holder, and the code of any fault reading them. */
  summary(factory: string, stack: string): Promise<StackSummary>
  /** Every `{factory, stack}` in `scope`, sorted (one named stack need not exist yet). Throws `factory-not-found`. */
  stackNames(scope?: {
    readonly factory?: string | undefined
    readonly stack?: string | undefined
  }): Promise<Array<{ factory: string; stack: string }>>
  /** Proves the storage takes a new object; throws the storage's error when it does not. */
  probeWritable(): Promise<void>
  /**
   * Removes the temp files dead writers left outside the stacks: in the data
   * directory itself (readiness and case probes) and in the held-locks
   * index, by the owner rule of src/fs/temp-files.ts. Returns how many.
   */
  sweepLeftovers(): Promise<number>
  /** How many lock requests are waiting for a lock in this process, over every stack. */
  waiting(): number
  /** Stops background watchers. */
  close(): void
  /** The directory holding a stack, for watchers that see changes made by other processes (absent: nothing to watch, poll only). */
  stackDir?(factory: string, stack: string): string
  /** The index of held locks by principal (for a per-principal lock cap). */
  readonly heldLocks: HeldLocks
}
