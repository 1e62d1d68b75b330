/**
 * What a stored document is, for diffs, outputs and history: an unobin
 * snapshot, a Terraform/OpenTofu state, or `opaque` — a state its client
 * encrypted itself (OpenTofu's `encrypted_data`), or bytes that are not a
 * JSON object, whose contents the server cannot compare. Parsing never
 * throws: what cannot be read is opaque, with its size.
 */
import { createHash } from 'node:crypto'
import { TERRAFORM_PAYLOAD, UNOBIN_PAYLOAD } from '../store/envelope.js'
import { arrayElements, topLevelMember } from './json-spans.js'
import { ResourceSpans } from './resource-list.js'

/** The kinds of stored documents. */
export type DocumentKind = 'unobin' | 'terraform' | 'opaque'

/** A stored document read for comparison. */
export interface ParsedDocument {
  readonly rev: string
  readonly kind: DocumentKind
  /** Size of the stored plaintext in bytes. */
  readonly bytes: number
  /** SHA-256 (hex) of the stored plaintext. */
  readonly sha256: string
  /** Terraform serial and lineage (also of an OpenTofu-encrypted state, which keeps them in the clear); null otherwise. */
  readonly serial: number | null
  readonly lineage: string | null
  /** The parsed document (absent when opaque). */
  readonly doc?: Readonly<Record<string, unknown>>
  /**
   * Set when a Terraform state was read with `resourcesInBytes`: its
   * resources, left in its bytes (`doc.resources` is then null). Such a
   * document is only known to be JSON once every resource has parsed, which
   * diffDocuments sees to; nothing else takes it.
   */
  readonly resources?: ResourceSpans
}

/** The facts of a document without its parsed body (what an answer shows of each side). */
export type DocumentFacts = Omit<ParsedDocument, 'doc' | 'resources'>

/** How to read a document. */
export interface ParseOptions {
  /**
   * For a diff: leave a Terraform state's `resources` in its bytes, element
   * by element (see resource-list.ts), when its layout allows; otherwise,
   * and for other kinds, parse as usual.
   */
  readonly resourcesInBytes?: boolean
}

/** Reads `body` stored under `rev` with `payloadType`. */
export function parseDocument(
  rev: string,
  payloadType: string,
  body: Buffer,
  options: ParseOptions = {},
): ParsedDocument {
  const facts = { rev, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') }
  if (options.resourcesInBytes === true && payloadType === TERRAFORM_PAYLOAD) {
    const state = stateWithoutResources(body)
    if (state !== undefined) {
      const { record, resources } = state
      const serial = typeof record.serial === 'number' && Number.isInteger(record.serial) ? record.serial : null
      const lineage = typeof record.lineage === 'string' ? record.lineage : null
      return { ...facts, kind: 'terraform', serial, lineage, doc: record, resources }
    }
  }
  let doc: unknown
  try {
    doc = JSON.parse(body.toString('utf8'))
  } catch {
    return { ...facts, kind: 'opaque', serial: null, lineage: null }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return { ...facts, kind: 'opaque', serial: null, lineage: null }
  const record = doc as Record<string, unknown>
  const serial = typeof record.serial === 'number' && Number.isInteger(record.serial) ? record.serial : null
  const lineage = typeof record.lineage === 'string' ? record.lineage : null
  if (payloadType === UNOBIN_PAYLOAD) return { ...facts, kind: 'unobin', serial: null, lineage: null, doc: record }
  if (payloadType === TERRAFORM_PAYLOAD && !Object.hasOwn(record, 'encrypted_data'))
    return { ...facts, kind: 'terraform', serial, lineage, doc: record }
  return { ...facts, kind: 'opaque', serial, lineage }
}

/**
 * A Terraform state with its top level parsed but its `resources` array
 * left in `body`, or undefined when that is not how this text reads: not an
 * object with one plainly spelled `resources` member holding an array, not
 * JSON outside that array, or a client-encrypted state (whose facts come
 * from the ordinary path).
 */
function stateWithoutResources(
  body: Buffer,
): { record: Readonly<Record<string, unknown>>; resources: ResourceSpans } | undefined {
  let spans: Int32Array | undefined
  const span = topLevelMember(body, 'resources', (b, start) => {
    const array = arrayElements(b, start)
    spans = array?.elements
    return array?.end ?? -1
  })
  if (span === undefined || spans === undefined) return undefined
  let record: unknown
  try {
    // JSON for JSON: a null in the array's place parses exactly when the rest of the text does.
    record = JSON.parse(`${body.toString('utf8', 0, span.start)}null${body.toString('utf8', span.end)}`)
  } catch {
    return undefined
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined
  const state = record as Record<string, unknown>
  if (state.resources !== null || Object.hasOwn(state, 'encrypted_data')) return undefined
  return { record: state, resources: new ResourceSpans(body, spans) }
}

/** The facts of `doc` without its body. */
export function factsOf(doc: ParsedDocument): DocumentFacts {
  const { doc: _doc, resources: _resources, ...facts } = doc
  return facts
}
