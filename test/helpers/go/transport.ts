/**
 * The Terraform/OpenTofu `http` state backend as the real Go clients speak it.
 *
 * Why it exists: fetch/undici and node:http normalise what goes on the wire
 * (header names and order, a chunked empty body on a made-up method, no
 * Content-MD5), and `app.inject` skips the HTTP parser altogether. The server
 * must accept the bytes that hashicorp/terraform and opentofu/opentofu really
 * write through go-retryablehttp and Go's net/http, so `GoHttpClient` writes
 * them itself on a raw `node:net` socket and reads the answer the way Go's
 * transport does (chunked, gzip). The backend's own state is in `backend.ts`,
 * Go's JSON and query encoding in `encoding.ts`.
 */
import { connect } from 'node:net'
import { gunzipSync } from 'node:zlib'
import { type GoClientStyle, type GoResponse, md5Base64 } from './encoding.js'

/** Methods Go probes for a body before framing (requestMethodUsuallyLacksBody). */
export const USUALLY_BODILESS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'PROPFIND', 'SEARCH'])

/** textproto.CanonicalMIMEHeaderKey. */
export function canonicalKey(key: string): string {
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
export const GUARD_MS = 15_000

/** Writes `request` on a new connection, reads one answer, closes. */
export function exchange(host: string, port: number, request: Buffer, method: string): Promise<GoResponse> {
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
export function dechunk(bytes: Buffer, offset: number): Buffer | undefined {
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
