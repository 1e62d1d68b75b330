/**
 * Where the parts of a JSON text are, found on its bytes without building
 * its values: one member of the top-level object, and the elements of an
 * array. A diff uses this to compare the resources of two large states
 * element by element, byte for byte, and parse only the elements that differ
 * (a 10 MB state is mostly resources nobody changed).
 *
 * The scan finds boundaries; it does not validate. Whoever uses a span
 * parses it (or compares it with bytes that parsed), and answers undefined
 * here mean "take the ordinary path": JSON.parse of the whole text decides.
 */

/** A byte range [start, end) of a JSON text. */
export interface Span {
  readonly start: number
  readonly end: number
}

const QUOTE = 0x22
const BACKSLASH = 0x5c

/** True for JSON's four whitespace bytes (space, tab, line feed, carriage return). */
function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

/** The index of the first non-whitespace byte at or after `i`. */
function skipSpace(b: Buffer, i: number): number {
  while (isSpace(b[i])) i++
  return i
}

/** The index just past the string whose opening quote is at `i`; -1 when unterminated. */
function stringEnd(b: Buffer, i: number): number {
  let from = i + 1
  for (;;) {
    const quote = b.indexOf(QUOTE, from)
    if (quote < 0) return -1
    let slashes = 0
    while (b[quote - 1 - slashes] === BACKSLASH) slashes++
    if (slashes % 2 === 0) return quote + 1
    from = quote + 1
  }
}

/**
 * The index just past the value that starts at `i` (its first byte), or -1
 * when none starts there or it does not end. Objects and arrays end at
 * their matching bracket (strings skipped); scalars at the next whitespace,
 * comma, bracket or brace.
 */
export function valueEnd(b: Buffer, i: number): number {
  const first = b[i]
  if (first === QUOTE) return stringEnd(b, i)
  if (first === 0x7b || first === 0x5b) {
    let depth = 0
    while (i < b.length) {
      const c = b[i]!
      if (c === QUOTE) {
        i = stringEnd(b, i)
        if (i < 0) return -1
        continue
      }
      if (c === 0x7b || c === 0x5b) depth++
      else if (c === 0x7d || c === 0x5d) {
        depth--
        if (depth === 0) return i + 1
      }
      i++
    }
    return -1
  }
  // A number or a literal (true, false, null): JSON.parse of the span checks which.
  const scalar =
    first === 0x2d ||
    (first !== undefined && first >= 0x30 && first <= 0x39) ||
    first === 0x74 ||
    first === 0x66 ||
    first === 0x6e
  if (!scalar) return -1
  let j = i + 1
  while (j < b.length) {
    const c = b[j]!
    if (isSpace(c) || c === 0x2c || c === 0x5d || c === 0x7d) break
    j++
  }
  return j
}

/**
 * The value of member `name` of the top-level object of `b`, or undefined
 * when the text is not an object, has no such member, has it twice, or has
 * a member name with an escape (which could spell `name` another way).
 * `measure` finds where that member's value ends (-1: give up), so a caller
 * that reads the value anyway (arrayElements) scans it once.
 */
export function topLevelMember(b: Buffer, name: string, measure: typeof valueEnd = valueEnd): Span | undefined {
  let i = skipSpace(b, 0)
  if (b[i] !== 0x7b) return undefined
  i = skipSpace(b, i + 1)
  let found: Span | undefined
  if (b[i] === 0x7d) return undefined
  for (;;) {
    if (b[i] !== QUOTE) return undefined
    const keyEnd = stringEnd(b, i)
    if (keyEnd < 0) return undefined
    if (b.subarray(i, keyEnd).includes(BACKSLASH)) return undefined
    const key = b.toString('latin1', i + 1, keyEnd - 1)
    i = skipSpace(b, keyEnd)
    if (b[i] !== 0x3a) return undefined
    const start = skipSpace(b, i + 1)
    const end = (key === name ? measure : valueEnd)(b, start)
    if (end < 0) return undefined
    if (key === name) {
      if (found !== undefined) return undefined
      found = { start, end }
    }
    i = skipSpace(b, end)
    if (b[i] === 0x2c) {
      i = skipSpace(b, i + 1)
      continue
    }
    if (b[i] !== 0x7d) return undefined
    return skipSpace(b, i + 1) === b.length ? found : undefined
  }
}

/**
 * The elements of the array that starts at `start` of `b`, as [start, end)
 * pairs one after the other, and the index just past the array; undefined
 * when no array of values separated by commas starts there.
 */
export function arrayElements(b: Buffer, start: number): { elements: Int32Array; end: number } | undefined {
  if (b[start] !== 0x5b) return undefined
  const out: number[] = []
  let i = skipSpace(b, start + 1)
  if (b[i] === 0x5d) return { elements: new Int32Array(0), end: i + 1 }
  for (;;) {
    const end = valueEnd(b, i)
    if (end < 0) return undefined
    out.push(i, end)
    i = skipSpace(b, end)
    if (b[i] === 0x2c) {
      i = skipSpace(b, i + 1)
      continue
    }
    if (b[i] !== 0x5d) return undefined
    return { elements: Int32Array.from(out), end: i + 1 }
  }
}
