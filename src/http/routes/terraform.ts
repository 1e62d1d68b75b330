/**
 * Terraform/OpenTofu `http` backend compatibility on the same stacks:
 * `…/terraform` answers GET (state or "no state"), POST/PUT (write), DELETE,
 * LOCK and UNLOCK; `…/terraform/lock` answers POST (lock) and DELETE (unlock)
 * for GitLab-style configurations. Every answer follows what the clients
 * accept (see README): 200-only for LOCK/UNLOCK/DELETE, the holder's LockInfo
 * with 423 on a conflict, idempotent retries, Content-MD5 checked when sent.
 */
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { TSchema } from 'typebox'
import { StateError, isStateError } from '../../errors.js'
import { TERRAFORM_PAYLOAD } from '../../store/envelope.js'
import { holderLockInfo, isIdOnly, parseLockInfo } from '../../terraform/lock-info.js'
import { type StateMeta, assertSuccessor, readStateMeta } from '../../terraform/state-meta.js'
import { parseStateMeta } from '../../parse/parse-pool.js'
import type { Snapshot, Store } from '../../store/store.js'
import type { App } from '../app-type.js'
import { type RouteDeps, assertPermission, auditBase, principalOf, storeOf, writeRecordOf } from '../context.js'
import {
  ContentMd5Headers,
  LockInfo,
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
  const path = '/v1/factories/:factory/stacks/:stack/terraform'
  const tags = ['terraform']
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

  const lock = async (request: FastifyRequest<{ Params: { factory: string; stack: string } }>, reply: FastifyReply) => {
    const body = checkContentMd5(request)
    const info = parseLockInfo(body)
    if (info === undefined || info.ID === '')
      throw new StateError('invalid-request', 'the lock body must be a LockInfo with a non-empty ID')
    const store = storeOf(deps, request)
    try {
      const holder = await store.lock(
        { id: info.ID, who: info.Who, operation: info.Operation, info: info.Info, client: { ...info } },
        { principal: principalOf(request), remote: request.ip },
      )
      await deps.audit.record({
        ...auditBase(request),
        action: 'lock.acquire',
        lockId: holder.id,
        generation: holder.generation,
        detail: { who: info.Who, operation: info.Operation, via: 'terraform' },
      })
      return reply.code(200).type('application/json').send(holderLockInfo(holder))
    } catch (err) {
      if (isStateError(err, 'locked')) return sendConflict(reply, store, err)
      throw err
    }
  }

  const unlock = async (
    request: FastifyRequest<{ Params: { factory: string; stack: string } }>,
    reply: FastifyReply,
  ) => {
    const body = checkContentMd5(request)
    const info = parseLockInfo(body)
    const store = storeOf(deps, request)
    if (info === undefined || info.ID === '' || isIdOnly(info)) {
      // Terraform's force-unlock sends an empty body; OpenTofu's sends the ID alone.
      assertPermission(request, 'force-unlock')
      const holder = await store.inspectLock()
      if (info !== undefined && info.ID !== '' && holder !== undefined && holder.id !== info.ID)
        return sendConflict(
          reply,
          store,
          new StateError('locked', `the lock is held by ${holder.id}, not ${info.ID}`, { holder }),
        )
      if (holder === undefined && info !== undefined && info.ID !== '') {
        if ((await store.lastRelease())?.holder.id !== info.ID) await store.unlock(info.ID) // a retried force-unlock of a lock already released (by unlock or force) answers 200; an unknown id 409
        return reply.code(200).send()
      }
      const released = await store.forceUnlock({ principal: principalOf(request), reason: 'terraform force-unlock' })
      await deps.audit.record({
        ...auditBase(request),
        action: 'lock.force-unlock',
        lockId: released?.id ?? null,
        generation: released?.generation ?? null,
        detail: { via: 'terraform', holder: released ?? null },
      })
      return reply.code(200).send()
    }
    try {
      const released = await store.unlock(info.ID)
      await deps.audit.record({
        ...auditBase(request),
        action: 'lock.release',
        lockId: info.ID,
        generation: released.generation,
        detail: { via: 'terraform' },
      })
      return reply.code(200).send()
    } catch (err) {
      if (isStateError(err, 'locked')) return sendConflict(reply, store, err)
      // An old holder unlocking after its lock expired or was force-unlocked:
      // 409, not the native route's 423 `lock-lost`. The wire notes answer an
      // unlock that does not match the lock with 409, and to these clients 423
      // means "someone holds it, here is the LockInfo": after a force-unlock
      // the stack may well be free, and a problem body is no LockInfo. The
      // client fails either way; 409 is the answer whose meaning is true.
      if (isStateError(err, 'lock-lost'))
        throw new StateError('lock-not-held', `${err.message} (this unlock changes nothing)`, err.details)
      throw err
    }
  }

  // Locking answers 409 only for an id the stack granted before (lock-id-reused); unlocking an unknown ID answers 409 too.
  const lockSchema = (operationId: string, summary: string, description: string, statuses: number[], ok: TSchema) => ({
    operationId,
    summary,
    description,
    tags,
    params: StackParams,
    headers: ContentMd5Headers,
    body: TerraformStateDocument,
    response: {
      200: ok,
      423: {
        ...LockInfo,
        description: "held by another: the holder's LockInfo (the clients print it and, under -lock-timeout, retry)",
      },
      ...problems(...statuses),
    },
  })
  const LOCK_PROBLEMS = [400, 409, 500, 507]
  const UNLOCK_PROBLEMS = [400, 409, 500, 507]
  const LOCKED = { ...LockInfo, description: 'taken (or already held with the same ID): the LockInfo of the lock' }
  const UNLOCKED = { type: 'null', description: 'released (or already released: a retry)' } as const
  // LockInfo bodies are a few hundred bytes: anything over --lock-body-limit is refused (413) before it is read whole.
  const bodyLimit = deps.config.lockBodyLimitBytes
  const LOCK_DESCRIPTION =
    "Body: Terraform's LockInfo. 200 when taken (or already held by the same ID); 423 with the holder's LockInfo when held, so -lock-timeout retries."
  const UNLOCK_DESCRIPTION =
    'Body: the LockInfo sent to lock; 200 (again on a retry). An empty body (Terraform force-unlock) or an ID-only body (OpenTofu force-unlock) force-unlocks and needs the force-unlock permission.'
  // LOCK and UNLOCK are the methods Terraform sends by default; OpenAPI 3.2 lists them under additionalOperations.
  app.route({
    method: 'LOCK',
    url: path,
    bodyLimit,
    config: { permission: 'lock', rawBody: true },
    schema: lockSchema(
      'terraformLock',
      'Terraform: lock (the default lock_method)',
      LOCK_DESCRIPTION,
      LOCK_PROBLEMS,
      LOCKED,
    ),
    handler: lock,
  })
  app.route({
    method: 'UNLOCK',
    url: path,
    bodyLimit,
    config: { permission: 'lock', rawBody: true },
    schema: lockSchema(
      'terraformUnlock',
      'Terraform: unlock (the default unlock_method)',
      UNLOCK_DESCRIPTION,
      UNLOCK_PROBLEMS,
      UNLOCKED,
    ),
    handler: unlock,
  })
  app.post(
    `${path}/lock`,
    {
      bodyLimit,
      config: { permission: 'lock', rawBody: true },
      schema: lockSchema(
        'terraformLockAddress',
        'Terraform: lock (GitLab-style lock_address)',
        `${LOCK_DESCRIPTION} Same as LOCK on …/terraform.`,
        LOCK_PROBLEMS,
        LOCKED,
      ),
    },
    lock,
  )
  app.delete(
    `${path}/lock`,
    {
      bodyLimit,
      config: { permission: 'lock', rawBody: true },
      schema: lockSchema(
        'terraformUnlockAddress',
        'Terraform: unlock (GitLab-style unlock_address)',
        `${UNLOCK_DESCRIPTION} Same as UNLOCK on …/terraform.`,
        UNLOCK_PROBLEMS,
        UNLOCKED,
      ),
    },
    unlock,
  )
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

/** Answers a refused lock as the clients need it: 423 with the holder's LockInfo. */
async function sendConflict(reply: FastifyReply, store: Store, err: StateError): Promise<FastifyReply> {
  const holder = (err.details.holder as Parameters<typeof holderLockInfo>[0] | undefined) ?? (await store.inspectLock())
  if (holder === undefined) throw err
  return reply.code(423).type('application/json').send(holderLockInfo(holder))
}

/** Checks Content-MD5 when sent (400 on mismatch, never required); returns the raw body. */
function checkContentMd5(request: FastifyRequest): Buffer {
  const body = request.rawBody ?? Buffer.alloc(0)
  const sent = request.headers['content-md5']
  if (typeof sent === 'string' && sent !== '') {
    const actual = createHash('md5').update(body).digest('base64')
    if (sent.trim() !== actual)
      throw new StateError(
        'content-md5-mismatch',
        `Content-MD5 ${sent} does not match the body (${actual}): the body was altered in transit; nothing was changed`,
      )
  }
  return body
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
