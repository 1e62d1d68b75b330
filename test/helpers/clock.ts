import type { Clock } from '../../src/clock.js'

/**
 * A clock the test moves by hand: frozen until `set`/`advance` is called, so
 * tests can prove rev ordering when the clock stands still or steps back.
 */
export class ManualClock implements Clock {
  nanos: bigint

  constructor(start: bigint | string = '2026-07-10T12:00:00Z') {
    this.nanos = typeof start === 'bigint' ? start : BigInt(Date.parse(start)) * 1_000_000n
  }

  nowNanos(): bigint {
    return this.nanos
  }

  set(iso: string): void {
    this.nanos = BigInt(Date.parse(iso)) * 1_000_000n
  }

  advanceMs(ms: number): void {
    this.nanos += BigInt(Math.round(ms * 1_000_000))
  }
}
