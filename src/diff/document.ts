/**
 * What a stored document is, for diffs, outputs and history: an unobin
 * snapshot, a Terraform/OpenTofu state, or `opaque` — a state its client
 * encrypted itself (OpenTofu's `encrypted_data`), or bytes that are not a
 * JSON object, whose contents the server cannot compare. Parsing never
 * throws: what cannot be read is opaque, with its size.
 */
import { createHash } from 'node:crypto'
import { TERRAFORM_PAYLOAD, UNOBIN_PAYLOAD } from '../store/envelope.js'

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
}

/** The facts of a document without its parsed body (what an answer shows of each side). */
export type DocumentFacts = Omit<ParsedDocument, 'doc'>

/** Reads `body` stored under `rev` with `payloadType`. */
export function parseDocument(rev: string, payloadType: string, body: Buffer): ParsedDocument {
  const facts = { rev, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') }
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

/** The kind of a stored document, without keeping it parsed (history metadata). */
export function documentKind(payloadType: string, body: Buffer): DocumentFacts {
  const { doc: _doc, ...facts } = parseDocument('', payloadType, body)
  return facts
}

/** The facts of `doc` without its body. */
export function factsOf(doc: ParsedDocument): DocumentFacts {
  const { doc: _doc, ...facts } = doc
  return facts
}
