/**
 * Where the store and the server read the time. Passed in (never a module
 * singleton) so tests can freeze it or step it backwards.
 */
export interface Clock {
  /** Wall-clock instant in nanoseconds since the Unix epoch (UTC). */
  nowNanos(): bigint
}

/**
 * The system clock with nanosecond resolution: the wall clock sampled once,
 * advanced by the monotonic high-resolution timer, and re-anchored whenever the
 * two drift apart by more than a second (NTP steps, suspend), so revs carry
 * real nanoseconds like the Go tool's without freezing a wrong offset forever.
 */
export class SystemClock implements Clock {
  #anchorWall = BigInt(Date.now()) * 1_000_000n
  #anchorMono = process.hrtime.bigint()

  nowNanos(): bigint {
    const now = this.#anchorWall + (process.hrtime.bigint() - this.#anchorMono)
    const wall = BigInt(Date.now()) * 1_000_000n
    const drift = now > wall ? now - wall : wall - now
    if (drift > 1_000_000_000n) {
      this.#anchorWall = wall
      this.#anchorMono = process.hrtime.bigint()
      return wall
    }
    return now
  }
}
