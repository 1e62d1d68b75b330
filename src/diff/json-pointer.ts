/**
 * JSON Pointers (RFC 6901) for the paths a diff reports: `/attributes/tags/Name`,
 * `/entries/0`. Segments are escaped (`~` → `~0`, `/` → `~1`) so any key,
 * however odd, names exactly one place.
 */

/** One step of a path: an object key or an array index. */
export type Segment = string | number

/** The JSON Pointer of `segments` ("" for the whole document). */
export function pointer(segments: readonly Segment[]): string {
  let out = ''
  for (const s of segments) out += `/${String(s).replaceAll('~', '~0').replaceAll('/', '~1')}`
  return out
}
