/**
 * The read audit (--audit-reads): a route that hands out state declares
 * it (`config.auditedRead`, the audit action), and each of its GETs that
 * answers 200 becomes an audit event with the principal, the stack, the
 * rev sent, the remote address and the request id — so "who downloaded
 * prod's state" has an answer. The event is recorded before the body
 * leaves. Routes opt in by declaration, not by URL, so a new download route
 * is audited by saying so where it is defined. A 304 (the caller already
 * holds that rev) and HEAD send no state and are not recorded; refused
 * requests are recorded by the auth layer (`auth.denied`).
 */
import type { FastifyRequest, onSendHookHandler } from 'fastify'
import type { AuditSink } from '../audit.js'
import type { App } from './app-type.js'
import { auditBase } from './context.js'

/** The audit action of each kind of download. */
export type AuditedRead = 'snapshot.read' | 'diff.read' | 'outputs.read' | 'terraform.read'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route hands out state: with --audit-reads, each GET answered 200 is an audit event with this action. */
    auditedRead?: AuditedRead
  }
}

/** What a handler adds to its read's audit event when the rev is not in the response headers (a diff's two revs). */
const readFacts = new WeakMap<FastifyRequest, { rev: string | null; detail: Record<string, unknown> }>()

/** Names the revs a read handed out, for its audit event (only needed where Unobin-Rev/ETag do not say it). */
export function noteReadRevs(request: FastifyRequest, rev: string | null, detail: Record<string, unknown>): void {
  readFacts.set(request, { rev, detail })
}

/**
 * Records audited reads in `audit`: a hook on each route that declares
 * `auditedRead` (the others carry nothing). Call before the routes are
 * registered; without `enabled` it does nothing.
 */
export function registerReadAudit(app: App, audit: AuditSink, enabled: boolean): void {
  if (!enabled) return
  app.addHook('onRoute', (route) => {
    const action = route.config?.auditedRead
    if (action === undefined) return
    const record: onSendHookHandler = async (request, reply, payload) => {
      if (request.method !== 'GET' || reply.statusCode !== 200) return payload
      const noted = readFacts.get(request)
      const sent = String(reply.getHeader('unobin-rev') ?? reply.getHeader('etag') ?? '').replace(/^"|"$/g, '')
      await audit.record({
        ...auditBase(request),
        action,
        rev: noted?.rev ?? (sent === '' ? null : sent),
        detail: { route: route.url, ...noted?.detail },
      })
      return payload
    }
    route.onSend = [route.onSend ?? []].flat().concat(record)
  })
}
