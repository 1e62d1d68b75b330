/**
 * Revs: the immutable names of stored snapshots.
 *
 * A rev is the write instant in UTC rendered like Go's `time.RFC3339Nano`
 * (fraction without trailing zeros, no dot for a whole second, `Z`), with an
 * optional `_N` suffix (N ≥ 1) when several writes share an instant. Only the
 * canonical rendering is a valid rev, so every rev names exactly one file and
 * can never carry a path separator.
 */
import { StateError } from '../errors.js'
import { formatInstant } from '../time/instant.js'

/** A parsed rev: its instant and its collision suffix (0 = none). */
export interface ParsedRev {
  readonly nanos: bigint
  readonly suffix: number
}

const REV_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z(?:_([1-9]\d{0,8}))?$/

/** Renders a rev: the instant, plus `_N` when `suffix` > 0. */
export function formatRev(rev: ParsedRev): string {
  const base = formatInstant(rev.nanos)
  return rev.suffix > 0 ? `${base}_${rev.suffix}` : base
}

/** Parses a rev; undefined when `name` is not a canonical rev. Never throws. */
export function parseRev(name: string): ParsedRev | undefined {
  const m = REV_PATTERN.exec(name)
  if (m === null) return undefined
  const [, y, mo, d, h, mi, s, frac, suffix] = m
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s))
  const date = new Date(ms)
  // Date.UTC maps years 0-99 to 1900-1999; set the full year explicitly.
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d))
  if (Number.isNaN(date.getTime())) return undefined
  // Out-of-range fields (month 13, day 32, hour 24) roll over, possibly past year 9999: never canonical.
  if (
    date.getUTCFullYear() !== Number(y) ||
    date.getUTCMonth() !== Number(mo) - 1 ||
    date.getUTCDate() !== Number(d) ||
    date.getUTCHours() !== Number(h) ||
    date.getUTCMinutes() !== Number(mi) ||
    date.getUTCSeconds() !== Number(s)
  )
    return undefined
  const nanos = BigInt(date.getTime()) * 1_000_000n + BigInt((frac ?? '').padEnd(9, '0'))
  const parsed = { nanos, suffix: suffix === undefined ? 0 : Number(suffix) }
  // Canonical only: no trailing fraction zeros, no leading zeros in the suffix.
  return formatRev(parsed) === name ? parsed : undefined
}

/** True when `name` is a canonical rev. */
export function isRev(name: string): boolean {
  return parseRev(name) !== undefined
}

/**
 * Throws `invalid-rev` unless `name` is a canonical rev. Called before any
 * path is built from a rev.
 */
export function assertRev(name: string): ParsedRev {
  const parsed = parseRev(name)
  if (parsed === undefined) {
    throw new StateError(
      'invalid-rev',
      `"${printable(name)}" is not a rev: expected a UTC instant like 2026-07-10T12:00:00.1Z, optionally with a _N suffix`,
      { rev: printable(name) },
    )
  }
  return parsed
}

/**
 * The rev order's one rule, on parsed revs: by instant, then by suffix
 * (`…Z` < `…Z_1` < `…Z_2`). Everything that orders revs comes here.
 */
export function compareParsedRevs(a: ParsedRev, b: ParsedRev): number {
  if (a.nanos !== b.nanos) return a.nanos < b.nanos ? -1 : 1
  return a.suffix - b.suffix
}

/** A name with what ordering needs of it, computed once. */
interface RevKey {
  readonly name: string
  readonly rev: ParsedRev | undefined
  readonly bytes: Buffer
}

function revKey(name: string): RevKey {
  return { name, rev: parseRev(name), bytes: Buffer.from(name) }
}

/** Valid revs by `compareParsedRevs`; names that are not revs after all of them, in byte order. */
function compareKeys(a: RevKey, b: RevKey): number {
  if (a.rev !== undefined && b.rev !== undefined) return compareParsedRevs(a.rev, b.rev)
  if (a.rev !== undefined) return -1
  if (b.rev !== undefined) return 1
  return Buffer.compare(a.bytes, b.bytes)
}

/**
 * Orders revs as the Go tool does: valid revs by instant, then by suffix;
 * names that are not revs after all of them, in byte order.
 */
export function compareRevs(a: string, b: string): number {
  return compareKeys(revKey(a), revKey(b))
}

/** Returns a new array of `names` in rev order (the order of `compareRevs`); the input is left as it was. */
export function sortRevs(names: readonly string[]): string[] {
  // Parse each name once (not once per comparison): listing 10,000 revs stays in milliseconds.
  return names
    .map(revKey)
    .sort(compareKeys)
    .map((k) => k.name)
}

/**
 * The rev a write at `nowNanos` should try first, given the newest valid rev
 * already stored (if any): the instant itself when it is later than the
 * newest, otherwise the newest rev's instant with the next suffix, so a new
 * rev always sorts after every stored one even if the clock stepped back.
 */
export function nextRev(nowNanos: bigint, newest: ParsedRev | undefined): ParsedRev {
  if (newest === undefined || nowNanos > newest.nanos) return { nanos: nowNanos, suffix: 0 }
  return { nanos: newest.nanos, suffix: newest.suffix + 1 }
}

/** Shows a user-supplied name safely in a message (control characters escaped, length capped). */
export function printable(name: string): string {
  const escaped = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name)
  return escaped.slice(1, -1)
}
