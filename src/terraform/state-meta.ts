/**
 * What the server reads of a Terraform/OpenTofu state document: only
 * `lineage` and `serial` (the rest, including OpenTofu's client-side
 * encrypted payloads, is opaque and stored byte-exact), and the rule that
 * keeps history sane: a write may not switch lineage or lower the serial
 * unless an operator forces it.
 */
import { StateError } from '../errors.js'

/** Lineage and serial of a state document. */
export interface StateMeta {
  readonly lineage: string
  readonly serial: number
  /** True for a state its client encrypted itself (OpenTofu's `encrypted_data`): the server cannot read its contents. */
  readonly encrypted?: boolean
}

/**
 * Reads lineage and serial from state bytes. Throws `malformed-json` or
 * `invalid-request`. Any key is accepted anywhere, `__proto__` and
 * `constructor` included (resource tags may hold them, and Terraform must be
 * able to save such a state): `JSON.parse` makes every key an own data
 * property, never a prototype, and only `lineage` and `serial` are read.
 */
export function readStateMeta(bytes: Buffer): StateMeta {
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new StateError('malformed-json', `the state is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new StateError('invalid-request', 'the state must be a JSON object with lineage and serial')
  const lineage = Object.hasOwn(doc, 'lineage') ? (doc as { lineage?: unknown }).lineage : undefined
  const serial = Object.hasOwn(doc, 'serial') ? (doc as { serial?: unknown }).serial : undefined
  if (typeof lineage !== 'string' || lineage === '')
    throw new StateError('invalid-request', 'the state has no lineage: it is not a Terraform or OpenTofu state')
  if (typeof serial !== 'number' || !Number.isInteger(serial) || serial < 0)
    throw new StateError('invalid-request', 'the state has no valid serial (a non-negative integer)')
  return { lineage, serial, encrypted: Object.hasOwn(doc, 'encrypted_data') }
}

/**
 * Refuses (`state-conflict`) a write whose lineage differs from the current
 * state's or whose serial is lower, unless `force`. The message says how to
 * proceed deliberately. The current lineage and serial are part of the
 * stored state: they are told only to a caller who `mayRead` it (a caller
 * with write but not read learns only which rule refused the write).
 */
export function assertSuccessor(
  current: StateMeta,
  next: StateMeta,
  force: boolean,
  where: string,
  mayRead = true,
): void {
  if (force) return
  if (!mayRead) {
    if (next.lineage !== current.lineage)
      throw new StateError(
        'state-conflict',
        `refusing a state of lineage ${next.lineage} over ${where}: its current state has another lineage. If you really mean to replace it, retry with ?force=true on the address`,
        { lineage: next.lineage, rule: 'lineage' },
      )
    if (next.serial < current.serial)
      throw new StateError(
        'state-conflict',
        `refusing serial ${next.serial} over ${where}: its current serial is higher (pull, re-plan, or retry with ?force=true on the address to roll back on purpose)`,
        { serial: next.serial, rule: 'serial' },
      )
    return
  }
  if (next.lineage !== current.lineage) {
    throw new StateError(
      'state-conflict',
      `refusing a state of lineage ${next.lineage} over ${where}, whose current state has lineage ${current.lineage}: this looks like a different infrastructure. If you really mean to replace it, retry with ?force=true on the address`,
      { currentLineage: current.lineage, lineage: next.lineage, rule: 'lineage' },
    )
  }
  if (next.serial < current.serial) {
    throw new StateError(
      'state-conflict',
      `refusing serial ${next.serial} over ${where}, whose current serial is ${current.serial}: the state is older than what is stored (pull, re-plan, or retry with ?force=true on the address to roll back on purpose)`,
      { currentSerial: current.serial, serial: next.serial, rule: 'serial' },
    )
  }
}
