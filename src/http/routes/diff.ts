/**
 * GET …/diff?from=&to=: what changed between two revs of a stack, as JSON
 * (addresses added, removed or changed, field by field; outputs; the
 * document's own fields) or, with `Accept: text/plain`, as a compact human
 * diff. Sensitive values are replaced by a marker before they leave.
 */
import { diffDocuments } from '../../diff/diff.js'
import { renderDiffText } from '../../diff/render-text.js'
import type { App } from '../app-type.js'
import { DiffQuery, DiffResponse } from '../console-schemas.js'
import { type RouteDeps, storeOf } from '../context.js'
import { noteReadRevs } from '../read-audit.js'
import { StackParams, problems } from '../schemas.js'
import { loadPair, revBefore, revOrCurrent } from './document-load.js'

/** Registers GET /v1/factories/:factory/stacks/:stack/diff. */
export function diffRoutes(app: App, deps: RouteDeps): void {
  app.get(
    '/v1/factories/:factory/stacks/:stack/diff',
    {
      config: { permission: 'read', auditedRead: 'diff.read' },
      schema: {
        operationId: 'getDiff',
        summary: 'Diff two revs',
        description:
          'Compares rev `from` with rev `to` (defaults: `to` = current, `from` = the rev before `to`; the first rev diffs against nothing). unobin snapshots compare entries by address; Terraform states compare resource instances by module, mode, type, name and key, attribute by attribute, plus outputs, serial and lineage. Sensitive outputs and attributes (`sensitive_attributes`) show "(sensitive)". A state encrypted by its client answers comparable=false with both sizes. `Accept: text/plain` answers a human diff (+, -, ~ lines grouped by address). 404 rev-not-found for an unknown rev, 404 no-current without `to` on a stack without current, 409 incomparable-revs for an unobin snapshot against a Terraform state.',
        tags: ['snapshots'],
        params: StackParams,
        querystring: DiffQuery,
        response: {
          200: {
            description: 'the diff',
            content: {
              'application/json': { schema: DiffResponse },
              'text/plain': { schema: { type: 'string', description: 'the human diff' } },
            },
          },
          ...problems(400, 404, 409, 500),
        },
      },
    },
    async (request, reply) => {
      const store = storeOf(deps, request)
      const toRev = await revOrCurrent(store, request.query.to)
      const fromRev = request.query.from ?? (await revBefore(store, toRev))
      const { to, from } = await loadPair(store, toRev, fromRev)
      const diff = diffDocuments(from, to)
      noteReadRevs(request, toRev, { from: fromRev })
      const pinned = request.query.from !== undefined && request.query.to !== undefined
      reply.header('cache-control', pinned ? 'private, max-age=31536000, immutable' : 'private, no-cache')
      reply.header('vary', 'accept')
      if (prefersText(request.headers.accept))
        return reply.code(200).type('text/plain; charset=utf-8').send(renderDiffText(diff))
      return reply
        .code(200)
        .type('application/json; charset=utf-8')
        .send(diff as never) // readonly arrays of the same shape as DiffResponse
    },
  )
}

/**
 * True when `accept` prefers text/plain over JSON (by q-value; JSON wins
 * ties and `*\/*`, so browsers' fetch and curl's default get JSON).
 */
export function prefersText(accept: string | undefined): boolean {
  if (accept === undefined) return false
  let text = -1
  let json = -1
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part
      .trim()
      .toLowerCase()
      .split(';')
      .map((s) => s.trim())
    const qParam = params.find((p) => p.startsWith('q='))
    const q = qParam === undefined ? 1 : Number(qParam.slice(2))
    if (!Number.isFinite(q)) continue
    if (type === 'text/plain' || type === 'text/*') text = Math.max(text, q)
    if (type === 'application/json' || type === 'application/*' || type === '*/*') json = Math.max(json, q)
  }
  return text > 0 && text > json
}
