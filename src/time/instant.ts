/**
 * Instants as text: the RFC 3339 rendering with nanoseconds that Go's
 * `time.RFC3339Nano` writes (fraction without trailing zeros, no dot for a
 * whole second, `Z`). Revs, lock leases, trash entries and audit lines all
 * use it, so it lives apart from any of them.
 */

const NANOS_PER_SECOND = 1_000_000_000n
const MIN_SECONDS = -62167219200n // 0000-01-01T00:00:00Z, the first instant RFC 3339 can write
const MAX_SECONDS = 253402300799n // 9999-12-31T23:59:59Z, the last instant RFC 3339 can write

/**
 * Renders an instant (ns since the epoch, UTC) exactly as Go's RFC3339Nano
 * does. Throws RangeError outside the years 0000-9999, which RFC 3339
 * cannot write.
 */
export function formatInstant(nanos: bigint): string {
  let seconds = nanos / NANOS_PER_SECOND
  let fraction = nanos % NANOS_PER_SECOND
  if (fraction < 0n) {
    fraction += NANOS_PER_SECOND
    seconds -= 1n
  }
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) {
    throw new RangeError(`instant ${nanos} ns is outside the years 0000-9999`)
  }
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19)
  const digits = fraction.toString().padStart(9, '0').replace(/0+$/, '')
  return digits === '' ? `${whole}Z` : `${whole}.${digits}Z`
}
