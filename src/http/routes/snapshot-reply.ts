/** Sending a stored snapshot: byte-exact body, ETag = rev, conditional GET. */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Snapshot } from '../../store/store.js'

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
  const etag = `"${snapshot.rev}"`
  reply.header('etag', etag)
  reply.header('unobin-rev', snapshot.rev)
  reply.header('unobin-payload-type', snapshot.payloadType)
  reply.header('cache-control', immutable ? 'private, max-age=31536000, immutable' : 'private, no-cache')
  const inm = request.headers['if-none-match']
  if (inm?.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
    return reply.code(304).send()
  }
  return reply.code(200).type('application/json').send(snapshot.body)
}
