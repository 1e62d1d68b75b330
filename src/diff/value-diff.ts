/**
 * The field-level difference of two JSON values: every place where they
 * differ, as JSON Pointer paths with the old and the new value (RFC 6902's
 * operation names: `add`, `remove`, `replace`). Objects are compared key by
 * key, arrays index by index; equal subtrees cost one walk and report
 * nothing. Sensitive places report the marker instead of either value.
 */
import { type Segment, pointer } from './json-pointer.js'
import {
  NOTHING_SENSITIVE,
  SENSITIVE_MARKER,
  type SensitivePaths,
  hasSensitiveBelow,
  isSensitive,
  redact,
} from './redaction.js'

/** One changed place of a value. */
export interface FieldChange {
  readonly op: 'add' | 'remove' | 'replace'
  /** JSON Pointer of the place, relative to the compared value. */
  readonly path: string
  /** The value before (absent for `add`); the marker when sensitive. */
  readonly old?: unknown
  /** The value after (absent for `remove`); the marker when sensitive. */
  readonly new?: unknown
  /** True when the values are hidden: the place is sensitive. */
  readonly sensitive?: true
}

/**
 * Appends to `out` every change from `a` to `b`, paths prefixed by `prefix`
 * (relative to the sensitive paths' root at `base`: paths in `sensitive` are
 * matched against the segments after `base`).
 */
export function diffValues(
  a: unknown,
  b: unknown,
  out: FieldChange[],
  sensitive: SensitivePaths,
  prefix: readonly Segment[] = [],
  base = 0,
): void {
  walk(a, b, [...prefix], out, sensitive, base)
}

/** Changes of a document's own top-level `fields` (its header: a Terraform state's serial and lineage, a snapshot's factory). */
export function diffFields(
  fields: readonly string[],
  a: Readonly<Record<string, unknown>> | undefined,
  b: Readonly<Record<string, unknown>>,
): FieldChange[] {
  const out: FieldChange[] = []
  for (const key of fields) diffValues(a?.[key], b[key], out, NOTHING_SENSITIVE, [key])
  return out
}

function walk(
  a: unknown,
  b: unknown,
  path: Segment[],
  out: FieldChange[],
  sensitive: SensitivePaths,
  base: number,
): void {
  if (a === b) return
  const watched = sensitive === 'all' || sensitive.length > 0
  const rel = watched ? path.slice(base) : path
  if (watched && isSensitive(sensitive, rel)) {
    if (!deepEqual(a, b)) out.push(hidden(a, b, path))
    return
  }
  // JSON has no undefined: it stands for an absent member.
  if (a === undefined) {
    out.push(added(b, path, sensitive, base))
    return
  }
  if (b === undefined) {
    out.push(removed(a, path, sensitive, base))
    return
  }
  const aObj = typeof a === 'object' && a !== null
  const bObj = typeof b === 'object' && b !== null
  if (aObj && bObj && Array.isArray(a) === Array.isArray(b)) {
    if (Array.isArray(a)) {
      const bb = b as unknown[]
      const n = Math.max(a.length, bb.length)
      for (let i = 0; i < n; i++) {
        path.push(i)
        if (i >= a.length) out.push(added(bb[i], path, sensitive, base))
        else if (i >= bb.length) out.push(removed(a[i], path, sensitive, base))
        else walk(a[i], bb[i], path, out, sensitive, base)
        path.pop()
      }
      return
    }
    const ao = a as Record<string, unknown>
    const bo = b as Record<string, unknown>
    for (const key of Object.keys(ao)) {
      path.push(key)
      if (!Object.hasOwn(bo, key)) out.push(removed(ao[key], path, sensitive, base))
      else walk(ao[key], bo[key], path, out, sensitive, base)
      path.pop()
    }
    for (const key of Object.keys(bo)) {
      if (Object.hasOwn(ao, key)) continue
      path.push(key)
      out.push(added(bo[key], path, sensitive, base))
      path.pop()
    }
    return
  }
  if (deepEqual(a, b)) return
  if (watched && hasSensitiveBelow(sensitive, rel)) {
    out.push({ op: 'replace', path: pointer(path), old: redact(a, sensitive, rel), new: redact(b, sensitive, rel) })
    return
  }
  out.push({ op: 'replace', path: pointer(path), old: a, new: b })
}

function hidden(a: unknown, b: unknown, path: readonly Segment[]): FieldChange {
  if (a === undefined) return { op: 'add', path: pointer(path), new: SENSITIVE_MARKER, sensitive: true }
  if (b === undefined) return { op: 'remove', path: pointer(path), old: SENSITIVE_MARKER, sensitive: true }
  return { op: 'replace', path: pointer(path), old: SENSITIVE_MARKER, new: SENSITIVE_MARKER, sensitive: true }
}

function added(value: unknown, path: readonly Segment[], sensitive: SensitivePaths, base: number): FieldChange {
  const rel = path.slice(base)
  if (isSensitive(sensitive, rel)) return { op: 'add', path: pointer(path), new: SENSITIVE_MARKER, sensitive: true }
  return { op: 'add', path: pointer(path), new: redact(value, sensitive, rel) }
}

function removed(value: unknown, path: readonly Segment[], sensitive: SensitivePaths, base: number): FieldChange {
  const rel = path.slice(base)
  if (isSensitive(sensitive, rel)) return { op: 'remove', path: pointer(path), old: SENSITIVE_MARKER, sensitive: true }
  return { op: 'remove', path: pointer(path), old: redact(value, sensitive, rel) }
}

/** Structural equality of two JSON values (key order ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false
    return true
  }
  if (Array.isArray(b)) return false
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  const keys = Object.keys(ao)
  if (keys.length !== Object.keys(bo).length) return false
  for (const key of keys) if (!Object.hasOwn(bo, key) || !deepEqual(ao[key], bo[key])) return false
  return true
}
