/** A lock holder in words: who, doing what, as which principal, since when, and the lease left. */
import type { Holder } from './types.js'
import { instant, duration } from './time.js'

/** "who · operation" of a holder, or what is known of a lock the Go tool took. */
export function holderName(h: Holder): string {
  if (h.legacy) return `the unobin Go tool${h.pid === null ? '' : ` (pid ${h.pid})`}`
  const who = h.who === '' ? 'unnamed holder' : h.who
  return h.operation === '' ? who : `${who} · ${h.operation}`
}

/** How long the lock has been held ("12 min"), or null when unknown. */
export function heldFor(h: Holder, now: number): string | null {
  const created = instant(h.created)
  return created === null ? null : duration(now - created.getTime())
}

/** The lease left ("4 min", "expired"), or "no lease" for a lock without one. */
export function leaseLeft(h: Holder, now: number): string {
  const expires = instant(h.expires)
  if (expires === null) return 'no lease'
  const left = expires.getTime() - now
  return left <= 0 ? 'expired' : duration(left)
}
