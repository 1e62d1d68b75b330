/**
 * Sensitive values never leave the server: Terraform outputs marked
 * `"sensitive": true`, and the attribute paths a resource instance lists in
 * `sensitive_attributes`, are replaced by one fixed marker in diffs, outputs
 * answers and the page. A diff then says that such a value changed, never
 * what it was or became.
 *
 * `sensitive_attributes` is read as Terraform and OpenTofu write it (state
 * v4): a list of paths, each a list of steps `{"type": "get_attr", "value":
 * "password"}` or `{"type": "index", "value": {"value": 0, "type": "number"}}`.
 * A JSON Pointer string is accepted too. Anything else there fails closed:
 * the whole instance is treated as sensitive.
 */
import type { Segment } from './json-pointer.js'

/** What stands in for a sensitive value. */
export const SENSITIVE_MARKER = '(sensitive)'

/** Where the sensitive values of one document part are: a set of paths, or everything. */
export type SensitivePaths = readonly (readonly Segment[])[] | 'all'

/** Nothing is sensitive. */
export const NOTHING_SENSITIVE: SensitivePaths = []

/**
 * Reads an instance's `sensitive_attributes` into paths relative to its
 * `attributes`. Absent or empty: nothing; unreadable: 'all' (fail closed).
 */
export function parseSensitiveAttributes(raw: unknown): SensitivePaths {
  if (raw === undefined || raw === null) return NOTHING_SENSITIVE
  if (!Array.isArray(raw)) return 'all'
  const paths: Segment[][] = []
  for (const path of raw) {
    if (typeof path === 'string') {
      if (path === '' || path === '/') return 'all'
      if (!path.startsWith('/')) return 'all'
      paths.push(
        path
          .slice(1)
          .split('/')
          .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~')),
      )
      continue
    }
    if (!Array.isArray(path) || path.length === 0) return 'all'
    const segments: Segment[] = []
    for (const step of path) {
      const segment = stepSegment(step)
      if (segment === undefined) return 'all'
      segments.push(segment)
    }
    paths.push(segments)
  }
  return paths
}

function stepSegment(step: unknown): Segment | undefined {
  if (typeof step !== 'object' || step === null) return undefined
  const { type, value } = step as { type?: unknown; value?: unknown }
  if (type === 'get_attr' && typeof value === 'string') return value
  if (type === 'index') {
    const key = typeof value === 'object' && value !== null ? (value as { value?: unknown }).value : value
    if (typeof key === 'string' || (typeof key === 'number' && Number.isInteger(key))) return key
  }
  return undefined
}

/** Both sides' sensitive paths: a value sensitive on either side is hidden on both. */
export function unionSensitive(a: SensitivePaths, b: SensitivePaths): SensitivePaths {
  if (a === 'all' || b === 'all') return 'all'
  if (a.length === 0) return b
  if (b.length === 0) return a
  return [...a, ...b]
}

/** True when `path` is a sensitive path or lies under one. */
export function isSensitive(paths: SensitivePaths, path: readonly Segment[]): boolean {
  if (paths === 'all') return true
  return paths.some((p) => p.length <= path.length && p.every((s, i) => String(s) === String(path[i])))
}

/** True when some sensitive path lies strictly under `path` (its subtree must be walked, not shown whole). */
export function hasSensitiveBelow(paths: SensitivePaths, path: readonly Segment[]): boolean {
  if (paths === 'all') return true
  return paths.some((p) => p.length > path.length && path.every((s, i) => String(s) === String(p[i])))
}

/**
 * A copy of `value` (found at `path`) with every sensitive part replaced by
 * the marker; `value` itself when nothing in it is sensitive.
 */
export function redact(value: unknown, paths: SensitivePaths, path: readonly Segment[] = []): unknown {
  if (isSensitive(paths, path)) return SENSITIVE_MARKER
  if (!hasSensitiveBelow(paths, path) || typeof value !== 'object' || value === null) return value
  if (Array.isArray(value)) return value.map((v, i) => redact(v, paths, [...path, i]))
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, paths, [...path, k])]))
}
