/** Reading a stored rev as a parsed document (for diffs and outputs), and choosing revs by the console's defaults. */
import { isStateError } from '../../errors.js'
import { type ParseOptions, type ParsedDocument, parseDocument } from '../../diff/document.js'
import type { Store } from '../../store/store.js'

/** The rev `rev` of `store`, parsed (see ParseOptions). Throws `rev-not-found`, `unreadable-snapshot`. */
export async function loadDocument(store: Store, rev: string, options: ParseOptions = {}): Promise<ParsedDocument> {
  const snapshot = await store.get(rev)
  return parseDocument(snapshot.rev, snapshot.payloadType, snapshot.body, options)
}

/**
 * Revs `to` and `from` (null: none) of `store`, read for a diff: both reads
 * start at once (their file I/O overlaps), and when both fail, the error
 * is `to`'s, as when they were read one after the other.
 */
export async function loadPair(
  store: Store,
  to: string,
  from: string | null,
): Promise<{ to: ParsedDocument; from: ParsedDocument | null }> {
  const options = { resourcesInBytes: true }
  const [a, b] = await Promise.allSettled([
    loadDocument(store, to, options),
    from === null || from === to ? null : loadDocument(store, from, options),
  ])
  if (a.status === 'rejected') throw a.reason
  if (b.status === 'rejected') throw b.reason
  return { to: a.value, from: from === null ? null : from === to ? a.value : b.value }
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
