/** Sending a stored snapshot: byte-exact body (or, with ?redacted=true, its redacted view), ETag = rev, conditional GET. */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { parseDocument } from '../../diff/document.js'
import { redactDocument } from '../../diff/redact-document.js'
import type { Snapshot } from '../../store/store.js'
import {
  ConditionalReadHeaders,
  RedactedQuery,
  SnapshotDocument,
  SnapshotHeaders,
  problems,
  withHeaders,
} from '../schemas.js'

/**
 * What a route answering with `sendSnapshot` declares: `?redacted`, the
 * conditional-GET headers, the body with its headers, 304, and its problems.
 */
export const SNAPSHOT_READ_SCHEMA = {
  querystring: RedactedQuery,
  headers: ConditionalReadHeaders,
  response: {
    200: withHeaders(SnapshotDocument, SnapshotHeaders),
    304: {
      type: 'null',
      description: 'not modified: the ETag you sent still names the rev',
      headers: { ETag: SnapshotHeaders.ETag },
    },
    ...problems(400, 404, 409, 500),
  },
} as const

/**
 * Sends `snapshot` as the response body. `immutable` marks rev URLs (their
 * content never changes) for long caching; `current` must always revalidate.
 */
export function sendSnapshot(
  request: FastifyRequest,
  reply: FastifyReply,
  snapshot: Snapshot,
  immutable: boolean,
): FastifyReply {
  const redacted = (request.query as { redacted?: boolean } | undefined)?.redacted === true
  // The redacted view is another representation of the rev: its own validator, so caches never mix the two.
  const etag = redacted ? `"${snapshot.rev}+redacted"` : `"${snapshot.rev}"`
  reply.header('etag', etag)
  reply.header('unobin-rev', snapshot.rev)
  reply.header('unobin-payload-type', snapshot.payloadType)
  reply.header('cache-control', immutable ? 'private, max-age=31536000, immutable' : 'private, no-cache')
  const inm = request.headers['if-none-match']
  if (inm?.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
    return reply.code(304).send()
  }
  if (!redacted) return reply.code(200).type('application/json').send(snapshot.body)
  const { factory, stack } = request.params as { factory: string; stack: string }
  const doc = redactDocument(parseDocument(snapshot.rev, snapshot.payloadType, snapshot.body), `${factory}/${stack}`)
  reply.header('unobin-redacted', 'true')
  return reply
    .code(200)
    .type('application/json')
    .send(Buffer.from(`${JSON.stringify(doc, null, 2)}\n`))
}
