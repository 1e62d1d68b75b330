/**
 * Waiting for a stack's lock to change: in-process releases wake waiters
 * through an event, releases by other processes through a watch of the stack
 * directory, and a poll catches whatever both miss (a watch is best-effort).
 *
 * The event channel belongs to the stack directory, not to one LockWait:
 * the store root may drop an idle stack's handle and make a new one later,
 * and a release through either handle must wake the waiters of both.
 */
import { EventEmitter } from 'node:events'
import type { FSWatcher } from 'node:fs'
import type { FsOps } from '../../fs/fs-ops.js'
import { LOCK_FILE } from './layout.js'

/** A waiter of this process that an unlock here may take, to grant it the lock in its own critical section. */
interface Queued {
  readonly claimant: object
  /** Ends the wait at once (the taker settles the claimant). */
  readonly wake: () => void
}

/** The in-process wake-up channel of each stack directory with waiters, shared by every LockWait for it. */
const channels = new Map<string, { changes: EventEmitter; waiters: number; queue: Queued[] }>()

/** The wake-up channel of one stack's lock waiters. */
export class LockWait {
  readonly #path: string
  readonly #fs: FsOps
  readonly #pollMs: number
  #watcher: FSWatcher | undefined
  #waiters = 0

  /** `path` is the stack directory, watched through `fs` (so fault injection reaches the watch too); `pollMs` the fallback poll interval. */
  constructor(path: string, fs: FsOps, pollMs: number) {
    this.#path = path
    this.#fs = fs
    this.#pollMs = pollMs
  }

  /** How many callers are waiting right now (this process only). */
  get waiting(): number {
    return this.#waiters
  }

  /** Wakes every waiter of this process (the lock was released here). */
  notify(): void {
    channels.get(this.#path)?.changes.emit('change')
  }

  /**
   * Takes the longest-waiting claimant of this process (see waitForChange),
   * ending its wait at once; undefined when none waits. The caller must then
   * settle it: the claimant's waiter no longer listens to its timer or signal.
   */
  take(): object | undefined {
    const queued = channels.get(this.#path)?.queue.shift()
    queued?.wake()
    return queued?.claimant
  }

  /**
   * Resolves when the lock may have changed, after at most `timeoutMs` (and
   * at most the poll interval: the caller re-reads the lock and its clock),
   * or when `signal` aborts. While it waits, `claimant` (when given) may be
   * taken by an unlock of this process (see `take`), which ends the wait.
   */
  async waitForChange(timeoutMs: number, signal: AbortSignal | undefined, claimant?: object): Promise<void> {
    let channel = channels.get(this.#path)
    if (channel === undefined) {
      channel = { changes: new EventEmitter(), waiters: 0, queue: [] }
      channel.changes.setMaxListeners(0)
      channels.set(this.#path, channel)
    }
    const { changes, queue } = channel
    channel.waiters++
    this.#waiters++
    this.#watch()
    try {
      await new Promise<void>((resolve) => {
        const queued: Queued | undefined = claimant === undefined ? undefined : { claimant, wake: () => done() }
        const done = () => {
          clearTimeout(timer)
          changes.off('change', done)
          signal?.removeEventListener('abort', done)
          const at = queued === undefined ? -1 : queue.indexOf(queued)
          if (at >= 0) queue.splice(at, 1)
          resolve()
        }
        const timer = setTimeout(done, Math.max(1, Math.min(timeoutMs, this.#pollMs)))
        changes.on('change', done)
        signal?.addEventListener('abort', done, { once: true })
        if (queued !== undefined) queue.push(queued)
      })
    } finally {
      this.#waiters--
      channel.waiters -= 1
      if (channel.waiters === 0) channels.delete(this.#path)
      if (this.#waiters === 0) this.close()
    }
  }

  /** Stops watching the stack directory (waiters fall back to polling). */
  close(): void {
    this.#watcher?.close()
    this.#watcher = undefined
  }

  /** Watches the stack directory so a release by another process wakes waiters at once. */
  #watch(): void {
    if (this.#watcher !== undefined) return
    try {
      this.#watcher = this.#fs.watch(this.#path, { persistent: false }, (_event, name) => {
        if (name === null || name === LOCK_FILE) this.notify()
      })
      this.#watcher.on('error', () => this.close())
    } catch {
      this.#watcher = undefined // polling still wakes waiters
    }
  }
}
