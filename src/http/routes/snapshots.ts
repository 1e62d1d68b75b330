/** Snapshots: write (201 + Location), list (paged), read one, delete, and gc. */
import { UNOBIN_PAYLOAD } from '../../store/envelope.js'
import type { RevMeta } from '../../store/store.js'
import { assertRev, compareRevs } from '../../store/rev.js'
import { isStateError } from '../../errors.js'
import type { App } from '../app-type.js'
import { type RouteDeps, auditBase, fenceOf, storeOf, writeRecordOf } from '../context.js'
import {
  DeleteQuery,
  DeleteResponse,
  GcRequest,
  GcResponse,
  ListQuery,
  ListResponse,
  LockIdHeaders,
  NewRevLocation,
  RevParams,
  SnapshotDocument,
  StackParams,
  WriteQuery,
  WriteResponse,
  problems,
  withHeaders,
} from '../schemas.js'
import { SNAPSHOT_READ_SCHEMA, sendSnapshot } from './snapshot-reply.js'

/** Registers the snapshot routes of a stack. */
export function snapshotRoutes(app: App, deps: RouteDeps): void {
  const base = '/v1/factories/:factory/stacks/:stack/snapshots'

  app.post(
    base,
    {
      config: { permission: 'write', rawBody: true },
      schema: {
        operationId: 'writeSnapshot',
        summary: 'Write a snapshot',
        description:
          "Stores the body (an unobin snapshot, validated with the Go tool's rules) byte-exact under a new rev. ?current=true also makes it current. While the stack is locked, send the holder's Lock-Id.",
        tags: ['snapshots'],
        params: StackParams,
        querystring: WriteQuery,
        headers: LockIdHeaders,
        body: SnapshotDocument,
        response: {
          201: withHeaders(WriteResponse, { Location: NewRevLocation }),
          ...problems(400, 409, 413, 415, 422, 423, 428, 500, 507),
        },
      },
    },
    async (request, reply) => {
      const store = storeOf(deps, request)
      const fence = fenceOf(deps, request)
      const makeCurrent = request.query.current === true
      const { rev, current } = await store.write(request.rawBody ?? Buffer.alloc(0), {
        payloadType: UNOBIN_PAYLOAD,
        fence,
        makeCurrent,
        record: writeRecordOf(request, { kind: 'unobin' }),
      })
      await deps.audit.record({
        ...auditBase(request),
        action: 'snapshot.write',
        rev,
        lockId: fence.lockId ?? null,
        detail: { bytes: request.rawBody?.length ?? 0, current },
      })
      const { factory, stack } = request.params
      reply.header('location', `/v1/factories/${factory}/stacks/${stack}/snapshots/${rev}`)
      return reply.code(201).send({ rev, current })
    },
  )

  app.get(
    base,
    {
      config: { permission: 'read' },
      schema: {
        operationId: 'listRevs',
        summary: 'List revs',
        description:
          'Revs oldest first (newest first with ?order=desc), with the current one named. Page with ?limit= and ?after= (the `next` of the previous page). ?detail=true adds `history`: each rev with who wrote it (principal, remote address, request id, the lock held), its size, SHA-256, kind and Terraform serial/lineage; `metadata` is null for a rev written by another tool.',
        tags: ['snapshots'],
        params: StackParams,
        querystring: ListQuery,
        response: { 200: ListResponse, ...problems(400, 500) },
      },
    },
    async (request) => {
      const store = storeOf(deps, request)
      const [all, current] = await Promise.all([
        store.list(),
        store.currentRev().catch((err: unknown) => {
          if (isStateError(err, 'no-current')) return null
          throw err
        }),
      ])
      const { after, order = 'asc', detail = false } = request.query
      if (after !== undefined) assertRev(after) // the pattern admits non-canonical instants (hour 24, day 32)
      const limit = request.query.limit ?? 1000
      const ordered = order === 'desc' ? all.reverse() : all
      const sign = order === 'desc' ? -1 : 1
      const rest = after === undefined ? ordered : ordered.filter((r) => sign * compareRevs(r, after) > 0)
      const revs = rest.slice(0, limit)
      const next = rest.length > limit ? revs[revs.length - 1]! : null
      if (!detail) return { revs, current, next }
      const metas = await store.describe(revs)
      const history = revs.map((rev, i) => ({ rev, current: rev === current, metadata: metadataOf(metas[i] ?? null) }))
      return { revs, current, next, history }
    },
  )

  app.get(
    `${base}/:rev`,
    {
      config: { permission: 'read', auditedRead: 'snapshot.read' },
      schema: {
        operationId: 'getSnapshot',
        summary: 'Read one rev',
        description:
          'The snapshot exactly as written (with ?redacted=true: without its sensitive values, ETag "<rev>+redacted", header Unobin-Redacted; 409 opaque-state for a client-encrypted state). Revs are immutable, so the answer may be cached for long.',
        tags: ['snapshots'],
        params: RevParams,
        ...SNAPSHOT_READ_SCHEMA,
      },
    },
    async (request, reply) => sendSnapshot(request, reply, await storeOf(deps, request).get(request.params.rev), true),
  )

  app.delete(
    `${base}/:rev`,
    {
      config: { permission: 'delete' },
      schema: {
        operationId: 'deleteSnapshot',
        summary: 'Delete one rev',
        description:
          'Idempotent: deleting an absent rev answers 200 with deleted=false. The current rev is refused (409) unless ?force=true, which also clears current.',
        tags: ['snapshots'],
        params: RevParams,
        querystring: DeleteQuery,
        headers: LockIdHeaders,
        response: { 200: DeleteResponse, ...problems(400, 409, 423, 428, 500, 507) },
      },
    },
    async (request) => {
      const fence = fenceOf(deps, request)
      const result = await storeOf(deps, request).delete(request.params.rev, {
        fence,
        force: request.query.force === true,
      })
      await deps.audit.record({
        ...auditBase(request),
        action: 'snapshot.delete',
        rev: request.params.rev,
        lockId: fence.lockId ?? null,
        detail: result,
      })
      return { rev: request.params.rev, ...result }
    },
  )

  app.post(
    `${base}::gc`,
    {
      config: { permission: 'delete' },
      schema: {
        operationId: 'gcSnapshots',
        summary: 'Delete old revs',
        description:
          'Keeps the newest `keep` revs and the current one; deletes the rest. dryRun reports without deleting.',
        tags: ['snapshots'],
        params: StackParams,
        headers: LockIdHeaders,
        body: GcRequest,
        response: { 200: GcResponse, ...problems(400, 415, 423, 428, 500, 507) },
      },
    },
    async (request) => {
      const fence = fenceOf(deps, request)
      const dryRun = request.body.dryRun === true
      const result = await storeOf(deps, request).gc({ keep: request.body.keep, dryRun, fence })
      if (!dryRun)
        await deps.audit.record({
          ...auditBase(request),
          action: 'snapshot.gc',
          lockId: fence.lockId ?? null,
          detail: { keep: request.body.keep, deleted: result.deleted },
        })
      return { ...result, dryRun }
    },
  )
}

/** The metadata as the API shows it: the record without the rev (the entry names it). */
function metadataOf(meta: RevMeta | null): Omit<RevMeta, 'rev'> | null {
  if (meta === null) return null
  const { rev: _rev, ...rest } = meta
  return rest
}
