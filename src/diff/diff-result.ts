/**
 * The shape of a diff between two revs, shared by both kinds of documents,
 * the JSON answer and the text rendering: changed things keyed by address
 * (an unobin entry's `address`, a Terraform resource instance's address),
 * each `added`, `removed` or `changed` with its field changes; the
 * document's outputs; and the changes of its own top-level fields (serial,
 * lineage, generated-at, …).
 */
import type { DocumentFacts, DocumentKind } from './document.js'
import type { FieldChange } from './value-diff.js'

/** A Terraform resource instance's identity. */
export interface ResourceKey {
  /** `module.a.module.b`, or null at the root module. */
  readonly module: string | null
  readonly mode: string
  readonly type: string
  readonly name: string
  /** The instance key (`count` index or `for_each` key), or null. */
  readonly index: number | string | null
  /** The deposed object's key, or null for the current object. */
  readonly deposed: string | null
}

/** One address that differs. */
export interface AddressChange {
  readonly address: string
  readonly action: 'added' | 'removed' | 'changed'
  /** For Terraform: the resource instance the address names. */
  readonly resource?: ResourceKey
  /** Field changes of a changed address (paths relative to the entry or instance object). */
  readonly changes: readonly FieldChange[]
  /** The whole entry or instance of an added (new) or removed (old) address, sensitive parts redacted. */
  readonly value?: unknown
}

/** One output that differs. */
export interface OutputChange {
  readonly name: string
  readonly action: 'added' | 'removed' | 'changed'
  /** The value before (absent when added); the marker when sensitive. */
  readonly old?: unknown
  readonly new?: unknown
  /** True when either side marks the output sensitive: the values are hidden. */
  readonly sensitive: boolean
}

/** A diff between two revs. */
export interface Diff {
  /** The kind compared; `opaque` when either side cannot be compared. */
  readonly kind: DocumentKind
  /** The older side; null when `to` is the first rev (everything is added). */
  readonly from: DocumentFacts | null
  readonly to: DocumentFacts
  /** False when either side is opaque: only sizes and hashes are compared. */
  readonly comparable: boolean
  /** Why the contents were not compared, or null. */
  readonly detail: string | null
  /** True when both sides hold the same bytes. */
  readonly identical: boolean
  readonly summary: {
    readonly added: number
    readonly removed: number
    readonly changed: number
    readonly unchanged: number
    readonly outputs: number
  }
  /** Changes of the document's own fields (paths from its root). */
  readonly header: readonly FieldChange[]
  /** Addresses that differ, sorted by address. */
  readonly entries: readonly AddressChange[]
  /** Outputs that differ, sorted by name. */
  readonly outputs: readonly OutputChange[]
}
