/**
 * What the client prints: aligned tables for people (relative times on a
 * TTY, absolute UTC instants otherwise, so logs stay greppable), JSON for
 * scripts (`--json`), and one-line descriptions of a lock holder.
 */
import type { LockHolder } from './api.js'

/** Where output goes, and whether a person is watching. */
export interface Io {
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
  readonly stdoutIsTTY: boolean
  readonly stderrIsTTY: boolean
  /** `--json`: one JSON document on stdout instead of tables. */
  readonly json: boolean
  readonly now: () => number
}

/** Prints one JSON document (2-space indent) on stdout. */
export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

/** Prints lines on stdout. */
export function printLines(io: Io, ...lines: string[]): void {
  io.stdout.write(lines.map((l) => `${l}\n`).join(''))
}

/** Columns aligned with two spaces; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows]
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  return `${all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`
}

/** `key  value` lines, keys aligned. */
export function keyValues(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([k]) => k.length))
  return `${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`.trimEnd()).join('\n')}\n`
}

/** "12s ago", "5m ago", "3h ago", "2d ago" (or "in 40s" for the future). */
export function relative(iso: string, now: number): string {
  const ms = Date.parse(iso)
  if (Number.isNaN(ms)) return iso
  const delta = Math.round((now - ms) / 1000)
  const abs = Math.abs(delta)
  const text =
    abs < 60
      ? `${abs}s`
      : abs < 3600
        ? `${Math.floor(abs / 60)}m`
        : abs < 86_400
          ? `${Math.floor(abs / 3600)}h`
          : `${Math.floor(abs / 86_400)}d`
  return delta >= 0 ? `${text} ago` : `in ${text}`
}

/** A time for a table: relative on a TTY, the absolute instant otherwise. */
export function when(io: Io, iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '-'
  return io.stdoutIsTTY ? relative(iso, io.now()) : iso
}

/** The instant a rev names (revs are write instants; a `_N` suffix is dropped). */
export function revInstant(rev: string): string {
  return rev.replace(/_\d+$/, '')
}

/**
 * One line about a holder: who, what, as which principal, since when and
 * until when, e.g. `ci@runner (apply) as token:ci since 3m ago (2026-…), lease until in 40s`.
 */
export function describeHolder(holder: LockHolder, now: number): string {
  const parts = [holder.who || (holder.legacy ? `the unobin Go tool (pid ${holder.pid ?? '?'})` : 'an unnamed holder')]
  if (holder.operation) parts.push(`(${holder.operation})`)
  if (holder.principal) parts.push(`as ${holder.principal}`)
  if (holder.created) parts.push(`since ${relative(holder.created, now)} (${holder.created})`)
  if (holder.expires) parts.push(`lease ends ${relative(holder.expires, now)}`)
  parts.push(`generation ${holder.generation}`)
  return parts.join(' ')
}
