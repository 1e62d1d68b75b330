/**
 * A short critical section shared by every process on one data directory.
 *
 * On disk the mutex is one file, `path`, created exclusively (`link` of a
 * complete temp file, so it never exists without its owner record) and
 * removed at release. The record names its owner (see owner.ts): a
 * contender on the same host that finds the owner gone (exited, or its pid
 * reused) takes the mutex over at once; otherwise the stale time decides (the
 * owner refreshes the file's mtime while it holds it; across hosts, or when
 * the owner cannot be judged, a file not refreshed for `staleMs` is taken
 * over). A holder frozen longer than the stale time can therefore overlap
 * with its successor: exclusion that matters (the stack lock, rev names)
 * still rests on exclusive create and rename.
 *
 * Takeover is race-free: the record to replace is named by its id, and only
 * the contender that creates the token `<path>.take-<id>` exclusively may
 * replace it; it re-reads the file under the token and replaces it (rename,
 * so the name never disappears) only if it still holds that very record.
 * A second contender that judged the same dead record either fails to
 * create the token, or creates it after the first finished and finds
 * another record. A token left by a taker that died is itself taken over
 * the same way. A `path` that is a directory is proper-lockfile's mutex
 * from an older version of the server: removed once stale.
 *
 * Every filesystem call goes through the injected FsOps (so fault injection
 * reaches it) and every instant comes from the injected clock (file times
 * are set from it, so staleness is judged on one time line). Instances for
 * one path in one process share an in-process queue: the file is never
 * contended by the process that holds it, and a holder with users queued
 * behind it hands them the file without releasing it, a bounded number of
 * times (see `MAX_HANDOFFS`).
 */
import { constants } from 'node:fs'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Clock, SystemClock } from '../clock.js'
import { type FsOps, errnoCode, nodeFs } from './fs-ops.js'
import { tempName } from './temp-files.js'
import { type OwnerProbe, type OwnerRecord, decodeRecord, encodeRecord, hostProbe, isSelf, newRecord } from './owner.js'

/** Options for a mutex. */
export interface MutexOptions {
  /** The time line of staleness and of the wait deadline; the system clock when absent. */
  readonly clock?: Clock
  /** The filesystem; the real one when absent. */
  readonly fs?: FsOps
  /** Who this process is and whether an owner still runs; the host's when absent. */
  readonly probe?: OwnerProbe
  /** How old (ms) a mutex whose owner stopped refreshing it (or cannot be judged) must be before it is taken over. Default 10 000. */
  readonly staleMs?: number
  /** How long (ms) to wait for the mutex before failing (its holder may be stuck). Default 30 000. */
  readonly waitMs?: number
  /** Told when the held mutex was taken over by another process, or could not be released; never given secrets. */
  readonly onCompromised?: (err: Error) => void
  /** Runs after each acquisition, before the critical section (the store sweeps leftovers there); a rejection fails `run`. */
  readonly onHeld?: () => Promise<void>
}

/** The in-process queue of one path, shared by every Mutex instance for it; `handoff` is the mutex passed to the next user. */
const queues = new Map<string, { tail: Promise<unknown>; users: number; handoff: Held | undefined }>()

/**
 * A holder with users of this process queued behind it hands the held
 * mutex to the next one instead of releasing it (which saves the next user
 * the seven filesystem calls of a release and an acquisition), at most this
 * many times in a row and for at most `HANDOFF_MS` since the file was
 * taken, so that other processes waiting for it get their turn.
 */
export const MAX_HANDOFFS = 16
export const HANDOFF_MS = 100

/** A named cross-process mutex at `path` (a file; see the module comment). */
export class Mutex {
  readonly #path: string
  readonly #dir: string
  readonly #clock: Clock
  readonly #fs: FsOps
  readonly #probe: OwnerProbe
  readonly #staleMs: number
  readonly #waitMs: number
  readonly #onCompromised: (err: Error) => void
  readonly #onHeld: (() => Promise<void>) | undefined

  constructor(path: string, options: MutexOptions = {}) {
    this.#path = path
    this.#dir = dirname(path)
    this.#clock = options.clock ?? new SystemClock()
    this.#fs = options.fs ?? nodeFs
    this.#probe = options.probe ?? hostProbe()
    this.#staleMs = Math.max(1000, options.staleMs ?? 10_000)
    this.#waitMs = options.waitMs ?? 30_000
    this.#onCompromised = options.onCompromised ?? (() => {})
    this.#onHeld = options.onHeld
  }

  /** Runs `fn` while holding the mutex; releases it in `finally`. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    let queue = queues.get(this.#path)
    if (queue === undefined) {
      queue = { tail: Promise.resolve(), users: 0, handoff: undefined }
      queues.set(this.#path, queue)
    }
    const previous = queue.tail
    let done!: () => void
    queue.tail = new Promise<void>((resolve) => {
      done = resolve
    })
    queue.users++
    try {
      await previous.catch(() => {})
      let held = queue.handoff
      queue.handoff = undefined
      if (held === undefined) held = await this.#acquire()
      try {
        // After an acquisition only: a handoff comes straight from this process's previous holder.
        if (held.handoffs === 0 && this.#onHeld !== undefined) await this.#onHeld()
        return await fn()
      } finally {
        if (queue.users > 1 && held.handoffs < MAX_HANDOFFS && this.#nowMs() - held.since < HANDOFF_MS) {
          held.handoffs++
          queue.handoff = held
        } else await this.#release(held)
      }
    } finally {
      done()
      if (--queue.users === 0) queues.delete(this.#path)
    }
  }

  // --- acquire ---------------------------------------------------------------

  /**
   * Creates the mutex file, waiting (2 ms growing to 25 ms, randomised) while
   * a live owner holds it, taking it over from a dead or stale one.
   */
  async #acquire(): Promise<Held> {
    const record = newRecord(this.#probe.self)
    const mine = join(this.#dir, tempName('mutex', this.#probe.self))
    await this.#writeRecord(mine, record)
    const deadline = this.#nowMs() + this.#waitMs
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.#fs.link(mine, this.#path)
          return this.#held(record)
        } catch (err) {
          if (errnoCode(err) === 'ENOENT' && (await this.#fs.lstat(this.#dir)).isDirectory()) {
            await this.#writeRecord(mine, record) // our record was swept as a leftover while we waited: write it again
            continue
          }
          if (errnoCode(err) !== 'EEXIST') throw err
        }
        const outcome = await this.#displace(this.#path, mine, 0)
        if (outcome === 'owned') return this.#held(record)
        if (outcome === 'retry') continue
        if (this.#nowMs() >= deadline) {
          throw Object.assign(
            new Error(`the mutex ${this.#path} stayed held for ${Math.round(this.#waitMs / 1000)} s`),
            { code: 'ELOCKED' },
          )
        }
        await sleep(Math.min(25, 2 * 1.2 ** attempt) * (0.5 + Math.random()))
      }
    } finally {
      await this.#fs.unlink(mine).catch(() => {}) // linked or renamed away already, or never needed
    }
  }

  /** Writes `record` to a new file at `path`, dated by the clock (not fsynced: a mutex does not outlive a crash of its host). */
  async #writeRecord(path: string, record: OwnerRecord): Promise<void> {
    const handle = await this.#fs.open(
      path,
      constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW,
      0o600,
    )
    try {
      try {
        await handle.writeFile(encodeRecord(record))
      } finally {
        await handle.close()
      }
      const now = this.#nowMs() / 1000
      await this.#fs.utimes(path, now, now)
    } catch (err) {
      await this.#fs.unlink(path).catch(() => {})
      throw err
    }
  }

  /**
   * Tries to replace the owner of `target` (the mutex, or a takeover token
   * at `depth` > 0) by the record in file `mine`. `owned`: `target` now
   * holds our record. `retry`: `target` changed or vanished, try creating it
   * again now. `wait`: its owner is alive and fresh.
   */
  async #displace(target: string, mine: string, depth: number): Promise<'owned' | 'retry' | 'wait'> {
    const seen = await this.#look(target)
    if (seen === undefined) return 'retry'
    if (!(await this.#replaceable(seen))) return 'wait'
    if (depth >= MAX_TOKEN_DEPTH) return 'wait'
    const token = `${this.#path}.take-${seen.key}`
    // Claim the right to replace this very record: a hard link of our record, exclusive.
    let claimed = false
    try {
      await this.#fs.link(mine, token)
      claimed = true
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err
    }
    if (!claimed) {
      // Another taker claimed it: wait for it, or, if it died there, replace its claim the same way.
      const sub = await this.#displace(token, mine, depth + 1)
      if (sub !== 'owned') return sub
    }
    // The token is ours now (created, or its dead claimant's replaced): removed whatever happens next.
    try {
      const again = await this.#look(target)
      if (again === undefined || again.key !== seen.key || again.ino !== seen.ino || !(await this.#replaceable(again)))
        return 'retry'
      if (seen.directory) {
        await this.#fs.rmdir(target) // an older server's proper-lockfile mutex: create ours next
        return 'retry'
      }
      // Under the claim no one else may replace this record: put ours in its place (the name never disappears).
      const copy = join(this.#dir, tempName('mutex', this.#probe.self))
      await this.#fs.link(mine, copy)
      try {
        await this.#fs.rename(copy, target)
      } catch (err) {
        await this.#fs.unlink(copy).catch(() => {})
        throw err
      }
      return 'owned'
    } finally {
      await this.#remove(token)
    }
  }

  /** Removes a takeover claim, trying twice: one left behind blocks no one (its record is gone) but clutters the directory. */
  async #remove(path: string): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.#fs.unlink(path)
        return
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return
      }
    }
  }

  /** The owner of `path` as found on disk; undefined when the name is absent. */
  async #look(path: string): Promise<Seen | undefined> {
    let st
    try {
      st = await this.#fs.lstat(path)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined
      throw err
    }
    const mtimeMs = st.mtimeMs
    if (st.isDirectory())
      return { key: `dir-${st.ino}-${Math.round(mtimeMs)}`, ino: st.ino, mtimeMs, record: undefined, directory: true }
    let bytes: Buffer
    try {
      bytes = await this.#fs.readFile(path)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined
      throw err
    }
    const record = decodeRecord(bytes)
    return { key: record?.id ?? `ino-${st.ino}-${Math.round(mtimeMs)}`, ino: st.ino, mtimeMs, record, directory: false }
  }

  /**
   * True when the owner of what was seen may be replaced: a record of this
   * process (it holds the in-process queue, so the file is a leftover of a
   * release that failed), an owner that is gone, or a file not refreshed for
   * the stale time (an owner on another host, or one that cannot be judged).
   */
  async #replaceable(seen: Seen): Promise<boolean> {
    if (seen.record !== undefined) {
      if (isSelf(seen.record, this.#probe.self)) return true
      if ((await this.#probe.liveness(seen.record)) === 'dead') return true
    }
    return this.#nowMs() - seen.mtimeMs >= this.#staleMs
  }

  // --- hold and release --------------------------------------------------------

  /** Starts refreshing the held file's mtime every half stale time, so no contender judges it stale. */
  #held(record: OwnerRecord): Held {
    const held: Held = { record, since: this.#nowMs(), timer: undefined, handoffs: 0 }
    const refresh = () => {
      held.timer = setTimeout(() => {
        const now = this.#nowMs() / 1000
        this.#fs.utimes(this.#path, now, now).then(refresh, (err: unknown) => {
          this.#onCompromised(
            new Error(
              `the mutex ${this.#path} could not be refreshed (${errnoCode(err) ?? String(err)}); another process may take it over`,
            ),
          )
          refresh()
        })
      }, this.#staleMs / 2)
      held.timer.unref()
    }
    refresh()
    return held
  }

  /**
   * Removes the mutex file. After a hold long enough for a refresh to matter,
   * it first checks the file is still ours (a contender may have judged it
   * stale). A removal that fails is retried once; if the file stays, this
   * process's next acquisition replaces it at once (its own record), and
   * other processes wait out the stale time.
   */
  async #release(held: Held): Promise<void> {
    clearTimeout(held.timer)
    if (this.#nowMs() - held.since >= this.#staleMs / 2) {
      const now = await this.#look(this.#path).catch(() => undefined)
      if (now !== undefined && now.key !== held.record.id) {
        this.#onCompromised(
          new Error(`the mutex ${this.#path} was taken over by another process while this one held it`),
        )
        return
      }
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.#fs.unlink(this.#path)
        return
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return
        if (attempt === 1)
          this.#onCompromised(
            new Error(`the mutex ${this.#path} could not be released (${errnoCode(err) ?? String(err)})`),
          )
      }
    }
  }

  #nowMs(): number {
    return Number(this.#clock.nowNanos() / 1_000_000n)
  }
}

/** How many dead takers in a row a contender replaces before it waits instead. */
const MAX_TOKEN_DEPTH = 4

/** A mutex held by this process. */
interface Held {
  readonly record: OwnerRecord
  readonly since: number
  timer: NodeJS.Timeout | undefined
  /** How many times it was handed to the next user of this process without a release. */
  handoffs: number
}

/** What a contender found at a mutex or token name: the record's id (or the file's identity when it holds none). */
interface Seen {
  readonly key: string
  readonly ino: number
  readonly mtimeMs: number
  readonly record: OwnerRecord | undefined
  readonly directory: boolean
}
