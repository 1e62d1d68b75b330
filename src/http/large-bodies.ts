/**
 * A bound on large request bodies in flight. A stored body (a snapshot or a
 * Terraform state) of `LARGE_BODY_BYTES` or more holds its bytes in memory
 * until it is answered (it is scanned, sealed and written in slices, see
 * src/parse/fast-checks.ts and src/store/envelope-slices.ts; one the scan
 * does not accept is parsed in a worker as well), so memory grows with
 * every such request at once.
 * At most `maxLarge` of them are processed at once; beyond that the request
 * is answered at once, before its body is read, with 503 `server-busy` and
 * `Retry-After` (Terraform's HTTP backend and the unobin client retry on it).
 * A body sent without Content-Length (chunked) counts as large: its size is
 * unknown until it is read.
 */
import type { FastifyRequest, onRequestAbortHookHandler, onRequestHookHandler, onResponseHookHandler } from 'fastify'
import { StateError } from '../errors.js'
import type { App } from './app-type.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Whether this request holds one of the large-body places (released when it is answered or aborted). */
    largeBodyPlace: boolean
  }
}

/** A stored body at least this large counts against `--max-large-bodies`. */
export const LARGE_BODY_BYTES = 4 * 1024 * 1024

/** Seconds a refused client is told to wait. */
const RETRY_AFTER_SECONDS = 2

/**
 * Installs the bound on `app` for the routes that store their body
 * (`config.rawBody`); `maxLarge` 0 turns it off. Call before any route is
 * registered.
 */
export function registerLargeBodyGate(app: App, maxLarge: number): void {
  if (maxLarge <= 0) return
  let inFlight = 0
  app.decorateRequest('largeBodyPlace', false)
  const enter: onRequestHookHandler = (request, _reply, done) => {
    const length = request.headers['content-length']
    const size = length === undefined ? Number.POSITIVE_INFINITY : Number(length)
    if (!(size >= LARGE_BODY_BYTES)) return done()
    if (inFlight >= maxLarge)
      return done(
        new StateError(
          'server-busy',
          `the server already processes ${maxLarge} large bodies (${LARGE_BODY_BYTES / 1024 / 1024} MiB or more, or without Content-Length) at once (--max-large-bodies): retry in ${RETRY_AFTER_SECONDS} s`,
          { retryAfter: RETRY_AFTER_SECONDS, maxLargeBodies: maxLarge },
        ),
      )
    inFlight++
    request.largeBodyPlace = true
    done()
  }
  const leave = (request: FastifyRequest) => {
    if (!request.largeBodyPlace) return
    request.largeBodyPlace = false
    inFlight--
  }
  const answered: onResponseHookHandler = (request, _reply, done) => {
    leave(request)
    done()
  }
  const aborted: onRequestAbortHookHandler = (request, done) => {
    leave(request)
    done()
  }
  // Only the routes that store their body carry the hooks: a GET pays nothing.
  app.addHook('onRoute', (route) => {
    // A route with a smaller own limit (a LockInfo) refuses a large body anyway.
    if (route.config?.rawBody !== true || (route.bodyLimit ?? Number.POSITIVE_INFINITY) < LARGE_BODY_BYTES) return
    route.onRequest = [route.onRequest ?? []].flat().concat(enter)
    route.onResponse = [route.onResponse ?? []].flat().concat(answered)
    route.onRequestAbort = [route.onRequestAbort ?? []].flat().concat(aborted)
  })
}
