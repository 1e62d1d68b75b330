/**
 * Terraform's LockInfo: the JSON its `http` backend sends to lock and
 * expects back (as the holder) when a lock is refused. Keys, in the clients'
 * order: ID, Operation, Info, Who, Version, Created, Path. The clients parse
 * it with Go's encoding/json: case-insensitive keys, `Created` RFC 3339 or
 * null (an empty string fails), and they retry under -lock-timeout only when
 * `ID` is non-empty.
 */
import sjson from 'secure-json-parse'
import { StateError } from '../errors.js'
import type { LockHolder } from '../store/store.js'

/** A LockInfo as the clients send it. */
export interface LockInfo {
  readonly ID: string
  readonly Operation: string
  readonly Info: string
  readonly Who: string
  readonly Version: string
  readonly Created: string | null
  readonly Path: string
}

const KEYS = ['ID', 'Operation', 'Info', 'Who', 'Version', 'Created', 'Path'] as const

/**
 * The longest value of each LockInfo field, in characters: `ID` like a
 * Lock-Id header, `Operation`, `Who` and `Info` like the native lock body,
 * the others well above what the clients write (a CLI version, an RFC 3339
 * instant, a state path). A holder's LockInfo is echoed in every refused
 * lock and in the stack listing, so it must stay small.
 */
export const LOCK_INFO_FIELD_MAX: Readonly<Record<(typeof KEYS)[number], number>> = {
  ID: 256,
  Operation: 1024,
  Info: 4096,
  Who: 1024,
  Version: 256,
  Created: 64,
  Path: 1024,
}

/**
 * The default of --lock-body-limit, the largest LockInfo body in bytes: every field at its cap fits, with room
 * for JSON escapes. Larger bodies are refused with 413 before they are read
 * whole (a route body limit), since the size itself is the fault.
 */
export const LOCK_BODY_LIMIT = 16 * 1024

/** RFC 3339 as Go's time.Time.UnmarshalJSON accepts it: a refusal whose Created fails this cannot be decoded by the clients. */
const GO_RFC3339 =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/

/**
 * Parses a LockInfo body like Go does (keys matched case-insensitively,
 * unknown keys ignored, missing strings empty). Undefined for an empty body.
 * Throws `malformed-json` / `invalid-request` for anything else.
 */
export function parseLockInfo(bytes: Buffer): LockInfo | undefined {
  if (bytes.length === 0) return undefined
  let doc: unknown
  try {
    doc = sjson.parse(bytes.toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (err) {
    throw new StateError('malformed-json', `the lock body is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new StateError('invalid-request', 'the lock body must be a LockInfo JSON object')
  const byKey = new Map(Object.entries(doc as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]))
  const field = (key: (typeof KEYS)[number]): string => {
    const v = byKey.get(key.toLowerCase())
    if (v === undefined || v === null) return ''
    if (typeof v !== 'string') throw new StateError('invalid-request', `LockInfo ${key} must be a string`)
    // A field over its cap is a malformed LockInfo (400), like an overlong field of the native lock body.
    if (v.length > LOCK_INFO_FIELD_MAX[key])
      throw new StateError(
        'invalid-request',
        `LockInfo ${key} is ${v.length} characters long; at most ${LOCK_INFO_FIELD_MAX[key]} are accepted`,
      )
    return v
  }
  const info = {
    ID: field('ID'),
    Operation: field('Operation'),
    Info: field('Info'),
    Who: field('Who'),
    Version: field('Version'),
    Created: field('Created') || null,
    Path: field('Path'),
  }
  return info
}

/**
 * True for OpenTofu's force-unlock body: an ID and nothing else (empty
 * strings, the zero time `0001-01-01T00:00:00Z`).
 */
export function isIdOnly(info: LockInfo): boolean {
  return (
    info.ID !== '' &&
    info.Operation === '' &&
    info.Info === '' &&
    info.Who === '' &&
    info.Version === '' &&
    info.Path === '' &&
    (info.Created === null || info.Created.startsWith('0001-01-01T00:00:00'))
  )
}

/**
 * The LockInfo of a holder, for a refused lock: Terraform's own fields when
 * the holder locked through Terraform, otherwise built from what the server
 * knows. `ID` is never empty; `Created` is RFC 3339 or null. Extra keys
 * (generation, principal, expires) are ignored by the clients and help humans.
 */
export function holderLockInfo(holder: LockHolder): Record<string, unknown> {
  const client = holder.client ?? {}
  const str = (key: string, fallback: string): string =>
    typeof client[key] === 'string' && client[key] !== '' ? (client[key] as string) : fallback
  const info: Record<string, unknown> = {
    ID: holder.id,
    Operation: str('Operation', holder.operation),
    Info: str('Info', holder.info),
    Who: str(
      'Who',
      holder.who !== '' ? holder.who : (holder.principal ?? (holder.pid !== null ? `pid ${holder.pid}` : 'unknown')),
    ),
    Version: str('Version', ''),
    Created:
      typeof client.Created === 'string' && GO_RFC3339.test(client.Created) && !client.Created.startsWith('0001-')
        ? client.Created
        : holder.created,
    Path: str('Path', ''),
  }
  for (const key of KEYS) if (!(key in info)) info[key] = ''
  return { ...info, Generation: holder.generation, Principal: holder.principal, Expires: holder.expires }
}
