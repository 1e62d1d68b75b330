import type { FastifyReply, FastifyRequest } from 'fastify'
import { StateError, isStateError } from '../../errors.js'
import { TERRAFORM_PAYLOAD } from '../../store/envelope.js'
import { type StateMeta, assertSuccessor, readStateMeta } from '../../terraform/state-meta.js'
import { parseStateMeta } from '../../parse/parse-pool.js'
import type { Snapshot } from '../../store/store.js'
import type { App } from '../app-type.js'
import { terraformLockRoutes } from './terraform-lock.js'
import { TERRAFORM_PATH, TERRAFORM_TAGS, checkContentMd5 } from './terraform-wire.js'
import { type RouteDeps, assertPermission, auditBase, storeOf, writeRecordOf } from '../context.js'
import {
  ContentMd5Headers,
  SnapshotHeaders,
  StackParams,
  TerraformQuery,
  TerraformStateDocument,
  TerraformWriteResponse,
  problems,
  withHeaders,
} from '../schemas.js'

/** Registers the Terraform-compatible routes of every stack. */
export function terraformRoutes(app: App, deps: RouteDeps): void {
  const path = TERRAFORM_PATH
  const tags = TERRAFORM_TAGS
  const metas = stateMetaMemo()

  app.get(
    path,
    {
      config: { permission: 'read', auditedRead: 'terraform.read' },
      schema: {
        operationId: 'terraformGetState',
        summary: 'Terraform: read the state',
        description:
          'The current state, byte-exact; 204 (no body) when the stack has no state. A stack whose current snapshot is not Terraform state answers 409. Unreadable state answers 500, never "no state".',
        tags,
        params: StackParams,
        headers: ContentMd5Headers,
        response: {
          200: withHeaders(TerraformStateDocument, {
            ETag: SnapshotHeaders.ETag,
            'Unobin-Rev': SnapshotHeaders['Unobin-Rev'],
          }),
          204: { type: 'null', description: 'no state yet' },
          ...problems(400, 409, 500),
        },
      },
    },
    async (request, reply) => {
      checkContentMd5(request)
      const store = storeOf(deps, request)
      let snapshot
      try {
        snapshot = await store.current()
      } catch (err) {
        if (isStateError(err, 'no-current')) return (reply as FastifyReply).code(204).send()
        throw err
      }
      assertTerraformPayload(snapshot.payloadType, request)
      reply.header('etag', `"${snapshot.rev}"`).header('unobin-rev', snapshot.rev)
      return reply.code(200).type('application/json').send(snapshot.body)
    },
  )

  const write = async (
    request: FastifyRequest<{
      Params: { factory: string; stack: string }
      Querystring: { ID?: string; force?: boolean }
    }>,
    reply: FastifyReply,
  ) => {
    const body = checkContentMd5(request)
    const store = storeOf(deps, request)
    const next = await parseStateMeta(body) // off the main thread when large
    const where = `${request.params.factory}/${request.params.stack}`
    const force = request.query.force === true
    if (force) assertPermission(request, 'admin')
    const lockId = request.query.ID === undefined || request.query.ID === '' ? undefined : request.query.ID
    const fence = { lockId, requireLock: deps.config.requireLock }
    // The rule runs in the store's critical section, against the current that this write replaces:
    // two writes racing from the same current cannot both pass it.
    const admit = (current: Snapshot | undefined): 'write' | 'unchanged' => {
      if (current === undefined) return 'write'
      if (current.payloadType !== TERRAFORM_PAYLOAD) {
        if (!force) assertTerraformPayload(current.payloadType, request)
        return 'write'
      }
      if (current.body.equals(body)) return 'unchanged' // a retried write (the fence still applied)
      assertSuccessor(metas.of(where, current), next, force, where, mayRead(request))
      return 'write'
    }
    const record = writeRecordOf(request, {
      kind: next.encrypted === true ? 'opaque' : 'terraform',
      serial: next.serial,
      lineage: next.lineage,
    })
    const written = await store.write(body, {
      payloadType: TERRAFORM_PAYLOAD,
      fence,
      makeCurrent: true,
      admit,
      record,
    })
    if (!written.written) return reply.code(200).send({ rev: written.rev, current: true })
    const rev = written.rev
    metas.remember(where, rev, next)
    await deps.audit.record({
      ...auditBase(request),
      action: 'terraform.write',
      rev,
      lockId: lockId ?? null,
      detail: {
        bytes: body.length,
        serial: next.serial,
        lineage: next.lineage,
        forced: force,
        current: written.current,
      },
    })
    return reply.code(200).send({ rev, current: written.current })
  }
  const writeSchema = {
    tags,
    params: StackParams,
    querystring: TerraformQuery,
    headers: ContentMd5Headers,
    body: TerraformStateDocument,
    response: { 200: TerraformWriteResponse, ...problems(400, 409, 413, 423, 428, 500, 507) },
  }
  app.post(
    path,
    {
      config: { permission: 'write', rawBody: true },
      schema: {
        ...writeSchema,
        operationId: 'terraformWriteState',
        summary: 'Terraform: write the state',
        description:
          'Stores the state byte-exact as a new rev and makes it current (update_method POST, the default). ?ID= is the lock id Terraform adds while it holds the lock. An identical retry answers 200 without a new rev. A different lineage or a lower serial is refused with 409 unless ?force=true.',
      },
    },
    write,
  )
  app.put(
    path,
    {
      config: { permission: 'write', rawBody: true },
      schema: {
        ...writeSchema,
        operationId: 'terraformPutState',
        summary: 'Terraform: write the state (update_method PUT)',
        description: 'Same as POST.',
      },
    },
    write,
  )

  app.delete(
    path,
    {
      config: { permission: 'delete', rawBody: true },
      schema: {
        operationId: 'terraformDeleteState',
        summary: 'Terraform: delete the state',
        description:
          'Clears current so later reads answer "no state"; every rev stays in the history and can be made current again. 200 only. While the stack is locked, ?ID= must name the lock (Terraform itself never sends it on DELETE).',
        tags,
        params: StackParams,
        querystring: TerraformQuery,
        headers: ContentMd5Headers,
        response: { 200: TerraformWriteResponse, ...problems(400, 423, 428, 500, 507) },
      },
    },
    async (request, reply) => {
      checkContentMd5(request)
      const lockId = request.query.ID === undefined || request.query.ID === '' ? undefined : request.query.ID
      const { previous } = await storeOf(deps, request).clearCurrent({
        fence: { lockId, requireLock: deps.config.requireLock },
      })
      await deps.audit.record({ ...auditBase(request), action: 'terraform.delete', rev: previous })
      return reply.code(200).send({ rev: previous, current: false })
    },
  )

  terraformLockRoutes(app, deps)
}

/**
 * Lineage and serial of stored revs, so a write compares against the current
 * state without parsing it again: the route records what it parsed when it
 * wrote a rev (revs are immutable). One per app (data dirs differ), bounded;
 * the oldest entries go first.
 */
function stateMetaMemo(entries = 1024): {
  of: (where: string, snapshot: Snapshot) => StateMeta
  remember: (where: string, rev: string, meta: StateMeta) => void
} {
  const byRev = new Map<string, StateMeta>()
  const remember = (where: string, rev: string, meta: StateMeta): void => {
    byRev.set(`${where}@${rev}`, meta)
    if (byRev.size > entries) byRev.delete(byRev.keys().next().value!)
  }
  const of = (where: string, snapshot: Snapshot): StateMeta => {
    let meta = byRev.get(`${where}@${snapshot.rev}`)
    if (meta === undefined) {
      meta = readStateMeta(snapshot.body)
      remember(where, snapshot.rev, meta)
    }
    return meta
  }
  return { of, remember }
}

/** Whether the caller may read the request's stack (always, without credentials). */
function mayRead(request: FastifyRequest): boolean {
  return request.hasPermission === null || request.hasPermission('read')
}

function assertTerraformPayload(payloadType: string, request: FastifyRequest): void {
  if (payloadType !== TERRAFORM_PAYLOAD) {
    const { factory, stack } = request.params as { factory: string; stack: string }
    throw new StateError(
      'payload-type-mismatch',
      `the current snapshot of ${factory}/${stack} is a ${payloadType} document, not Terraform state: use the native routes, or another stack for Terraform`,
    )
  }
}
