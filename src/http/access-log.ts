/**
 * The access log: exactly one line per request, written when the answer is
 * sent (or the client leaves), carrying what an operator asks of a request —
 * method, route pattern, URL with query values redacted, status, duration,
 * principal, factory, stack, problem code, request id and user agent.
 * Health, metrics and OpenAPI routes (`config.accessLog: 'debug'`) log at
 * debug, so probes do not flood an idle server's log; server faults (5xx)
 * log at error with the error and its stack, in the same line.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
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
  const logged = new WeakSet<FastifyRequest>()
  const once = (request: FastifyRequest, reply: FastifyReply | null, aborted: boolean) => {
    if (logged.has(request)) return
    logged.add(request)
    write(request, reply, aborted)
  }
  app.addHook('onRequestAbort', async (request) => once(request, null, true))
  app.addHook('onResponse', async (request, reply) => once(request, reply, false))
}

function write(request: FastifyRequest, reply: FastifyReply | null, aborted: boolean): void {
  const status = reply?.statusCode ?? null
  const params = (request.params ?? {}) as { factory?: unknown; stack?: unknown }
  const ua = request.headers['user-agent']
  const line: Record<string, unknown> = {
    method: request.method,
    route: request.routeOptions.url ?? null,
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
  if (status !== null && status >= 500) {
    request.log.error({ ...line, ...(request.fault === null ? {} : { err: request.fault }) }, msg)
  } else if (request.routeOptions.config?.accessLog === 'debug') {
    request.log.debug(line, msg)
  } else {
    request.log.info(line, msg)
  }
}
