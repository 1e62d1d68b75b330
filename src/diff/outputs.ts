/**
 * The outputs of one stored document, for `GET …/outputs`: a downstream
 * pipeline reads another stack's outputs without the rest of its state.
 * Terraform outputs marked `sensitive` carry the marker instead of their
 * value; an opaque (client-encrypted) state has no readable outputs.
 */
import { StateError } from '../errors.js'
import type { ParsedDocument } from './document.js'
import { SENSITIVE_MARKER } from './redaction.js'
import { terraformOutputs } from './terraform-diff.js'
import { unobinOutputs } from './unobin-diff.js'

/** One output as answered. */
export interface OutputValue {
  /** The value; the marker when sensitive. */
  readonly value: unknown
  readonly sensitive: boolean
  /** The Terraform type (as the state records it), or null (unobin). */
  readonly type: unknown
}

/** The outputs of `doc` by name (an object built without prototype surprises). Throws `opaque-state`. */
export function outputsOf(doc: ParsedDocument, where: string): Record<string, OutputValue> {
  if (doc.kind === 'opaque' || doc.doc === undefined) {
    throw new StateError(
      'opaque-state',
      `rev ${doc.rev} of ${where} was encrypted by its client (or is not JSON): the server cannot read its outputs; read them with the tool that holds the key`,
      { rev: doc.rev },
    )
  }
  if (doc.kind === 'terraform') {
    return Object.fromEntries(
      [...terraformOutputs(doc.doc)].map(([name, o]) => [
        name,
        { value: o.sensitive ? SENSITIVE_MARKER : o.value, sensitive: o.sensitive, type: o.type ?? null },
      ]),
    )
  }
  return Object.fromEntries(
    [...unobinOutputs(doc.doc)].map(([name, value]) => [name, { value, sensitive: false, type: null }]),
  )
}
