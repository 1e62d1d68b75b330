/**
 * The Terraform/OpenTofu `http` state backend as the real Go clients speak it.
 *
 * Why it exists: fetch/undici and node:http normalise what goes on the wire
 * (header names and order, a chunked empty body on a made-up method, no
 * Content-MD5), and `app.inject` skips the HTTP parser altogether. The server
 * must accept the bytes that hashicorp/terraform and opentofu/opentofu really
 * write through go-retryablehttp and Go's net/http, so `GoHttpClient` writes
 * them itself on a raw `node:net` socket and reads the answer the way Go's
 * transport does (chunked, gzip). `HttpBackend` keeps the backend's own state
 * (its lock id and the LockInfo it locked with) exactly like the Go
 * `httpClient` struct, so a test reads like the clients' conformance checks.
 * `parseGoJson` judges a 409/423 body as encoding/json would, and
 * `retryablePolicy` says which answers go-retryablehttp would send again.
 */
import { createHash, randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { gunzipSync } from 'node:zlib'

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

const LOCK_FIELDS = ['ID', 'Operation', 'Info', 'Who', 'Version', 'Created', 'Path'] as const

/** Go's key folding for struct fields (bytes.EqualFold): ASCII case plus the two non-ASCII simple folds of s and k. */
function foldKey(key: string): string {
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

/**
 * Whether go-retryablehttp's DefaultRetryPolicy sends the request again after
 * this outcome: transport errors, 429 and every 5xx except 501 are retried;
 * everything else (409 and 423 included) is final.
 */
export function retryablePolicy(outcome: number | 'transport-error'): boolean {
  if (outcome === 'transport-error' || outcome === 0) return true
  if (outcome === 429) return true
  return outcome >= 500 && outcome !== 501
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
function goJsonString(s: string): string {
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

/** Methods Go probes for a body before framing (requestMethodUsuallyLacksBody). */
const USUALLY_BODILESS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'PROPFIND', 'SEARCH'])

/** textproto.CanonicalMIMEHeaderKey. */
function canonicalKey(key: string): string {
  return key.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase())
}

/** Options of a Go client. */
export interface GoHttpClientOptions {
  readonly host?: string
  readonly port: number
  readonly style: GoClientStyle
  /** Basic auth is sent only when the username is non-empty (both clients). */
  readonly username?: string
  readonly password?: string
  /** OpenTofu's `headers`: set on every request. */
  readonly headers?: Readonly<Record<string, string>>
}

/** Per-request overrides for crafted requests. */
export interface FrameOptions {
  /** Replace the Content-MD5 the client would compute (null: send none). */
  readonly contentMd5?: string | null
}

/** A bug in what the server sent, from the Go transport's point of view. */
export class GoTransportError extends Error {
  override readonly name = 'GoTransportError'
}

/**
 * Frames requests byte for byte as Go's net/http does for the `http`
 * backend (one connection per request) and parses the answer. `body` null is
 * Go's nil data (GET, DELETE); a Buffer, even empty, is a body the client sets
 * Content-Type and Content-MD5 for.
 */
export class GoHttpClient {
  readonly style: GoClientStyle
  readonly #host: string
  readonly #port: number
  readonly #options: GoHttpClientOptions
  /** Every request written, in order (the exact bytes). */
  readonly sent: Buffer[] = []

  constructor(options: GoHttpClientOptions) {
    this.style = options.style
    this.#host = options.host ?? '127.0.0.1'
    this.#port = options.port
    this.#options = options
  }

  /** The bytes Go writes for this request. `target` is the path with its query. */
  frame(method: string, target: string, body: Buffer | null, options: FrameOptions = {}): Buffer {
    const header = new Map<string, string>()
    if (this.#options.username !== undefined && this.#options.username !== '') {
      header.set(
        'Authorization',
        `Basic ${Buffer.from(`${this.#options.username}:${this.#options.password ?? ''}`).toString('base64')}`,
      )
    }
    for (const [k, v] of Object.entries(this.#options.headers ?? {})) header.set(canonicalKey(k), v)
    if (body !== null) {
      header.set('Content-Type', 'application/json')
      const md5 =
        options.contentMd5 !== undefined
          ? options.contentMd5
          : this.style === 'terraform' || body.length > 0
            ? md5Base64(body)
            : null
      if (md5 !== null) header.set('Content-Md5', md5)
    }
    // net/http's transferWriter: a known length is sent as Content-Length; an empty non-nil body
    // is an unknown length, probed away for GET/DELETE-like methods and chunked for the rest.
    let transfer: string | undefined
    let payload: Buffer = Buffer.alloc(0)
    if (body !== null && body.length > 0) {
      transfer = `Content-Length: ${body.length}`
      payload = body
    } else if (body !== null && !USUALLY_BODILESS.has(method)) {
      transfer = 'Transfer-Encoding: chunked'
      payload = Buffer.from('0\r\n\r\n')
    } else if (method !== 'GET' && method !== 'HEAD') {
      transfer = 'Content-Length: 0'
    }
    const lines = [
      `${method} ${target} HTTP/1.1`,
      `Host: ${this.#host}:${this.#port}`,
      'User-Agent: Go-http-client/1.1',
    ]
    if (transfer !== undefined) lines.push(transfer)
    for (const key of [...header.keys()].sort()) lines.push(`${key}: ${header.get(key)}`)
    lines.push('Accept-Encoding: gzip')
    return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), payload])
  }

  /** Sends one framed request on a fresh connection and reads the answer. */
  async send(method: string, target: string, body: Buffer | null, options: FrameOptions = {}): Promise<GoResponse> {
    const request = this.frame(method, target, body, options)
    this.sent.push(request)
    return exchange(this.#host, this.#port, request, method)
  }

  get(target: string): Promise<GoResponse> {
    return this.send('GET', target, null)
  }

  post(target: string, body: Buffer, options?: FrameOptions): Promise<GoResponse> {
    return this.send('POST', target, body, options)
  }

  put(target: string, body: Buffer, options?: FrameOptions): Promise<GoResponse> {
    return this.send('PUT', target, body, options)
  }

  delete(target: string, body: Buffer | null = null, options?: FrameOptions): Promise<GoResponse> {
    return this.send('DELETE', target, body, options)
  }

  lock(target: string, body: Buffer, options?: FrameOptions): Promise<GoResponse> {
    return this.send('LOCK', target, body, options)
  }

  unlock(target: string, body: Buffer, options?: FrameOptions): Promise<GoResponse> {
    return this.send('UNLOCK', target, body, options)
  }
}

/** How long one exchange may take before the helper fails it instead of hanging the test (a guard, not an assertion). */
const GUARD_MS = 15_000

/** Writes `request` on a new connection, reads one answer, closes. */
function exchange(host: string, port: number, request: Buffer, method: string): Promise<GoResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port })
    let received = Buffer.alloc(0)
    let settled = false
    const settle = (err: Error | undefined, response?: GoResponse) => {
      if (settled) return
      settled = true
      clearTimeout(guard)
      socket.destroy()
      if (err !== undefined) reject(err)
      else resolve(response!)
    }
    const guard = setTimeout(() => settle(new Error(`no complete answer to ${method} within ${GUARD_MS} ms`)), GUARD_MS)
    const attempt = (eof: boolean) => {
      try {
        const response = parseResponse(received, method, eof)
        if (response !== undefined) settle(undefined, response)
        else if (eof) settle(new GoTransportError('the connection closed before a complete answer'))
      } catch (err) {
        settle(err as Error)
      }
    }
    socket.on('connect', () => socket.write(request))
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      attempt(false)
    })
    socket.on('end', () => attempt(true))
    socket.on('error', (err) => settle(err))
  })
}

/** Parses one HTTP/1.1 answer from `bytes`; undefined while incomplete. Throws GoTransportError on malformed framing. */
export function parseResponse(bytes: Buffer, method: string, eof: boolean): GoResponse | undefined {
  let start = 0
  for (;;) {
    const end = bytes.indexOf('\r\n\r\n', start)
    if (end < 0) return undefined
    const [statusLine = '', ...headerLines] = bytes.subarray(start, end).toString('latin1').split('\r\n')
    const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine)
    if (m === null) throw new GoTransportError(`malformed status line ${JSON.stringify(statusLine)}`)
    const status = Number(m[1])
    const headers: Record<string, string> = {}
    for (const line of headerLines) {
      const colon = line.indexOf(':')
      if (colon <= 0) throw new GoTransportError(`malformed header line ${JSON.stringify(line)}`)
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`
    }
    const bodyStart = end + 4
    if (status >= 100 && status < 200) {
      start = bodyStart // informational: the real answer follows
      continue
    }
    let body: Buffer
    const chunked = /(^|,)\s*chunked\s*$/i.test(headers['transfer-encoding'] ?? '')
    if (method === 'HEAD' || status === 204 || status === 304) {
      body = Buffer.alloc(0)
    } else if (chunked) {
      const decoded = dechunk(bytes, bodyStart)
      if (decoded === undefined) return undefined
      body = decoded
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length'])
      if (!Number.isSafeInteger(length) || length < 0)
        throw new GoTransportError(`bad Content-Length ${headers['content-length']}`)
      if (bytes.length < bodyStart + length) return undefined
      body = bytes.subarray(bodyStart, bodyStart + length)
    } else {
      if (!eof) return undefined // delimited by the end of the connection
      body = bytes.subarray(bodyStart)
    }
    const gzip = (headers['content-encoding'] ?? '').toLowerCase() === 'gzip'
    if (gzip) body = body.length === 0 ? body : gunzipSync(body)
    return { status, headers, body: Buffer.from(body), chunked, gzip }
  }
}

/** Decodes a chunked body starting at `offset`; undefined while incomplete. */
function dechunk(bytes: Buffer, offset: number): Buffer | undefined {
  const parts: Buffer[] = []
  let pos = offset
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', pos)
    if (lineEnd < 0) return undefined
    const sizeText = bytes.subarray(pos, lineEnd).toString('latin1').split(';')[0]!.trim()
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new GoTransportError(`malformed chunk size ${JSON.stringify(sizeText)}`)
    const size = parseInt(sizeText, 16)
    pos = lineEnd + 2
    if (size === 0) {
      // trailers, then an empty line
      for (;;) {
        const trailerEnd = bytes.indexOf('\r\n', pos)
        if (trailerEnd < 0) return undefined
        if (trailerEnd === pos) return Buffer.concat(parts)
        pos = trailerEnd + 2
      }
    }
    if (bytes.length < pos + size + 2) return undefined
    parts.push(bytes.subarray(pos, pos + size))
    if (bytes.subarray(pos + size, pos + size + 2).toString('latin1') !== '\r\n')
      throw new GoTransportError('a chunk does not end with CRLF')
    pos += size + 2
  }
}

/** Addresses and methods of a `backend "http"` block. */
export interface HttpBackendConfig {
  readonly address: string
  readonly updateMethod?: 'POST' | 'PUT'
  readonly lockAddress?: string
  readonly unlockAddress?: string
  readonly lockMethod?: string
  readonly unlockMethod?: string
}

/** What a LOCK came to, as the backend sees it. */
export interface LockOutcome {
  readonly response: GoResponse
  /** The lock id, on 200. */
  readonly id?: string
  /** The holder's LockInfo decoded with Go's rules, on 409/423 when it decodes. */
  readonly holder?: GoLockInfo
  /** Why the 409/423 body did not decode (the client then cannot retry under -lock-timeout). */
  readonly decodeError?: GoJsonError
}

/** What a GET came to: the state bytes, or null for "no state". */
export interface GetOutcome {
  readonly response: GoResponse
  readonly state: Buffer | null
}

/**
 * The `http` backend's client state and operations, as in the Go httpClient:
 * `lockId` and `jsonLockInfo` are remembered only when a LOCK answers 200;
 * writes carry `?ID=` only then; UNLOCK sends the remembered LockInfo (a fresh
 * client has none: Terraform sends an empty body, OpenTofu the ID alone).
 */
export class HttpBackend {
  readonly client: GoHttpClient
  readonly config: Required<HttpBackendConfig>
  lockId = ''
  jsonLockInfo: Buffer | null = null

  constructor(client: GoHttpClient, config: HttpBackendConfig) {
    this.client = client
    this.config = {
      updateMethod: 'POST',
      lockAddress: config.address,
      unlockAddress: config.address,
      lockMethod: 'LOCK',
      unlockMethod: 'UNLOCK',
      ...config,
    }
  }

  /** GET: the state, or null for "no state" (200 empty, 204, 404). Throws where the client fails. */
  async get(): Promise<GetOutcome> {
    const response = await this.client.get(this.config.address)
    if (response.status === 204 || response.status === 404) return { response, state: null }
    if (response.status !== 200)
      throw new GoTransportError(`HTTP remote state endpoint invalid response code ${response.status}`)
    if (response.body.length === 0) return { response, state: null }
    const md5 = response.headers['content-md5']
    if (
      md5 !== undefined &&
      md5 !== '' &&
      !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(md5)
    ) {
      throw new GoTransportError(`Failed to decode Content-MD5 '${md5}'`)
    }
    return { response, state: response.body }
  }

  /** Writes the state with update_method, adding ?ID= while this client holds the lock. */
  async put(data: Buffer, options?: FrameOptions): Promise<GoResponse> {
    const target = this.lockId === '' ? this.config.address : withLockId(this.config.address, this.lockId)
    return this.client.send(this.config.updateMethod, target, data, options)
  }

  /** DELETE of the address, without a body (Go's nil data). */
  async delete(): Promise<GoResponse> {
    return this.client.delete(this.config.address)
  }

  /** Locks with `info`; remembers the id and the exact bytes only on 200. */
  async lock(info: GoLockInfo): Promise<LockOutcome> {
    this.lockId = ''
    const json = marshalLockInfo(info)
    const response = await this.client.send(this.config.lockMethod, this.config.lockAddress, json)
    if (response.status === 200) {
      this.lockId = info.ID
      this.jsonLockInfo = json
      return { response, id: info.ID }
    }
    if (response.status === 409 || response.status === 423) {
      try {
        return { response, holder: parseGoJson(response.body) }
      } catch (err) {
        if (err instanceof GoJsonError) return { response, decodeError: err }
        throw err
      }
    }
    return { response }
  }

  /** Unlocks `id` with the remembered LockInfo; a fresh client sends Terraform's empty body or OpenTofu's ID-only body. */
  async unlock(id: string): Promise<GoResponse> {
    const body = this.jsonLockInfo ?? (this.client.style === 'opentofu' ? marshalLockInfo({ ID: id }) : Buffer.alloc(0))
    return this.client.send(this.config.unlockMethod, this.config.unlockAddress, body)
  }
}

/**
 * A state file as the clients write it (statefile.Write): pretty-printed with
 * a 2-space indent and a trailing newline. `extra` adds or replaces top-level keys.
 */
export function stateFile(serial: number, lineage = 'stub-lineage', extra: Record<string, unknown> = {}): Buffer {
  const doc = {
    version: 4,
    terraform_version: '1.9.0',
    serial,
    lineage,
    outputs: { foo: { value: 'bar', type: 'string' } },
    resources: [
      {
        mode: 'managed',
        type: 'null_resource',
        name: 'foo',
        provider: 'provider["registry.terraform.io/hashicorp/null"]',
        instances: [
          { schema_version: 0, attributes: { id: `id-${serial}`, triggers: null }, sensitive_attributes: [] },
        ],
      },
    ],
    check_results: null,
    ...extra,
  }
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`)
}
