/**
 * Calls that may share one answer while it stays fresh. A caller never joins
 * a call already in flight (it may have started before a change the caller
 * saw acknowledged); it joins the next one, which starts when the running
 * call ends and answers everyone who asked meanwhile. Ten concurrent reads
 * of one stack's `current` thus cost about two `lstat`s, not ten, and each
 * still sees every change made before it asked.
 */
import type { Stats } from 'node:fs'
import type { FsOps } from './fs-ops.js'

/** Shares fresh calls by key: at most one running and one waiting per key. */
export class FreshCalls<T> {
  readonly #running = new Map<string, Promise<T>>()
  readonly #next = new Map<string, Promise<T>>()

  /** The answer of `call` (or of the call of a caller who asked with the same key since this one's call would have started). */
  run(key: string, call: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key)
    if (running === undefined) return this.#start(key, call)
    let next = this.#next.get(key)
    if (next === undefined) {
      const settled = running.then(
        () => undefined,
        () => undefined,
      )
      next = settled.then(() => {
        this.#next.delete(key)
        return this.#start(key, call)
      })
      this.#next.set(key, next)
    }
    return next
  }

  #start(key: string, call: () => Promise<T>): Promise<T> {
    const started = call()
    this.#running.set(key, started)
    const clear = () => {
      if (this.#running.get(key) === started) this.#running.delete(key)
    }
    started.then(clear, clear)
    return started
  }
}

/** FreshCalls per filesystem: a test's fault-injecting filesystem never shares a call with the real one. */
export class FreshCallsPerFs<T> {
  readonly #byFs = new WeakMap<FsOps, FreshCalls<T>>()

  run(fs: FsOps, key: string, call: () => Promise<T>): Promise<T> {
    let calls = this.#byFs.get(fs)
    if (calls === undefined) {
      calls = new FreshCalls<T>()
      this.#byFs.set(fs, calls)
    }
    return calls.run(key, call)
  }
}

const lstats = new FreshCallsPerFs<Stats>()

/** `fs.lstat(path)`, shared by the callers who ask for the same path at once (see FreshCalls). */
export function freshLstat(fs: FsOps, path: string): Promise<Stats> {
  return lstats.run(fs, path, () => fs.lstat(path))
}
