/**
 * Request bodies. Every body is read as bytes under the configured limit
 * (413 above it). Routes that store bodies byte-exact (`config.rawBody`) get
 * the bytes untouched in `request.rawBody`, whatever the content type (curl
 * --data-binary sends form encoding); the others get JSON parsed with
 * prototype-poisoning protection (`__proto__`/`constructor` → 400).
 * Those control bodies (lock, renew, gc, prune…) are small: above
 * `--control-body-limit` they are refused (413) before being read whole, so
 * no route parses megabytes of JSON in one synchronous call.
 */
import type { Readable } from 'node:stream'
import { type FastifyRequest, errorCodes } from 'fastify'
import sjson from 'secure-json-parse'
import { StateError } from '../errors.js'
import type { App } from './app-type.js'

/** The default of --control-body-limit: the largest body of a route that parses JSON (every route that does not store its body). */
export const CONTROL_BODY_LIMIT = 64 * 1024

/** Installs the body parsers on `app` (control bodies capped at `controlBodyLimit`, all at `bodyLimit`). Call before any route is registered. */
export function registerBodyParsers(app: App, bodyLimit: number, controlBodyLimit: number): void {
  app.addHook('onRoute', (route) => {
    // A route's own limit (a LockInfo's) never exceeds the configured one.
    if (route.bodyLimit !== undefined) route.bodyLimit = Math.min(route.bodyLimit, bodyLimit)
    else if (route.config?.rawBody !== true) route.bodyLimit = Math.min(controlBodyLimit, bodyLimit)
  })
  app.removeAllContentTypeParsers()
  const parse = (request: FastifyRequest, body: Buffer, json: boolean): unknown => {
    if (request.routeOptions.config?.rawBody === true) {
      request.rawBody = body
      return undefined
    }
    if (body.length === 0) return undefined
    if (!json)
      throw new StateError(
        'unsupported-media-type',
        `send JSON with Content-Type: application/json (got ${request.headers['content-type'] ?? 'none'})`,
      )
    try {
      return sjson.parse(body.toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' })
    } catch (err) {
      throw new StateError('malformed-json', `the body is not valid JSON: ${(err as Error).message}`)
    }
  }
  const read = (json: boolean) => async (request: FastifyRequest, payload: Readable) =>
    parse(request, await collectBody(request, payload, request.routeOptions.bodyLimit), json)
  app.addContentTypeParser(['application/json', 'application/problem+json'], { bodyLimit }, read(true))
  app.addContentTypeParser('*', { bodyLimit }, read(false))
}

/** Body bytes copied per turn of the event loop before the rest waits for the next turn. */
const COPY_PER_TURN = 512 * 1024

/**
 * Reads a request body whole, with Fastify's own answers (413 over `limit`,
 * 400 when it does not match its Content-Length or the stream fails). A body
 * with a Content-Length is copied into one buffer of that size as it
 * arrives; Fastify's own reading kept the pieces and joined them at the end,
 * one synchronous copy of the whole body (a quarter of a second for 50 MB)
 * while both copies were held. (An announced length reserves address space
 * only: memory is touched as the bytes arrive.)
 */
function collectBody(request: FastifyRequest, payload: Readable, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'])
  if (declared > limit) return Promise.reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
  return new Promise((resolve, reject) => {
    let whole = Number.isInteger(declared) && declared >= 0 ? Buffer.allocUnsafe(declared) : undefined
    let pieces: Buffer[] = []
    let received = 0
    let copiedThisTurn = 0
    let settled = false
    const stop = () => {
      settled = true
      payload.removeListener('data', onData)
      payload.removeListener('end', onEnd)
      payload.removeListener('error', onEnd)
    }
    const onData = (chunk: Buffer | string) => {
      const piece = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      const at = received
      received += piece.length
      if (received > limit) {
        stop()
        reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
        return
      }
      if (whole !== undefined && received <= whole.length) piece.copy(whole, at)
      else {
        // More than announced (answered 400 at the end): keep the pieces.
        if (whole !== undefined) pieces = [whole.subarray(0, at)]
        whole = undefined
        pieces.push(Buffer.from(piece)) // a copy: never a view of the socket's read buffer
      }
      // The socket hands over up to 2 MB per turn of the event loop; copying all of it in the same turn
      // (into memory touched for the first time) made the turn twice as long. The rest waits a turn.
      copiedThisTurn += piece.length
      if (copiedThisTurn >= COPY_PER_TURN && !payload.isPaused()) {
        payload.pause()
        setImmediate(() => {
          copiedThisTurn = 0
          if (!settled) payload.resume()
        })
      }
    }
    const onEnd = (err?: Error & { statusCode?: number }) => {
      stop()
      if (err != null) {
        if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400
        reject(err)
      } else if (!Number.isNaN(declared) && received !== declared)
        reject(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH())
      else resolve(whole ?? Buffer.concat(pieces, received))
    }
    payload.on('data', onData)
    payload.on('end', onEnd)
    payload.on('error', onEnd)
    payload.resume()
  })
}
