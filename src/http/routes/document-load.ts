/** Reading a stored rev as a parsed document (for diffs and outputs), and choosing revs by the console's defaults. */
import { isStateError } from '../../errors.js'
import { type ParsedDocument, parseDocument } from '../../diff/document.js'
import type { Store } from '../../store/store.js'

/** The rev `rev` of `store`, parsed. Throws `rev-not-found`, `unreadable-snapshot`. */
export async function loadDocument(store: Store, rev: string): Promise<ParsedDocument> {
  const snapshot = await store.get(rev)
  return parseDocument(snapshot.rev, snapshot.payloadType, snapshot.body)
}

/** The current rev, or the given one. Throws `no-current` when neither exists. */
export async function revOrCurrent(store: Store, rev: string | undefined): Promise<string> {
  return rev ?? store.currentRev()
}

/** The rev before `rev` in the stack's history, null when `rev` is the first (or not listed). */
export async function revBefore(store: Store, rev: string): Promise<string | null> {
  const revs = await store.list()
  const at = revs.indexOf(rev)
  return at > 0 ? revs[at - 1]! : null
}

/** True when `err` is the stack having no current rev. */
export function isNoCurrent(err: unknown): boolean {
  return isStateError(err, 'no-current')
}
