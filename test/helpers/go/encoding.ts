/**
 * Go's encoding/json and net/url as the `http` backend clients use them:
 * the LockInfo they marshal and how encoding/json judges a 409/423 body
 * (`parseGoJson`), Content-MD5, and url.Values with the lock id.
 */
import { createHash, randomUUID } from 'node:crypto'

/** Which client's framing: Terraform sends Content-MD5 on every body (even empty), OpenTofu only on non-empty ones. */
export type GoClientStyle = 'terraform' | 'opentofu'

/** A LockInfo as Go decodes it (`Created` null when absent, null, or the zero time was never set). */
export interface GoLockInfo {
  ID: string
  Operation: string
  Info: string
  Who: string
  Version: string
  Created: string | null
  Path: string
}

/** An answer as Go's transport hands it to the backend: gzip already undone. */
export interface GoResponse {
  readonly status: number
  /** Header names lower-cased; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>
  /** The body, de-chunked and gunzipped. */
  readonly body: Buffer
  /** The answer came with Transfer-Encoding: chunked. */
  readonly chunked: boolean
  /** The answer came with Content-Encoding: gzip (and was decoded). */
  readonly gzip: boolean
}

/** The base64 MD5 of an empty body, which Terraform sends on empty LOCK/UNLOCK bodies. */
export const EMPTY_BODY_MD5 = '1B2M2Y8AsgTpgAmY7PhCfg=='

/** The base64 MD5 of `body`, as the clients put it in Content-MD5. */
export function md5Base64(body: Buffer): string {
  return createHash('md5').update(body).digest('base64')
}

/** Thrown by `parseGoJson` where Go's json.Unmarshal returns an error. */
export class GoJsonError extends Error {
  override readonly name = 'GoJsonError'
}

export const LOCK_FIELDS = ['ID', 'Operation', 'Info', 'Who', 'Version', 'Created', 'Path'] as const

/** Go's key folding for struct fields (bytes.EqualFold): ASCII case plus the two non-ASCII simple folds of s and k. */
export function foldKey(key: string): string {
  return key
    .replace(/\u017f/g, 's')
    .replace(/\u212a/g, 'k')
    .replace(/[A-Z]/g, (c) => c.toLowerCase())
}

/**
 * Decodes a body into a LockInfo with Go's encoding/json rules, as the
 * clients do with a 409/423 answer: keys match the fields exactly or
 * case-insensitively, unknown keys are ignored, `null` leaves a field as it
 * is, a non-string value for a string field fails, `Created` must be an RFC
 * 3339 string (or absent/null: an empty string fails), and an empty body
 * fails. Throws GoJsonError where Go would return an error.
 */
export function parseGoJson(body: Buffer | string): GoLockInfo {
  const text = typeof body === 'string' ? body : body.toString('utf8')
  if (text.trim() === '') throw new GoJsonError('unexpected end of JSON input')
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new GoJsonError(`invalid JSON: ${(err as Error).message}`)
  }
  const info: GoLockInfo = { ID: '', Operation: '', Info: '', Who: '', Version: '', Created: null, Path: '' }
  if (doc === null) return info // Go: unmarshalling null into a struct is a no-op
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new GoJsonError(
      `json: cannot unmarshal ${Array.isArray(doc) ? 'array' : typeof doc} into Go value of type statemgr.LockInfo`,
    )
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const field = LOCK_FIELDS.find((f) => f === key) ?? LOCK_FIELDS.find((f) => foldKey(f) === foldKey(key))
    if (field === undefined || value === null) continue
    if (typeof value !== 'string')
      throw new GoJsonError(`json: cannot unmarshal ${typeof value} into Go struct field LockInfo.${field}`)
    if (field === 'Created') {
      if (!isGoRfc3339(value))
        throw new GoJsonError(`parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05Z07:00": cannot parse`)
      info.Created = value
    } else {
      info[field] = value
    }
  }
  return info
}

/** True when Go's time.Time.UnmarshalJSON (strict RFC 3339) accepts `s`. */
export function isGoRfc3339(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/.exec(s)
  if (m === null) return false
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  const daysIn = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (month < 1 || month > 12 || day < 1 || day > daysIn || hour > 23 || minute > 59 || second > 59) return false
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false
  return true
}

/** Go's url.QueryEscape: unreserved bytes kept, space as '+', everything else %XX (upper case). */
export function goQueryEscape(s: string): string {
  let out = ''
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte)
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c
    else if (c === ' ') out += '+'
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** Go's url.ParseQuery, keeping what Go keeps (pairs with ';' or a bad escape are dropped). */
export function goParseQuery(raw: string): Map<string, string[]> {
  const values = new Map<string, string[]>()
  const unescapePart = (s: string): string | undefined => {
    if (/%(?![0-9A-Fa-f]{2})/.test(s)) return undefined
    return decodeURIComponent(s.replace(/\+/g, ' '))
  }
  for (const part of raw.split('&')) {
    if (part === '' || part.includes(';')) continue
    const eq = part.indexOf('=')
    const key = unescapePart(eq < 0 ? part : part.slice(0, eq))
    const value = unescapePart(eq < 0 ? '' : part.slice(eq + 1))
    if (key === undefined || value === undefined || key === '') continue
    values.set(key, [...(values.get(key) ?? []), value])
  }
  return values
}

/** Go's url.Values.Encode(): keys sorted bytewise, each value escaped with QueryEscape. */
export function goEncodeQuery(values: Map<string, string[]>): string {
  const keys = [...values.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  return keys.flatMap((k) => (values.get(k) ?? []).map((v) => `${goQueryEscape(k)}=${goQueryEscape(v)}`)).join('&')
}

/** The address with `ID=<lockId>` set the way the clients do: the query re-parsed, ID set, re-encoded sorted. */
export function withLockId(address: string, lockId: string): string {
  const q = address.indexOf('?')
  const path = q < 0 ? address : address.slice(0, q)
  const values = goParseQuery(q < 0 ? '' : address.slice(q + 1))
  values.set('ID', [lockId])
  return `${path}?${goEncodeQuery(values)}`
}

/** A JSON string as Go's encoding/json writes it (HTML characters and U+2028/2029 escaped). */
export function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** A LockInfo marshalled exactly as Go's json.Marshal writes it: compact, in field order; Created null → the zero time. */
export function marshalLockInfo(info: Partial<GoLockInfo>): Buffer {
  const full = {
    ID: '',
    Operation: '',
    Info: '',
    Who: '',
    Version: '',
    Path: '',
    ...info,
    Created: info.Created ?? '0001-01-01T00:00:00Z',
  }
  return Buffer.from(`{${LOCK_FIELDS.map((f) => `"${f}":${goJsonString(full[f])}`).join(',')}}`)
}

/** A LockInfo like statemgr.NewLockInfo(): a fresh UUID, user@host, a CLI version, Created with nanoseconds (fixed, for determinism). */
export function newLockInfo(fields: Partial<GoLockInfo> = {}): GoLockInfo {
  return {
    ID: randomUUID(),
    Operation: 'OperationTypeApply',
    Info: '',
    Who: 'tester@ci-host',
    Version: '1.9.0',
    Created: '2025-06-01T12:00:00.123456789Z',
    Path: '',
    ...fields,
  }
}
