/**
 * The operator console's page: `GET /` redirects to `/ui/`, which serves the
 * page shell, and `/ui/assets/…` serves its scripts and styles. These routes
 * are public because they carry no data: the page reads everything through
 * the API with the caller's token. Every answer carries a strict
 * Content-Security-Policy (only this origin's scripts, styles and API; no
 * inline script or style; no framing), the shell is revalidated on each load
 * (ETag), and the content-hashed assets are cached as immutable.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { StateError } from '../../errors.js'
import type { App } from '../app-type.js'
import { problems } from '../schemas.js'
import type { UiAssets, UiFile } from '../ui-assets.js'

/** The policy of every console answer: the page may load only its own files and call only its own API. */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** Registers the console routes; `assets` null (not built) answers 404 with what to run. */
export function uiRoutes(app: App, assets: UiAssets | null): void {
  app.get(
    '/',
    {
      config: { permission: 'public' },
      schema: {
        operationId: 'openConsole',
        summary: 'Go to the console',
        description: 'Redirects (302) to the operator console at /ui/.',
        tags: ['console'],
        response: { 302: { type: 'null', description: 'Location: /ui/' } },
      },
    },
    async (_request, reply) => reply.redirect('/ui/', 302),
  )

  app.get(
    '/ui/',
    {
      config: { permission: 'public' },
      schema: {
        operationId: 'getConsolePage',
        summary: 'The operator console',
        description:
          'The page shell (HTML): stacks, locks, history, diffs and actions, read through this API with the token the page asks for. Public: it carries no data. ETag and If-None-Match (304); 404 when the server was built without the console.',
        tags: ['console'],
        response: {
          200: { type: 'string', description: 'the page shell' },
          304: { type: 'null', description: 'not modified' },
          ...problems(404),
        },
      },
    },
    async (request, reply) => {
      if (assets === null) throw notBuilt()
      return send(request, reply, assets.index, 'no-cache')
    },
  )

  app.get(
    '/ui/assets/:file',
    {
      config: { permission: 'public' },
      schema: {
        operationId: 'getConsoleAsset',
        summary: 'A script or stylesheet of the console',
        description:
          'Content-hashed names, cached as immutable; gzip when accepted. 404 for a name the running server does not have (reload /ui/).',
        tags: ['console'],
        params: Type.Object(
          { file: Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$' }) },
          { additionalProperties: false },
        ),
        response: {
          200: { type: 'string', description: 'the asset' },
          304: { type: 'null', description: 'not modified' },
          ...problems(400, 404),
        },
      },
    },
    async (request, reply) => {
      const { file } = request.params
      const found = assets?.assets.get(file)
      if (found === undefined)
        throw new StateError(
          'asset-not-found',
          `the console has no asset ${JSON.stringify(file)}: reload /ui/ to get the current page`,
        )
      return send(request, reply, found, 'public, max-age=31536000, immutable')
    },
  )
}

function notBuilt(): StateError {
  return new StateError(
    'console-not-built',
    'the console is not built into this server: run "npm run build" (the image builds it)',
  )
}

/** Sends `file` with the console's security headers, answering 304 to a matching If-None-Match. */
function send(request: FastifyRequest, reply: FastifyReply, file: UiFile, cacheControl: string): FastifyReply {
  reply
    .header('content-security-policy', UI_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', cacheControl)
    .header('etag', file.etag)
    .header('vary', 'accept-encoding')
  if (matches(request.headers['if-none-match'], file.etag)) return reply.code(304).send()
  reply.type(file.type)
  if (file.gzip !== null && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
    return reply.header('content-encoding', 'gzip').send(file.gzip)
  }
  return reply.send(file.body)
}

function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*')
}
