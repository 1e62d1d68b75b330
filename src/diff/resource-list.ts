/**
 * The `resources` array of a Terraform state as the diff reads it: either
 * already parsed, or left in the state's bytes with the span of each
 * element, parsed element by element when the diff needs one. Two states
 * of one stack mostly share their resources byte for byte, so the diff of
 * two large states parses the elements of one side, only the differing
 * elements of the other, and walks none of the shared ones.
 */

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
 * element matched with none of the other list's. Lists without bytes share
 * nothing. States keep their resources in one order, so each element of `b`
 * is first compared with the element of `a` after the last match (or the
 * one after it: a removal); an element changed in place is recognised by
 * its successor pairing up again. Anything else is looked up among all of
 * `a` by length and leading bytes (at most a few candidates compared), and
 * the walk resumes after what it found. A miss only costs a parse: equal
 * bytes decide every match.
 */
export function sharedElements(a: ResourceList, b: ResourceList): { a: Int32Array; b: Int32Array } {
  const groupsA = new Int32Array(a.length).fill(-1)
  const groupsB = new Int32Array(b.length).fill(-1)
  if (a.bytes === undefined || b.bytes === undefined) return { a: groupsA, b: groupsB }
  const bytesA = a.bytes
  let index: Map<string, number[]> | undefined
  let next = 0
  for (let j = 0; j < b.length; j++) {
    const bytes = b.bytes(j)
    const same = (i: number, other: Buffer) => i < a.length && bytesA(i).equals(other)
    let twin = same(next, bytes) ? next : same(next + 1, bytes) ? next + 1 : -1
    if (twin < 0 && j + 1 < b.length && same(next + 1, b.bytes(j + 1))) {
      next++ // changed in place: the next ones pair up again
      continue
    }
    if (twin < 0) {
      index ??= fingerprints(a.length, bytesA)
      const candidates = index.get(fingerprint(bytes)) ?? []
      twin = candidates.slice(0, LOOKUP_TRIES).find((i) => bytesA(i).equals(bytes)) ?? -1
    }
    if (twin < 0) continue
    if (groupsA[twin] === -1) groupsA[twin] = twin
    groupsB[j] = groupsA[twin]!
    next = twin + 1
  }
  return { a: groupsA, b: groupsB }
}

/** Candidates compared when an element is looked up away from its expected place. */
const LOOKUP_TRIES = 8
/** Leading bytes in an element's fingerprint (a resource's mode, type and name are near its start). */
const FINGERPRINT_BYTES = 160

/** Length and leading bytes of an element: equal bytes have equal fingerprints. */
function fingerprint(bytes: Buffer): string {
  return `${bytes.length}:${bytes.toString('latin1', 0, Math.min(bytes.length, FINGERPRINT_BYTES))}`
}

/** The elements of a list by fingerprint, in order. */
function fingerprints(length: number, bytes: (i: number) => Buffer): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (let i = 0; i < length; i++) {
    const key = fingerprint(bytes(i))
    const same = out.get(key)
    if (same === undefined) out.set(key, [i])
    else same.push(i)
  }
  return out
}
