/**
 * The `resources` array of a Terraform state as the diff reads it: either
 * already parsed, or left in the state's bytes with the span of each
 * element, parsed element by element when the diff needs one. Two states
 * of one stack mostly share their resources byte for byte, so the diff of
 * two large states parses the elements of one side, only the differing
 * elements of the other, and walks none of the shared ones.
 */
import { hash } from 'node:crypto'

/** The resources of a state. */
export interface ResourceList {
  readonly length: number
  /** Element `i`, parsed. Throws `UnparsableResource` when its text is not JSON (the state is then not JSON). */
  element(i: number): unknown
  /** The bytes of element `i`, when the list was left in the state's bytes. */
  readonly bytes?: (i: number) => Buffer
}

/** An element of a lazily read list is not JSON: the whole state is not, and must be read the ordinary way. */
export class UnparsableResource extends Error {
  constructor(index: number) {
    super(`resource ${index} of the state is not JSON`)
    this.name = 'UnparsableResource'
  }
}

/** A parsed `resources` value as a list (anything but an array has no resources). */
export function parsedResources(resources: unknown): ResourceList {
  const elements: readonly unknown[] = Array.isArray(resources) ? resources : []
  return { length: elements.length, element: (i) => elements[i] }
}

/** Resources left in `body`: element `i` spans bytes [spans[2i], spans[2i+1]). */
export class ResourceSpans implements ResourceList {
  readonly body: Buffer
  readonly #spans: Int32Array

  constructor(body: Buffer, spans: Int32Array) {
    this.body = body
    this.#spans = spans
  }

  get length(): number {
    return this.#spans.length / 2
  }

  readonly bytes = (i: number): Buffer => this.body.subarray(this.#spans[2 * i], this.#spans[2 * i + 1])

  element(i: number): unknown {
    try {
      return JSON.parse(this.body.toString('utf8', this.#spans[2 * i], this.#spans[2 * i + 1]))
    } catch {
      throw new UnparsableResource(i)
    }
  }
}

/**
 * Groups the elements of `a` and `b` by their bytes: elements with the same
 * group number hold the same bytes (so they parse to equal values); -1 is an
 * element that shares its bytes with none of the other list's. Lists
 * without bytes share nothing.
 */
export function sharedElements(a: ResourceList, b: ResourceList): { a: Int32Array; b: Int32Array } {
  const groupsA = new Int32Array(a.length).fill(-1)
  const groupsB = new Int32Array(b.length).fill(-1)
  if (a.bytes === undefined || b.bytes === undefined) return { a: groupsA, b: groupsB }
  const bytesA = a.bytes
  const byDigest = new Map<string, number[]>()
  for (let i = 0; i < a.length; i++) {
    const digest = hash('sha1', bytesA(i), 'base64')
    const same = byDigest.get(digest)
    if (same === undefined) byDigest.set(digest, [i])
    else same.push(i)
  }
  for (let j = 0; j < b.length; j++) {
    const bytes = b.bytes(j)
    // The digest only finds candidates; equal bytes decide.
    const twin = byDigest.get(hash('sha1', bytes, 'base64'))?.find((i) => bytesA(i).equals(bytes))
    if (twin === undefined) continue
    if (groupsA[twin] === -1) groupsA[twin] = twin
    groupsB[j] = groupsA[twin]!
  }
  return { a: groupsA, b: groupsB }
}
