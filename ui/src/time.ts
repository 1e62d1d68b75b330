/**
 * Times as people read them: relative ("5 min ago", "in 20 min") beside the
 * absolute UTC instant. Revs are write instants (RFC 3339, nanoseconds, an
 * optional _N suffix), so a rev tells its own age.
 */

/** The instant a rev names (fraction cut to milliseconds, suffix dropped); null when it names none. */
export function revTime(rev: string): Date | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z(?:_\d+)?$/.exec(rev)
  if (m === null) return null
  const ms = (m[2] ?? '').slice(0, 3).padEnd(3, '0')
  const d = new Date(`${m[1]}.${ms}Z`)
  return Number.isNaN(d.getTime()) ? null : d
}

/** Parses an ISO instant; null for null or nonsense. */
export function instant(value: string | null | undefined): Date | null {
  if (value === null || value === undefined) return null
  const d = new Date(value)
  return Number.isNaN(d.getTime()) ? null : d
}

/** A duration in the largest sensible unit: "42 s", "5 min", "3 h 10 min", "2 days". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const min = Math.floor(s / 60)
  if (min < 60) return `${min} min`
  const h = Math.floor(min / 60)
  if (h < 24) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`
  const days = Math.floor(h / 24)
  return days === 1 ? '1 day' : `${days} days`
}

/** "5 min ago" or "in 5 min" relative to `now`. */
export function relative(date: Date, now: number): string {
  const diff = date.getTime() - now
  if (Math.abs(diff) < 5000) return 'just now'
  return diff < 0 ? `${duration(-diff)} ago` : `in ${duration(diff)}`
}

/** "2026-07-10 12:00:00 UTC". */
export function absolute(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`
}

/** Bytes as "812 B", "14.2 KB", "3.1 MB". */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return ''
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / (1024 * 1024)).toFixed(1)} MB`
}
