/**
 * A short critical section shared by every process on one data directory:
 * an in-process queue (proper-lockfile is not re-entrant) in front of a
 * proper-lockfile directory lock. proper-lockfile's stale takeover can briefly
 * admit two owners, so callers use the mutex only to order their own steps;
 * exclusion that matters (the stack lock, rev names) rests on exclusive
 * create and rename, which stay safe even if the mutex is broken.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import lockfile from 'proper-lockfile'

/** Options for a mutex. */
export interface MutexOptions {
  /** How old (ms) a mutex whose owner stopped refreshing it must be before it is taken over. */
  readonly staleMs?: number
  /** Called when proper-lockfile reports the mutex compromised (instead of crashing the process). */
  readonly onCompromised?: (err: Error) => void
}

/** A named cross-process mutex at `path` (a directory proper-lockfile creates). */
export class Mutex {
  readonly #path: string
  readonly #staleMs: number
  readonly #onCompromised: (err: Error) => void
  #tail: Promise<unknown> = Promise.resolve()

  constructor(path: string, options: MutexOptions = {}) {
    this.#path = path
    this.#staleMs = Math.max(2000, options.staleMs ?? 10_000)
    this.#onCompromised = options.onCompromised ?? (() => {})
  }

  /** Runs `fn` while holding the mutex; releases it in `finally`. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#tail
    let done!: () => void
    this.#tail = new Promise<void>((resolve) => {
      done = resolve
    })
    try {
      await previous.catch(() => {})
      const release = await this.#acquire()
      try {
        return await fn()
      } finally {
        await release().catch(() => {})
      }
    } finally {
      done()
    }
  }

  /**
   * Takes the proper-lockfile lock, retrying while another process holds it
   * (2 ms, growing to 25 ms, randomised) for up to RETRY_FOR_MS. The loop is
   * ours: proper-lockfile's own retries precompute every delay of every
   * attempt up front, which was a measurable share of each uncontended write.
   */
  async #acquire(): Promise<() => Promise<void>> {
    const deadline = Date.now() + RETRY_FOR_MS
    for (let attempt = 0; ; attempt++) {
      try {
        return await lockfile.lock(this.#path, { realpath: false, lockfilePath: this.#path, stale: this.#staleMs, retries: 0, onCompromised: this.#onCompromised })
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'ELOCKED' || Date.now() >= deadline) throw err
        await sleep(Math.min(25, 2 * 1.2 ** attempt) * (0.5 + Math.random()))
      }
    }
  }
}

/** How long a mutex is waited for before the operation fails (its holder may be stuck). */
const RETRY_FOR_MS = 30_000
