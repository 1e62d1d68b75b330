/**
 * A short critical section shared by every process on one data directory:
 * an in-process queue (proper-lockfile is not re-entrant) in front of a
 * proper-lockfile directory lock. proper-lockfile's stale takeover can briefly
 * admit two owners, so callers use the mutex only to order their own steps;
 * exclusion that matters (the stack lock, rev names) rests on exclusive
 * create and rename, which stay safe even if the mutex is broken.
 */
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
      const release = await lockfile.lock(this.#path, {
        realpath: false,
        lockfilePath: this.#path,
        stale: this.#staleMs,
        retries: { retries: 1000, factor: 1.2, minTimeout: 2, maxTimeout: 25, randomize: true },
        onCompromised: this.#onCompromised,
      })
      try {
        return await fn()
      } finally {
        await release().catch(() => {})
      }
    } finally {
      done()
    }
  }
}
