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
  const parse = (request: import('fastify').FastifyRequest, body: Buffer, json: boolean): unknown => {
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
  app.addContentTypeParser(
    ['application/json', 'application/problem+json'],
    { parseAs: 'buffer', bodyLimit },
    (request, body, done) => {
      try {
        done(null, parse(request, body as Buffer, true))
      } catch (err) {
        done(err as Error, undefined)
      }
    },
  )
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (request, body, done) => {
    try {
      done(null, parse(request, body as Buffer, false))
    } catch (err) {
      done(err as Error, undefined)
    }
  })
}
