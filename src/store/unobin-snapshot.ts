/**
 * Validation of unobin snapshots (payload type `state`) with the Go tool's
 * rules, so the server never stores a document the Go tool would refuse:
 * `format-version` 1; every entry has an `address`, unique in the snapshot;
 * `entry-kind` is one of leaf, library-call, action, data-source, each with
 * its allowed categories; every entry has a `binding` with a non-empty
 * `alias` and `kind`. Errors name the entry and the rule.
 */
import { StateError } from '../errors.js'

/** The categories each entry kind allows (the Go tool's table). */
export const CATEGORIES: Readonly<Record<string, readonly string[]>> = {
  leaf: ['resource'],
  'library-call': ['resource', 'data-source', 'action'],
  action: ['action'],
  'data-source': ['data-source'],
}

/**
 * Parses and validates `bytes` as an unobin snapshot. Returns the parsed
 * document; throws `invalid-snapshot` naming the entry and the rule, or
 * `malformed-json` when the bytes are not JSON.
 */
export function validateUnobinSnapshot(bytes: Buffer): Record<string, unknown> {
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new StateError('malformed-json', `the snapshot is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('the snapshot must be a JSON object')
  const snapshot = doc as Record<string, unknown>
  if (snapshot['format-version'] !== 1)
    throw invalid(`format-version must be 1, got ${describe(snapshot['format-version'])}`, { rule: 'format-version' })
  const factory = snapshot.factory
  if (factory !== undefined && (typeof factory !== 'object' || factory === null || Array.isArray(factory)))
    throw invalid('factory must be an object {name, version, content-revision}', { rule: 'factory' })
  if (snapshot.stack !== undefined && typeof snapshot.stack !== 'string')
    throw invalid('stack must be a string', { rule: 'stack' })
  const entries = snapshot.entries ?? []
  if (!Array.isArray(entries)) throw invalid('entries must be an array', { rule: 'entries' })
  const seen = new Set<string>()
  entries.forEach((entry: unknown, i: number) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw invalid(`entries[${i}] must be an object`, { entry: i, rule: 'entry' })
    const e = entry as Record<string, unknown>
    const address = e.address
    if (typeof address !== 'string' || address === '')
      throw invalid(`entries[${i}] has no address`, { entry: i, rule: 'address' })
    const where = `entries[${i}] (${address})`
    if (seen.has(address))
      throw invalid(`${where}: address ${address} appears twice; addresses must be unique`, {
        entry: address,
        rule: 'unique-address',
      })
    seen.add(address)
    const kind = e['entry-kind']
    const allowed = typeof kind === 'string' && Object.hasOwn(CATEGORIES, kind) ? CATEGORIES[kind] : undefined
    if (allowed === undefined)
      throw invalid(`${where}: entry-kind ${describe(kind)} is not one of leaf, library-call, action, data-source`, {
        entry: address,
        rule: 'entry-kind',
      })
    const category = e.category
    if (typeof category !== 'string' || !allowed.includes(category)) {
      throw invalid(
        `${where}: entry-kind ${kind} requires category ${allowed.join(' or ')}, got ${describe(category)}`,
        { entry: address, rule: 'category' },
      )
    }
    const binding = e.binding
    const b =
      typeof binding === 'object' && binding !== null && !Array.isArray(binding)
        ? (binding as Record<string, unknown>)
        : undefined
    if (
      b === undefined ||
      typeof b.alias !== 'string' ||
      b.alias === '' ||
      typeof b.kind !== 'string' ||
      b.kind === ''
    ) {
      throw invalid(`${where}: binding must have a non-empty alias and kind`, { entry: address, rule: 'binding' })
    }
  })
  return snapshot
}

function invalid(message: string, details: Record<string, unknown> = {}): StateError {
  return new StateError('invalid-snapshot', message, details)
}

/**
 * A short description of a value for an error detail: containers by kind
 * (never serialised: a value nested thousands deep would overflow the stack,
 * and a large one would be echoed back whole), scalars up to 80 characters.
 */
function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object' && value !== null) return 'an object'
  const text = JSON.stringify(value ?? null)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
