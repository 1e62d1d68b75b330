/**
 * The guard before a parse: about how many JSON values a document holds,
 * counted as the structural characters outside strings (each `{`, `[`, `,`
 * and `:` starts a value or a member) in one pass without allocation, and
 * the answer for a document of more than the server parses at once. The
 * parse worker counts a whole body in one go; the main thread counts in
 * slices, a turn of the event loop each.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import { StateError } from '../errors.js'

/** A count over `bytes`, advanced slice by slice. */
export class ValueCounter {
  readonly #bytes: Buffer
  #at = 0
  #inString = false
  /** The values counted so far (the root counts one). */
  count = 1

  constructor(bytes: Buffer) {
    this.#bytes = bytes
  }

  /** Counts up to about byte `until`; true once the whole document is counted. */
  advance(until: number): boolean {
    const bytes = this.#bytes
    const end = Math.min(until, bytes.length)
    let count = this.count
    let inString = this.#inString
    let i = this.#at
    for (; i < end; i++) {
      const c = bytes[i]!
      if (inString) {
        if (c === 0x5c)
          i++ // a backslash escapes the next byte
        else if (c === 0x22) inString = false
      } else if (c === 0x22) inString = true
      else if (c === 0x7b || c === 0x5b || c === 0x2c || c === 0x3a) count++
    }
    this.count = count
    this.#inString = inString
    this.#at = i
    return i >= bytes.length
  }
}

/** The refusal of a document of `values` values, more than `maxValues`. */
export function tooManyValues(values: number, maxValues: number): StateError {
  return new StateError(
    'body-too-large',
    `the document holds about ${values} JSON values, more than the server parses at once (${maxValues}): send a smaller document`,
    { values, maxValues },
  )
}

/** Throws `tooManyValues` when `bytes` holds more than `maxValues` values; counts `slice` bytes per turn of the event loop. */
export async function assertCountable(bytes: Buffer, maxValues: number, slice: number): Promise<void> {
  const counter = new ValueCounter(bytes)
  for (let until = slice; !counter.advance(until); until += slice) await nextTurn()
  if (counter.count > maxValues) throw tooManyValues(counter.count, maxValues)
}
