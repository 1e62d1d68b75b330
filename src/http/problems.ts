/**
 * Errors over HTTP: every error code's status in one exhaustive table, and the
 * `application/problem+json` (RFC 9457) body every failure answers with:
 * `type`, `title`, `status`, `code` (stable), `detail` (what happened and what
 * to do next), `instance`, plus structured facts such as the lock `holder`.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { ERROR_CODES, type ErrorCode, StateError } from '../errors.js'
import { detailWithNextStep } from './next-steps.js'
import { problems } from './schemas.js'

/** The HTTP status of each error code. The compiler refuses a code without one. */
export const STATUS: Readonly<Record<ErrorCode, number>> = {
  'invalid-name': 400,
  'invalid-rev': 400,
  'invalid-snapshot': 422,
  'invalid-request': 400,
  'malformed-json': 400,
  'body-too-large': 413,
  'unsupported-media-type': 415,
  'content-md5-mismatch': 400,
  'route-not-found': 404,
  'console-not-built': 404,
  'asset-not-found': 404,
  'uri-too-long': 414,
  'name-case-conflict': 400,
  'factory-not-found': 404,
  'no-current': 404,
  'rev-not-found': 404,
  'rev-is-current': 409,
  'current-mismatch': 412,
  locked: 423,
  'not-locked': 404,
  'lock-not-held': 409,
  'lock-lost': 423,
  'lock-id-reused': 409,
  'lock-required': 428,
  'wait-timeout': 423,
  'state-conflict': 409,
  'payload-type-mismatch': 409,
  'incomparable-revs': 409,
  'opaque-state': 409,
  'unreadable-snapshot': 500,
  'dangling-current': 500,
  'unsafe-path': 500,
  'no-space': 507,
  'storage-failure': 500,
  'shutting-down': 503,
  'server-busy': 503,
  'too-many-streams': 503,
  unauthenticated: 401,
  forbidden: 403,
  'auth-unavailable': 503,
  'rate-limited': 429,
  'too-many-locks': 429,
  internal: 500,
}

/** The challenge of a 401: Bearer for tokens and identity tokens, Basic for Terraform's username/password. */
export const WWW_AUTHENTICATE = 'Bearer realm="unobin-state", Basic realm="unobin-state"'

/** The problem body for `code`. */
export function problem(
  code: ErrorCode,
  detail: string,
  instance: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    type: `urn:unobin-state:problem:${code}`,
    title: ERROR_CODES[code],
    status: STATUS[code],
    code,
    detail,
    instance,
    ...extra,
  }
}

/** Fastify's own error codes that are the client's fault, and our code for each. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body-too-large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid-request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed-json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed-json',
  FST_ERR_VALIDATION: 'invalid-request',
  FST_ERR_BAD_URL: 'invalid-request',
  FST_ERR_ASYNC_CONSTRAINT: 'invalid-request',
  FST_ERR_MAX_PARAM_LENGTH: 'uri-too-long',
}

/** Maps any thrown value to a code, a detail and extra facts. */
export function classify(err: unknown): { code: ErrorCode; detail: string; extra: Record<string, unknown> } {
  if (err instanceof StateError) {
    const extra: Record<string, unknown> = {}
    for (const key of [
      'holder',
      'current',
      'currentLineage',
      'lineage',
      'currentSerial',
      'serial',
      'rev',
      'factory',
      'stack',
      'existing',
      'lockId',
      'event',
      'entry',
      'rule',
      'operation',
      'sealedWith',
      'from',
      'to',
    ] as const) {
      if (err.details[key] !== undefined) extra[key] = err.details[key]
    }
    return { code: err.code, detail: detailWithNextStep(err), extra }
  }
  const fe = err as Partial<FastifyError> & {
    validationContext?: string
    validation?: Array<{ instancePath?: string }>
  }
  if (fe.code === 'FST_ERR_VALIDATION' && fe.validationContext === 'params') {
    const field = fe.validation?.[0]?.instancePath?.replace(/^\//, '') ?? ''
    if (field === 'rev')
      return {
        code: 'invalid-rev',
        detail: `the rev in the path is not a rev: expected a UTC instant like 2026-07-10T12:00:00.1Z, optionally with a _N suffix`,
        extra: {},
      }
    return {
      code: 'invalid-name',
      detail: `the ${field || 'name'} in the path is not allowed: use 1-128 of A-Z a-z 0-9 . _ - starting with a letter or digit`,
      extra: {},
    }
  }
  if (typeof fe.code === 'string' && Object.hasOwn(FASTIFY_CODES, fe.code)) {
    const code = FASTIFY_CODES[fe.code]!
    return { code, detail: fe.message ?? code, extra: {} }
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode === 414)
    return { code: 'uri-too-long', detail: 'a path segment is too long', extra: {} }
  return {
    code: 'internal',
    detail: 'an unexpected error occurred; the request id in the logs has the cause',
    extra: {},
  }
}

/** Sends `err` as a problem body. */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const { code, detail, extra } = classify(err)
  const status = STATUS[code]
  // The access log writes the code (and, for server faults, the error) in the request's one line.
  request.problemCode = code
  if (status >= 500) request.fault = err
  if (code === 'shutting-down') reply.header('retry-after', '1')
  if (code === 'too-many-streams') reply.header('retry-after', '30')
  if (code === 'unauthenticated') reply.header('www-authenticate', WWW_AUTHENTICATE)
  const retryAfter = err instanceof StateError ? err.details.retryAfter : undefined
  if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter))
  return reply
    .code(status)
    .type('application/problem+json')
    .send(problem(code, detail, request.url.split('?')[0] ?? request.url, { ...extra, requestId: request.id }))
}

/** Installs the error and not-found handlers on `app`. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => sendProblem(request, reply, err))
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      new StateError(
        'route-not-found',
        `no route for ${request.method} ${request.url.split('?')[0]}: see /openapi.yaml for the API`,
      ),
    ),
  )
}

/** Methods whose bodies the server parses (and so can refuse as too large or not JSON). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'LOCK', 'UNLOCK'])

/**
 * Declares, on every route they can reach, the answers given before any
 * handler runs, so the published document lists them: 414 `uri-too-long`
 * for an overlong path parameter, 413 `body-too-large` for a body over the
 * limit, and 415 `unsupported-media-type` for a body that is not JSON where
 * JSON is parsed (routes that take their body raw accept any type). Call
 * before any route is registered.
 */
export function declareTransportProblems(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const statuses: number[] = []
    if (route.url.includes(':')) statuses.push(414)
    if ([route.method].flat().some((m) => BODY_METHODS.has(m))) {
      statuses.push(413)
      if (route.config?.rawBody !== true) statuses.push(415)
    }
    const schema = (route.schema ?? {}) as Record<string, unknown>
    const response = (schema.response ?? {}) as Record<string, unknown>
    const missing = statuses.filter((status) => !(status in response))
    if (missing.length > 0) route.schema = { ...schema, response: { ...response, ...problems(...missing) } }
  })
}
