/**
 * The access log: exactly one line per request, written when the answer is
 * sent (or the client leaves), carrying what an operator asks of a request —
 * method, route pattern, URL with query values redacted, status, duration,
 * principal, factory, stack, problem code, request id and user agent.
 * Health, metrics and OpenAPI routes (`config.accessLog: 'debug'`) log at
 * debug, so probes do not flood an idle server's log; server faults (5xx)
 * log at error with the error and its stack, in the same line.
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { App } from './app-type.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The access log level of this route; info when absent. */
    accessLog?: 'debug'
  }
  interface FastifyRequest {
    /** The problem code the request was answered with; null when it succeeded. */
    problemCode: string | null
    /** The fault behind a 5xx answer, logged with the access line. */
    fault: unknown
    /** Whether the access line was written (an abort and an answer may both report one request). */
    accessLogged: boolean
  }
}

/** Longest user agent kept in a log line. */
const MAX_USER_AGENT = 256

/**
 * `url` with every query value replaced by `*`, names kept: a token put in a
 * URL by mistake must not land in the log, while `?wait=` and `?ID=` stay
 * visible as names.
 */
export function redactQuery(url: string): string {
  const q = url.indexOf('?')
  if (q < 0) return url
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=')
      return eq < 0 ? pair : `${pair.slice(0, eq)}=*`
    })
  return `${url.slice(0, q)}?${query.join('&')}`
}

/** Installs the access log on `app` (Fastify's own request lines must be off: `disableRequestLogging`). */
export function registerAccessLog(app: App): void {
  app.decorateRequest('problemCode', null)
  app.decorateRequest('fault', null)
  app.decorateRequest('accessLogged', false)
  // Synchronous hooks: an async one costs a promise and a microtask hop on every request.
  app.addHook('onRequestAbort', (request, done) => {
    once(request, null, true)
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    once(request, reply, false)
    done()
  })
}

function once(request: FastifyRequest, reply: FastifyReply | null, aborted: boolean): void {
  if (request.accessLogged) return
  request.accessLogged = true
  write(request, reply, aborted)
}

function write(request: FastifyRequest, reply: FastifyReply | null, aborted: boolean): void {
  const status = reply?.statusCode ?? null
  const route = request.routeOptions // a getter that builds a fresh object: read once
  const level = status !== null && status >= 500 ? 'error' : route.config?.accessLog === 'debug' ? 'debug' : 'info'
  // A line the logger would drop is not built (probes at debug, or a server logging at warn).
  const log = request.log as FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean }
  if (log.isLevelEnabled?.(level) === false) return
  const params = (request.params ?? {}) as { factory?: unknown; stack?: unknown }
  const ua = request.headers['user-agent']
  const line: Record<string, unknown> = {
    method: request.method,
    route: route.url ?? null,
    url: redactQuery(request.url),
    status,
    ms: Math.round((reply?.elapsedTime ?? 0) * 10) / 10,
  }
  const principal = (request as FastifyRequest & { principal?: string | null }).principal
  if (typeof principal === 'string') line.principal = principal
  if (typeof params.factory === 'string') line.factory = params.factory
  if (typeof params.stack === 'string') line.stack = params.stack
  if (request.problemCode !== null) line.code = request.problemCode
  if (typeof ua === 'string') line.ua = ua.slice(0, MAX_USER_AGENT)
  if (request.ip !== undefined) line.remote = request.ip
  if (aborted) line.aborted = true
  const msg = aborted
    ? `${request.method} ${line.url} aborted by the client`
    : `${request.method} ${line.url} ${status}`
  if (level === 'error') log.error({ ...line, ...(request.fault === null ? {} : { err: request.fault }) }, msg)
  else if (level === 'debug') log.debug(line, msg)
  else log.info(line, msg)
}
