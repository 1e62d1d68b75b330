/** The current pointer: read the current snapshot (with ETag), and move it (rollback). */
import { StateError } from '../../errors.js'
import type { App } from '../app-type.js'
import { type RouteDeps, auditBase, fenceOf, storeOf } from '../context.js'
import { SetCurrentHeaders, SetCurrentRequest, SetCurrentResponse, StackParams, problems } from '../schemas.js'
import { SNAPSHOT_READ_SCHEMA, sendSnapshot } from './snapshot-reply.js'

/** Registers GET and PUT /v1/factories/:factory/stacks/:stack/current. */
export function currentRoutes(app: App, deps: RouteDeps): void {
  app.get(
    '/v1/factories/:factory/stacks/:stack/current',
    {
      config: { permission: 'read', auditedRead: 'snapshot.read' },
      schema: {
        operationId: 'getCurrent',
        summary: 'Read the current snapshot',
        description:
          'The body is the snapshot exactly as written (with ?redacted=true: without its sensitive values, ETag "<rev>+redacted", header Unobin-Redacted). ETag is the rev; If-None-Match with it answers 304. A stack without current answers 404 no-current; an unreadable snapshot answers 500, never "no state".',
        tags: ['current'],
        params: StackParams,
        ...SNAPSHOT_READ_SCHEMA,
      },
    },
    async (request, reply) => {
      const snapshot = await storeOf(deps, request).current()
      return sendSnapshot(request, reply, snapshot, false)
    },
  )

  app.put(
    '/v1/factories/:factory/stacks/:stack/current',
    {
      config: { permission: 'write' },
      schema: {
        operationId: 'setCurrent',
        summary: 'Point current at a stored rev (rollback)',
        description:
          "If-Match (the rev you believe is current, quoted or not) makes it a compare-and-swap: 412 when current moved. While the stack is locked, send the holder's Lock-Id.",
        tags: ['current'],
        params: StackParams,
        headers: SetCurrentHeaders,
        body: SetCurrentRequest,
        response: { 200: SetCurrentResponse, ...problems(400, 404, 409, 412, 415, 423, 428, 500, 507) },
      },
    },
    async (request) => {
      const store = storeOf(deps, request)
      const ifMatch = parseIfMatch(request.headers['if-match'])
      const options = { fence: fenceOf(deps, request), ...(ifMatch === undefined ? {} : { ifMatch }) }
      const { previous } = await store.setCurrent(request.body.rev, options)
      await deps.audit.record({
        ...auditBase(request),
        action: 'current.set',
        rev: request.body.rev,
        lockId: options.fence.lockId ?? null,
        detail: { previous },
      })
      return { rev: request.body.rev, previous }
    },
  )
}

/** The rev an If-Match header names (quotes and W/ stripped); undefined when absent. */
function parseIfMatch(header: string | undefined): string | null | undefined {
  if (header === undefined) return undefined
  const value = header
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1')
  if (value === '*')
    throw new StateError('invalid-request', 'If-Match: * is not supported here: send the rev you believe is current')
  return value === '' ? null : value
}
