/**
 * The checks of large bodies by scanning instead of parsing (json-scan.ts):
 * a slice per turn of the event loop, constant memory, no worker round
 * trip. A scan only ever *accepts*: it accepts a document when it is sure
 * the reference (`validateUnobinSnapshot`, `readStateMeta`, which parse the
 * whole document) would accept it with the same result, and otherwise
 * answers "undecided", and the caller runs the reference, which gives the
 * answer and its exact message. Anything unusual is left undecided rather
 * than reasoned about: a repeated member the rules read (`JSON.parse` keeps
 * the last one), a value of an unexpected kind, any rule broken.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import { CATEGORIES } from '../store/unobin-snapshot.js'
import type { StateMeta } from '../terraform/state-meta.js'
import { type JsonKind, JsonScanner, type JsonVisitor, decodeNumber, decodeString } from './json-scan.js'

/** Bytes scanned per turn of the event loop (a few milliseconds on a slow core). */
export const SCAN_SLICE = 1024 * 1024

/**
 * Runs `visitor` over `bytes` a slice per turn; true when the document is
 * JSON, the visitor did not stop it, and it holds at most `maxValues` values
 * as the parse worker counts them (so a scan never accepts what its guard refuses).
 */
async function scanInSlices(bytes: Buffer, visitor: JsonVisitor, maxValues: number): Promise<boolean> {
  const scanner = new JsonScanner(bytes, visitor)
  for (let until = SCAN_SLICE; ; until += SCAN_SLICE) {
    const result = scanner.scan(until)
    if (result !== undefined) return result === 'json' && 1 + scanner.structural <= maxValues
    if (1 + scanner.structural > maxValues) return false
    await nextTurn()
  }
}

interface EntryFacts {
  address?: string | null
  kind?: string | null
  category?: string | null
  binding?: boolean
  alias?: string | null
  bindingKind?: string | null
}

/** Accepts the unobin snapshots `validateUnobinSnapshot` accepts (see the module comment). */
class UnobinVisitor implements JsonVisitor {
  readonly maxDepth = 4
  readonly #top = new Set<string>()
  #formatVersion = false
  #inEntries = false
  #entry: EntryFacts | undefined
  #inBinding = false
  readonly #addresses = new Set<string>()
  readonly #bytes: Buffer

  constructor(bytes: Buffer) {
    this.#bytes = bytes
  }

  value(depth: number, key: string | number | null, kind: JsonKind, start: number, end: number): boolean {
    switch (depth) {
      case 0:
        return kind === 'object'
      case 1: {
        const name = key as string
        if (name !== 'format-version' && name !== 'factory' && name !== 'stack' && name !== 'entries') return true
        if (this.#top.has(name)) return false
        this.#top.add(name)
        if (name === 'format-version')
          this.#formatVersion = kind === 'number' && decodeNumber(this.#bytes, start, end) === 1
        else if (name === 'factory') return kind === 'object'
        else if (name === 'stack') return kind === 'string'
        else if (kind === 'array') this.#inEntries = true
        else return this.#isNull(kind, start) // entries: null reads as none
        return true
      }
      case 2:
        if (!this.#inEntries) return true
        if (kind !== 'object') return false
        this.#entry = {}
        return true
      case 3: {
        const entry = this.#entry
        if (entry === undefined) return true
        const name = key as string
        if (name === 'binding') {
          if (entry.binding !== undefined) return false
          entry.binding = kind === 'object'
          this.#inBinding = entry.binding
          return true
        }
        const field =
          name === 'address' ? 'address' : name === 'entry-kind' ? 'kind' : name === 'category' ? name : null
        if (field === null) return true
        if (entry[field] !== undefined) return false
        entry[field] = kind === 'string' ? decodeString(this.#bytes, start, end) : null
        return true
      }
      case 4: {
        const entry = this.#entry
        if (entry === undefined || !this.#inBinding) return true
        const field = key === 'alias' ? 'alias' : key === 'kind' ? 'bindingKind' : null
        if (field === null) return true
        if (entry[field] !== undefined) return false
        entry[field] = kind === 'string' ? decodeString(this.#bytes, start, end) : null
        return true
      }
      default:
        return true
    }
  }

  close(depth: number): boolean {
    if (depth === 1) this.#inEntries = false
    else if (depth === 3) this.#inBinding = false
    else if (depth === 2 && this.#entry !== undefined) {
      const entry = this.#entry
      this.#entry = undefined
      return this.#entryValid(entry)
    }
    return true
  }

  /** Whether the document as a whole passed (call once the scan accepted it). */
  get valid(): boolean {
    return this.#formatVersion
  }

  #entryValid(e: EntryFacts): boolean {
    const address = e.address
    if (typeof address !== 'string' || address === '' || this.#addresses.has(address)) return false
    this.#addresses.add(address)
    const allowed = typeof e.kind === 'string' && Object.hasOwn(CATEGORIES, e.kind) ? CATEGORIES[e.kind] : undefined
    if (allowed === undefined || typeof e.category !== 'string' || !allowed.includes(e.category)) return false
    return e.binding === true && !!e.alias && !!e.bindingKind
  }

  #isNull(kind: JsonKind, start: number): boolean {
    return kind === 'literal' && this.#bytes[start] === 0x6e
  }
}

/** True when `bytes` is an unobin snapshot the Go tool's rules accept; false when undecided (run the reference). */
export async function scanUnobinSnapshot(bytes: Buffer, maxValues: number): Promise<boolean> {
  const visitor = new UnobinVisitor(bytes)
  return (await scanInSlices(bytes, visitor, maxValues)) && visitor.valid
}

/** Reads lineage and serial as `readStateMeta` does (see the module comment). */
class StateMetaVisitor implements JsonVisitor {
  readonly maxDepth = 1
  readonly #bytes: Buffer
  readonly #seen = new Set<string>()
  lineage: string | undefined
  serial: number | undefined

  constructor(bytes: Buffer) {
    this.#bytes = bytes
  }

  value(depth: number, key: string | number | null, kind: JsonKind, start: number, end: number): boolean {
    if (depth === 0) return kind === 'object'
    if (key !== 'lineage' && key !== 'serial' && key !== 'encrypted_data') return true
    if (this.#seen.has(key)) return false
    this.#seen.add(key)
    if (key === 'lineage') {
      if (kind !== 'string') return false
      this.lineage = decodeString(this.#bytes, start, end)
      return this.lineage !== ''
    }
    if (key === 'serial') {
      if (kind !== 'number') return false
      this.serial = decodeNumber(this.#bytes, start, end)
      return Number.isInteger(this.serial) && this.serial >= 0
    }
    return true
  }

  close(): boolean {
    return true
  }

  get encrypted(): boolean {
    return this.#seen.has('encrypted_data')
  }
}

/** The lineage and serial of a Terraform state, or undefined when undecided (run the reference). */
export async function scanStateMeta(bytes: Buffer, maxValues: number): Promise<StateMeta | undefined> {
  const visitor = new StateMetaVisitor(bytes)
  if (!(await scanInSlices(bytes, visitor, maxValues))) return undefined
  const { lineage, serial } = visitor
  if (lineage === undefined || serial === undefined) return undefined
  return { lineage, serial, encrypted: visitor.encrypted }
}
