/**
 * Terraform/OpenTofu locking on a stack: LOCK and UNLOCK on `…/terraform`
 * (the clients' default methods) and POST/DELETE on `…/terraform/lock` (the
 * GitLab-style configuration). A conflict answers 423 with the holder's
 * LockInfo, retries of a lock or unlock answer 200, and an empty or ID-only
 * UNLOCK body is the clients' force-unlock.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { TSchema } from 'typebox'
import { StateError, isStateError } from '../../errors.js'
import { holderLockInfo, isIdOnly, parseLockInfo } from '../../terraform/lock-info.js'
import type { Store } from '../../store/store.js'
import type { App } from '../app-type.js'
import { TERRAFORM_PATH, TERRAFORM_TAGS, checkContentMd5 } from './terraform-wire.js'
import { type RouteDeps, assertPermission, auditBase, principalOf, storeOf } from '../context.js'
import { ContentMd5Headers, LockInfo, StackParams, TerraformStateDocument, problems } from '../schemas.js'

/** Registers the Terraform lock routes of every stack. */
export function terraformLockRoutes(app: App, deps: RouteDeps): void {
  const path = TERRAFORM_PATH
  const tags = TERRAFORM_TAGS
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

/** Answers a refused lock as the clients need it: 423 with the holder's LockInfo. */
async function sendConflict(reply: FastifyReply, store: Store, err: StateError): Promise<FastifyReply> {
  const holder = (err.details.holder as Parameters<typeof holderLockInfo>[0] | undefined) ?? (await store.inspectLock())
  if (holder === undefined) throw err
  return reply.code(423).type('application/json').send(holderLockInfo(holder))
}
