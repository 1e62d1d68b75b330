/**
 * diffDocuments: the diff between two parsed revs of one stack, whatever
 * their kind. Revs of different comparable kinds (an unobin snapshot and a
 * Terraform state) are refused with `incomparable-revs`; an opaque side
 * (a client-encrypted state) gives a diff that says so, with both sizes and
 * whether the bytes are identical, never an error.
 */
import { StateError } from '../errors.js'
import type { Diff } from './diff-result.js'
import { TERRAFORM_PAYLOAD } from '../store/envelope.js'
import { type ParsedDocument, factsOf, parseDocument } from './document.js'
import { type ResourceList, UnparsableResource, parsedResources } from './resource-list.js'
import { TERRAFORM_OWN_FIELDS, diffResources, diffTerraformOutputs } from './terraform-diff.js'
import { UNOBIN_OWN_FIELDS, diffEntries, diffUnobinOutputs } from './unobin-diff.js'
import { diffFields } from './value-diff.js'

/** What an opaque comparison says. */
export const OPAQUE_DETAIL =
  'opaque: the contents cannot be compared (the state was encrypted by its client); only sizes and hashes are shown'

const LABEL = { unobin: 'an unobin snapshot', terraform: 'a Terraform state', opaque: 'an opaque document' } as const

/**
 * Diffs `from` (null: nothing before `to`) against `to`. Throws
 * `incomparable-revs`. A side read with its resources left in bytes is read
 * again the ordinary way when the other side is not a Terraform state, or
 * when one of its resources turns out not to be JSON (the document is then
 * opaque): the answer never depends on how a side was read.
 */
export function diffDocuments(from: ParsedDocument | null, to: ParsedDocument): Diff {
  if (from !== null && from.kind !== to.kind) return compare(from && whole(from), whole(to))
  try {
    return compare(from, to)
  } catch (err) {
    if (!(err instanceof UnparsableResource)) throw err
    return compare(from && whole(from), whole(to))
  }
}

/** `doc` read the ordinary way (parsed whole) when its resources were left in bytes. */
function whole(doc: ParsedDocument): ParsedDocument {
  return doc.resources === undefined ? doc : parseDocument(doc.rev, TERRAFORM_PAYLOAD, doc.resources.body)
}

function compare(from: ParsedDocument | null, to: ParsedDocument): Diff {
  const base = {
    from: from === null ? null : factsOf(from),
    to: factsOf(to),
    identical: from !== null && from.sha256 === to.sha256 && from.bytes === to.bytes,
  }
  if (to.kind === 'opaque' || from?.kind === 'opaque') {
    return {
      ...base,
      kind: 'opaque',
      comparable: false,
      detail: OPAQUE_DETAIL,
      summary: { added: 0, removed: 0, changed: 0, unchanged: 0, outputs: 0 },
      header: [],
      entries: [],
      outputs: [],
    }
  }
  if (from !== null && from.kind !== to.kind) {
    throw new StateError(
      'incomparable-revs',
      `rev ${from.rev} is ${LABEL[from.kind]} and rev ${to.rev} is ${LABEL[to.kind]}: only revs of the same kind can be compared; pick two revs written the same way`,
      { from: from.rev, to: to.rev },
    )
  }
  const a = from?.doc
  const b = to.doc!
  const terraform = to.kind === 'terraform'
  const { entries, unchanged } = terraform
    ? diffResources(from === null ? undefined : resourcesOf(from), resourcesOf(to))
    : diffEntries(a, b)
  const outputs = terraform ? diffTerraformOutputs(a, b) : diffUnobinOutputs(a, b)
  const header = diffFields(terraform ? TERRAFORM_OWN_FIELDS : UNOBIN_OWN_FIELDS, a, b)
  const count = (action: string) => entries.filter((e) => e.action === action).length
  return {
    ...base,
    kind: to.kind,
    comparable: true,
    detail: null,
    summary: {
      added: count('added'),
      removed: count('removed'),
      changed: count('changed'),
      unchanged,
      outputs: outputs.length,
    },
    header,
    entries,
    outputs,
  }
}

/** The resources of a Terraform state, wherever they were left. */
function resourcesOf(doc: ParsedDocument): ResourceList {
  return doc.resources ?? parsedResources(doc.doc?.resources)
}
