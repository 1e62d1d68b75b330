/**
 * Keeps a held lock alive: renews its lease at a third of the ttl, so two
 * renewals can fail before it ends. A refusal that says the lock is gone
 * (lock-lost, lock-not-held, not-locked) is final at once; a server that
 * cannot be reached is retried every few seconds until the lease would end,
 * and only then is the lock given up as lost.
 */
import type { Api, LockHolder } from './api.js'
import { ClientError } from './exit-codes.js'
import type { StackRef } from './stack-ref.js'

/** Refusals after which the lock is certainly not ours any more. */
const GONE = new Set(['lock-lost', 'lock-not-held', 'not-locked'])

/** Renews one lock until stopped, and says once if it is lost. */
export class LeaseKeeper {
  readonly #api: Api
  readonly #ref: StackRef
  readonly #id: string
  readonly #ttl: number
  readonly #onLost: (reason: ClientError) => void
  readonly #abort = new AbortController()
  #timer: NodeJS.Timeout | undefined
  #expiresAt: number
  #stopped = false

  /** `holder`: the lock as taken; `ttl`: its lease in seconds; `onLost` is called at most once. */
  constructor(api: Api, ref: StackRef, holder: LockHolder, ttl: number, onLost: (reason: ClientError) => void) {
    this.#api = api
    this.#ref = ref
    this.#id = holder.id
    this.#ttl = ttl
    this.#onLost = onLost
    this.#expiresAt = holder.expires === null ? Infinity : Date.parse(holder.expires)
  }

  /** Starts renewing. */
  start(): void {
    this.#schedule((this.#ttl * 1000) / 3)
  }

  /** Stops renewing (an in-flight renewal is abandoned). */
  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#abort.abort()
  }

  #schedule(ms: number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => void this.#renew(), ms)
  }

  async #renew(): Promise<void> {
    try {
      const holder = await this.#api.renew(this.#ref, this.#id, this.#ttl, this.#abort.signal)
      if (this.#stopped) return
      this.#expiresAt = holder.expires === null ? Infinity : Date.parse(holder.expires)
      this.#schedule((this.#ttl * 1000) / 3)
    } catch (err) {
      if (this.#stopped) return
      const error =
        err instanceof ClientError
          ? err
          : new ClientError('renew-failed', (err as Error).message, 1, undefined, { cause: err })
      if (GONE.has(error.code)) return this.#lost(error)
      // A transient failure: try again soon, while the lease still runs.
      const left = this.#expiresAt - Date.now()
      if (left <= 1000) {
        return this.#lost(
          new ClientError(
            'lock-lost',
            `the lease could not be renewed before it ended (last error: ${error.code}: ${error.message})`,
            3,
          ),
        )
      }
      this.#schedule(Math.min(2000, left / 3))
    }
  }

  #lost(reason: ClientError): void {
    this.stop()
    this.#onLost(reason)
  }
}
