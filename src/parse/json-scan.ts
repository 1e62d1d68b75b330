/**
 * A resumable JSON syntax scanner over bytes: checks a document with the
 * grammar `JSON.parse` applies (RFC 8259: whitespace is space, tab, CR and
 * LF; numbers, strings and literals exactly as there), without building it,
 * and tells a visitor about the values near the root. It runs over a body
 * in slices (`scan(until)`), so a large document is checked a slice per
 * turn of the event loop, in constant memory, instead of in one
 * `JSON.parse` that holds the loop and allocates several times the body.
 *
 * The scanner only answers "this is JSON" or "it is not"; where a caller
 * needs `JSON.parse`'s own message, it parses the document itself (see
 * fast-checks.ts: the scan decides the common case, the reference decides
 * every other).
 */

/** The kinds of JSON value. */
export type JsonKind = 'object' | 'array' | 'string' | 'number' | 'literal'

/** What a scan reports, for every value at depth `maxDepth` or less (the root is depth 0). */
export interface JsonVisitor {
  /** The depth below which values are not reported (they are still checked). */
  readonly maxDepth: number
  /**
   * A value begins at `depth`; `key` is its member name (decoded) in an
   * object, its index in an array, null at the root. Scalars are whole:
   * their bytes are `bytes[start, end)`. Returning false stops the scan
   * (the visitor has decided).
   */
  value(depth: number, key: string | number | null, kind: JsonKind, start: number, end: number): boolean
  /** The object or array begun at `depth` closed. Returning false stops the scan. */
  close(depth: number): boolean
}

enum State {
  Value,
  FirstValueOrClose, // after [
  FirstKeyOrClose, // after {
  Key, // after , in an object
  Colon,
  AfterValue,
  Done,
}

/** The outcome of a finished scan. */
export type ScanResult = 'json' | 'not-json' | 'stopped'

/** A scan of one document held in memory; call `scan` until it returns a result. */
export class JsonScanner {
  readonly #bytes: Buffer
  readonly #visitor: JsonVisitor
  #at = 0
  #state = State.Value
  /** Open containers: true for an object. */
  readonly #objects: boolean[] = []
  /** The key or index of the value being read at each depth (up to maxDepth + 1). */
  readonly #keys: Array<string | number | null> = [null]
  #result: ScanResult | undefined
  /** The start of the string token being read (it may span slices), or -1. */
  #string = -1
  /** The structural characters read so far (each `{`, `[`, `,` and `:`): the count the parse worker's guard takes. */
  structural = 0

  constructor(bytes: Buffer, visitor: JsonVisitor) {
    this.#bytes = bytes
    this.#visitor = visitor
  }

  /** Scans up to about byte `until` (a number or literal that spans it is read whole); returns the result once known. */
  scan(until: number): ScanResult | undefined {
    if (this.#result !== undefined) return this.#result
    const b = this.#bytes
    const n = b.length
    const visitor = this.#visitor
    const objects = this.#objects
    const keys = this.#keys
    let i = this.#at
    let state = this.#state
    const fail = (result: ScanResult): ScanResult => {
      this.#result = result
      return result
    }
    for (;;) {
      if (this.#string >= 0) {
        // A string token (long ones are read across slices); state is already what follows it.
        const end = stringFrom(b, i, until)
        if (end === -1) return fail('not-json')
        if (end < -1) {
          i = -end - 2
          break
        }
        const start = this.#string
        this.#string = -1
        i = end
        const depth = objects.length
        if (depth <= visitor.maxDepth) {
          if (state === State.Colon) keys[depth] = decodeString(b, start, end)
          else if (!visitor.value(depth, keys[depth] ?? null, 'string', start, end)) return fail('stopped')
        }
        continue
      }
      // Whitespace between tokens.
      while (i < n && i < until) {
        const c = b[i]!
        if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break
        i++
      }
      if (i >= n) return fail(state === State.Done ? 'json' : 'not-json')
      if (i >= until) break
      const c = b[i]!
      const depth = objects.length
      switch (state) {
        case State.Done:
          return fail('not-json')
        case State.Colon:
          if (c !== 0x3a) return fail('not-json')
          this.structural++
          i++
          state = State.Value
          continue
        case State.AfterValue:
          if (c === 0x2c) {
            this.structural++
            i++
            if (objects[depth - 1]) state = State.Key
            else {
              state = State.Value
              const key = keys[depth]
              if (typeof key === 'number') keys[depth] = key + 1
            }
            continue
          }
          if (c === (objects[depth - 1] ? 0x7d : 0x5d)) {
            i++
            objects.pop()
            if (depth - 1 <= visitor.maxDepth && !visitor.close(depth - 1)) return fail('stopped')
            state = objects.length === 0 ? State.Done : State.AfterValue
            continue
          }
          return fail('not-json')
        case State.FirstKeyOrClose:
        case State.Key: {
          if (c === 0x7d && state === State.FirstKeyOrClose) {
            i++
            objects.pop()
            if (depth - 1 <= visitor.maxDepth && !visitor.close(depth - 1)) return fail('stopped')
            state = objects.length === 0 ? State.Done : State.AfterValue
            continue
          }
          if (c !== 0x22) return fail('not-json')
          this.#string = i++
          state = State.Colon
          continue
        }
        case State.FirstValueOrClose:
          if (c === 0x5d) {
            i++
            objects.pop()
            if (depth - 1 <= visitor.maxDepth && !visitor.close(depth - 1)) return fail('stopped')
            state = objects.length === 0 ? State.Done : State.AfterValue
            continue
          }
          state = State.Value // the first value: read on the next round
          continue
        case State.Value: {
          const report = depth <= visitor.maxDepth
          if (c === 0x7b || c === 0x5b) {
            const object = c === 0x7b
            if (report && !visitor.value(depth, keys[depth] ?? null, object ? 'object' : 'array', i, i + 1))
              return fail('stopped')
            this.structural++
            i++
            objects.push(object)
            if (depth + 1 <= visitor.maxDepth) keys[depth + 1] = object ? null : 0
            state = object ? State.FirstKeyOrClose : State.FirstValueOrClose
            continue
          }
          if (c === 0x22) {
            this.#string = i++
            state = depth === 0 ? State.Done : State.AfterValue
            continue
          }
          let end: number
          let kind: JsonKind
          if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
            end = numberEnd(b, i)
            kind = 'number'
          } else {
            end = literalEnd(b, i)
            kind = 'literal'
          }
          if (end < 0) return fail('not-json')
          if (report && !visitor.value(depth, keys[depth] ?? null, kind, i, end)) return fail('stopped')
          i = end
          state = depth === 0 ? State.Done : State.AfterValue
          continue
        }
      }
    }
    this.#at = i
    this.#state = state
    return undefined
  }
}

/**
 * Reads the content of a string token from `j` (inside it, not within an
 * escape) up to about `limit`: the index after its closing quote; -1 when it
 * is not a valid JSON string; or, when `limit` came first, `-(k + 2)` to
 * resume at `k`.
 */
function stringFrom(b: Buffer, j: number, limit: number): number {
  const n = b.length
  for (; j < n; j++) {
    if (j >= limit) return -(j + 2)
    const c = b[j]!
    if (c === 0x22) return j + 1
    if (c < 0x20) return -1
    if (c === 0x5c) {
      const e = b[++j]
      if (e === 0x75) {
        for (let k = 1; k <= 4; k++) if (!isHex(b[j + k])) return -1
        j += 4
      } else if (
        e !== 0x22 &&
        e !== 0x5c &&
        e !== 0x2f &&
        e !== 0x62 &&
        e !== 0x66 &&
        e !== 0x6e &&
        e !== 0x72 &&
        e !== 0x74
      )
        return -1
    }
  }
  return -1
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39
}

/** The index after the number token at `i`, or -1: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. */
function numberEnd(b: Buffer, i: number): number {
  let j = i
  if (b[j] === 0x2d) j++
  if (b[j] === 0x30) j++
  else if (isDigit(b[j])) while (isDigit(b[j])) j++
  else return -1
  if (b[j] === 0x2e) {
    j++
    if (!isDigit(b[j])) return -1
    while (isDigit(b[j])) j++
  }
  if (b[j] === 0x65 || b[j] === 0x45) {
    j++
    if (b[j] === 0x2b || b[j] === 0x2d) j++
    if (!isDigit(b[j])) return -1
    while (isDigit(b[j])) j++
  }
  return j
}

const LITERALS = [Buffer.from('true'), Buffer.from('false'), Buffer.from('null')]

/** The index after the literal at `i` (true, false, null), or -1. */
function literalEnd(b: Buffer, i: number): number {
  for (const literal of LITERALS) {
    if (b.length - i >= literal.length && b.compare(literal, 0, literal.length, i, i + literal.length) === 0)
      return i + literal.length
  }
  return -1
}

/** The string a (valid) string token decodes to, as `JSON.parse` of the whole document would give it. */
export function decodeString(b: Buffer, start: number, end: number): string {
  // Without escapes a JSON string is its UTF-8 text, and decoding the token alone replaces an invalid
  // sequence exactly as decoding the document would (the quotes around it are ASCII).
  for (let i = start + 1; i < end - 1; i++)
    if (b[i] === 0x5c) return JSON.parse(b.toString('utf8', start, end)) as string
  return b.toString('utf8', start + 1, end - 1)
}

/** The number a (valid) number token denotes, as `JSON.parse` gives it. */
export function decodeNumber(b: Buffer, start: number, end: number): number {
  return Number(b.toString('latin1', start, end))
}
