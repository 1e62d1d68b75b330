/**
 * One HTTP(S) exchange with the server: joins the path to the server URL
 * (which may carry a path prefix behind a proxy), adds credentials, trusts a
 * private CA when given, reports upload/download progress, and turns a
 * transport failure into a one-line `unreachable` error. It knows nothing of
 * routes or problem bodies (see `api.ts`).
 */
import { Agent as HttpAgent, type IncomingHttpHeaders, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { ClientError, EXIT } from './exit-codes.js'

/** What every request shares. */
export interface TransportOptions {
  readonly server: URL
  /** PEM of a private CA to trust (in addition to nothing else: it replaces the system roots). */
  readonly ca?: Buffer | undefined
  /** The `Authorization` header value, or undefined to send none. Called per request (identity tokens may be refreshed). */
  readonly authorization?: (() => Promise<string | undefined>) | undefined
  readonly userAgent: string
}

/** One request. */
export interface HttpRequest {
  readonly method: string
  /** Absolute path under the server URL, already percent-encoded. */
  readonly path: string
  readonly query?: Record<string, string | number | boolean | undefined>
  readonly headers?: Record<string, string>
  readonly body?: Buffer
  readonly signal?: AbortSignal
  /** Gives up when no byte moves for this long (a long-poll passes its wait plus a margin). */
  readonly idleTimeoutMs?: number
  /** Called with (bytes so far, total or undefined) while the body goes out. */
  readonly onUpload?: (done: number, total: number | undefined) => void
  /** Called with (bytes so far, total or undefined) while the answer comes in. */
  readonly onDownload?: (done: number, total: number | undefined) => void
}

/** The whole answer. */
export interface HttpResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
}

const UPLOAD_CHUNK = 256 * 1024

/** Sends requests to one server over keep-alive connections. */
export class Transport {
  readonly #options: TransportOptions
  readonly #agent: HttpAgent

  constructor(options: TransportOptions) {
    this.#options = options
    const https = options.server.protocol === 'https:'
    this.#agent = https
      ? new HttpsAgent({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) })
      : new HttpAgent({ keepAlive: true })
  }

  /** The server URL as given. */
  get server(): URL {
    return this.#options.server
  }

  /** The absolute URL of `path` (under the server URL's own path prefix). */
  url(path: string, query: HttpRequest['query'] = {}): URL {
    const url = new URL(this.#options.server.href)
    url.pathname = url.pathname.replace(/\/+$/, '') + path
    url.search = ''
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v))
    return url
  }

  /**
   * Sends `req` and reads the whole answer. Throws `unreachable` (exit 1)
   * when the server cannot be reached or the connection breaks, never with
   * the credentials in the message.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const url = this.url(req.path, req.query)
    const headers: Record<string, string> = {
      'user-agent': this.#options.userAgent,
      accept: 'application/json',
      ...req.headers,
    }
    const authorization = await this.#options.authorization?.()
    if (authorization !== undefined) headers.authorization = authorization
    if (req.body !== undefined) headers['content-length'] = String(req.body.length)
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    return new Promise<HttpResponse>((resolve, reject) => {
      const fail = (err: unknown): void => {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message
        reject(
          new ClientError(
            'unreachable',
            `cannot reach ${url.origin} (${code}); check --server / UNOBIN_STATE_URL${url.protocol === 'https:' ? ' and --ca-file' : ''}`,
            EXIT.failure,
            undefined,
            { cause: err },
          ),
        )
      }
      const r = send(
        url,
        { method: req.method, headers, agent: this.#agent, ...(req.signal ? { signal: req.signal } : {}) },
        (res) => {
          const total = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length'])
          const chunks: Buffer[] = []
          let done = 0
          res.on('data', (chunk: Buffer) => {
            chunks.push(chunk)
            done += chunk.length
            req.onDownload?.(done, total)
          })
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          )
          res.on('error', fail)
          res.on('aborted', () => fail(new Error('connection closed mid-answer')))
        },
      )
      r.setTimeout(req.idleTimeoutMs ?? 60_000, () =>
        r.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      )
      r.on('error', (err) => {
        if (req.signal?.aborted) reject(req.signal.reason)
        else fail(err)
      })
      const body = req.body
      if (body === undefined) {
        r.end()
        return
      }
      // Written in slices so a progress bar can follow a large upload.
      let offset = 0
      const pump = (): void => {
        while (offset < body.length) {
          const slice = body.subarray(offset, offset + UPLOAD_CHUNK)
          offset += slice.length
          const more = r.write(slice)
          req.onUpload?.(offset, body.length)
          if (!more) {
            r.once('drain', pump)
            return
          }
        }
        r.end()
      }
      pump()
    })
  }

  /** Closes idle connections so the process can exit at once. */
  close(): void {
    this.#agent.destroy()
  }
}
