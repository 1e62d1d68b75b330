/**
 * Per-caller rate limiting: a token bucket per key (principal, or remote
 * address for failed authentication), refilled continuously at `perMinute`
 * up to `burst`. In memory, per process: several replicas each allow the
 * rate. Full buckets are forgotten, so idle callers cost nothing.
 */

/** Options of a rate limiter. */
export interface RateLimitOptions {
  /** Sustained requests per minute per key. */
  readonly perMinute: number
  /** Requests a key may make at once after being idle. */
  readonly burst: number
  /** Monotonic milliseconds (passed in so tests control time). */
  readonly now: () => number
}

/** The outcome of `take`: allowed, or refused with the seconds until the next request may pass. */
export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number }

/** Token buckets by key. */
export class RateLimiter {
  readonly #options: RateLimitOptions
  readonly #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(options: RateLimitOptions) {
    this.#options = options
  }

  /** Takes one request's token from `key`'s bucket. */
  take(key: string): RateDecision {
    const bucket = this.#refill(key)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return { ok: true }
    }
    return {
      ok: false,
      retryAfterSeconds: Math.max(1, Math.ceil(((1 - bucket.tokens) * 60) / this.#options.perMinute)),
    }
  }

  /** Whether `key` has a token left, without taking it (the gate for failed authentications). */
  peek(key: string): RateDecision {
    const bucket = this.#refill(key)
    if (bucket.tokens >= 1) return { ok: true }
    return {
      ok: false,
      retryAfterSeconds: Math.max(1, Math.ceil(((1 - bucket.tokens) * 60) / this.#options.perMinute)),
    }
  }

  #refill(key: string): { tokens: number; at: number } {
    const now = this.#options.now()
    if (this.#buckets.size > 10_000) this.#sweep(now)
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      bucket = { tokens: this.#options.burst, at: now }
      this.#buckets.set(key, bucket)
      return bucket
    }
    const elapsed = Math.max(0, now - bucket.at)
    bucket.tokens = Math.min(this.#options.burst, bucket.tokens + (elapsed * this.#options.perMinute) / 60_000)
    bucket.at = now
    return bucket
  }

  /** Forgets buckets that have refilled (they would start full anyway). */
  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) * this.#options.perMinute) / 60_000 >= this.#options.burst)
        this.#buckets.delete(key)
    }
  }
}
