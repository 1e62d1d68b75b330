/**
 * unobin snapshot diff: entries keyed by their `address` (unique in a valid
 * snapshot), compared field by field; the snapshot's `outputs` by name; and
 * its own fields (factory, stack, generated-at, format-version). unobin
 * snapshots mark nothing sensitive, so nothing is redacted here.
 */
import type { AddressChange, OutputChange } from './diff-result.js'
import { NOTHING_SENSITIVE } from './redaction.js'
import { type FieldChange, deepEqual, diffValues } from './value-diff.js'

/** The snapshot's own fields compared in the header. */
/** The document's own fields, compared as its header (see diffFields). */
export const UNOBIN_OWN_FIELDS = ['format-version', 'factory', 'stack', 'generated-at'] as const

/** Entries by address (entries without a string address are skipped). */
function entriesOf(doc: Readonly<Record<string, unknown>> | undefined): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>()
  const entries = Array.isArray(doc?.entries) ? doc.entries : []
  for (const entry of entries) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) continue
    const e = entry as Record<string, unknown>
    if (typeof e.address === 'string') out.set(e.address, e)
  }
  return out
}

/** The entries that differ, sorted by address, and how many are unchanged. */
export function diffEntries(
  a: Readonly<Record<string, unknown>> | undefined,
  b: Readonly<Record<string, unknown>>,
): { entries: AddressChange[]; unchanged: number } {
  const before = entriesOf(a)
  const after = entriesOf(b)
  const entries: AddressChange[] = []
  let unchanged = 0
  for (const [address, old] of before) {
    const next = after.get(address)
    if (next === undefined) {
      entries.push({ address, action: 'removed', changes: [], value: old })
      continue
    }
    const changes: FieldChange[] = []
    diffValues(old, next, changes, NOTHING_SENSITIVE)
    if (changes.length === 0) unchanged++
    else entries.push({ address, action: 'changed', changes })
  }
  for (const [address, next] of after) {
    if (!before.has(address)) entries.push({ address, action: 'added', changes: [], value: next })
  }
  entries.sort((x, y) => (x.address < y.address ? -1 : x.address > y.address ? 1 : 0))
  return { entries, unchanged }
}

/** The snapshot's outputs (an object of name → value), or none. */
export function unobinOutputs(doc: Readonly<Record<string, unknown>>): Map<string, unknown> {
  const outputs = doc.outputs
  if (typeof outputs !== 'object' || outputs === null || Array.isArray(outputs)) return new Map()
  return new Map(Object.entries(outputs))
}

/** The outputs that differ, sorted by name. */
export function diffUnobinOutputs(
  a: Readonly<Record<string, unknown>> | undefined,
  b: Readonly<Record<string, unknown>>,
): OutputChange[] {
  const before = a === undefined ? new Map<string, unknown>() : unobinOutputs(a)
  const after = unobinOutputs(b)
  const out: OutputChange[] = []
  for (const name of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const had = before.has(name)
    const has = after.has(name)
    if (had && has && deepEqual(before.get(name), after.get(name))) continue
    out.push({
      name,
      action: !had ? 'added' : !has ? 'removed' : 'changed',
      ...(had ? { old: before.get(name) } : {}),
      ...(has ? { new: after.get(name) } : {}),
      sensitive: false,
    })
  }
  return out
}
