/**
 * JSON text exactly as Go's `json.MarshalIndent(v, "", "  ")` writes it, for
 * the files the Go tool reads back: two-space indent, keys in the order given,
 * and Go's HTML-safe escaping of `<`, `>`, `&`, U+2028 and U+2029 (which
 * `JSON.stringify` leaves as they are).
 */

const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
}

/** Serialises `value` like Go's MarshalIndent with a two-space indent (no trailing newline). */
export function goMarshalIndent(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c] ?? c)
}
