/**
 * The stack lock over HTTP: take (optionally waiting, long-poll), inspect,
 * renew a lease, unlock by id, and force-unlock with a reason.
 *
 * A waiter whose client goes away is dropped and never ends up holding the
 * lock; a shutdown ends every wait with 503 and Retry-After.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { StateError } from '../../errors.js'
import type { LockHolder } from '../../store/store.js'
import type { App } from '../app-type.js'
import { type RouteDeps, assertPermission, auditBase, principalOf, storeOf } from '../context.js'
import {
  Holder,
  LockIdHeaders,
  LockQuery,
  LockRequest,
  RenewRequest,
  StackParams,
  UnlockQuery,
  UnlockResponse,
  problems,
} from '../schemas.js'

/** Registers GET, POST, PUT and DELETE /v1/factories/:factory/stacks/:stack/lock. */
export function lockRoutes(app: App, deps: RouteDeps): void {
  const path = '/v1/factories/:factory/stacks/:stack/lock'

  app.get(
    path,
    {
      config: { permission: 'read' },
      schema: {
        operationId: 'getLock',
        summary: 'Who holds the lock',
        description: 'The holder, or 404 not-locked when the stack is free (an expired lease is free).',
        tags: ['lock'],
        params: StackParams,
        response: { 200: { ...Holder, description: 'the holder' }, ...problems(400, 404, 500) },
      },
    },
    async (request) => {
      const holder = await storeOf(deps, request).inspectLock()
      if (holder === undefined) {
        const { factory, stack } = request.params
        throw new StateError('not-locked', `${factory}/${stack} is not locked`)
      }
      return holder
    },
  )

  app.post(
    path,
    {
      config: { permission: 'lock' },
      schema: {
        operationId: 'lockStack',
        summary: 'Take the lock',
        description:
          'Body: what you claim about yourself (who, operation, info) and an optional lease (ttl seconds). ?wait=N blocks up to N seconds (capped by the server) for a held lock; closing the connection cancels the wait. 201 with the lock id and generation; 423 with the holder when it stays held.',
        tags: ['lock'],
        params: StackParams,
        querystring: LockQuery,
        body: LockRequest,
        response: {
          201: { ...Holder, description: 'taken: you are the holder (keep the id)' },
          ...problems(400, 415, 423, 500, 503, 507),
        },
      },
    },
    async (request, reply) => {
      const store = storeOf(deps, request)
      const waitMs = Math.min(request.query.wait ?? 0, deps.config.maxWaitSeconds) * 1000
      const gone = clientGone(request, reply)
      const signal = AbortSignal.any([gone.signal, deps.shutdown])
      let holder: LockHolder
      try {
        holder = await store.lock(
          { who: request.body?.who, operation: request.body?.operation, info: request.body?.info },
          { principal: principalOf(request), remote: request.ip },
          { ttlMs: request.body?.ttl === undefined ? undefined : request.body.ttl * 1000, waitMs, signal },
        )
      } catch (err) {
        if (deps.shutdown.aborted) {
          reply.header('connection', 'close') // else the client's keep-alive connection holds app.close() open for keepAliveTimeout (72 s)
          throw new StateError(
            'shutting-down',
            'the server is shutting down; retry the lock on another replica or after restart',
          )
        }
        if (gone.signal.aborted) return reply // the client left: nobody to answer, and no lock was left behind
        throw err
      } finally {
        gone.dispose()
      }
      if (gone.signal.aborted) {
        await store.unlock(holder.id).catch(() => {}) // acquired as the client left: release, never leak
        return reply
      }
      await deps.audit.record({
        ...auditBase(request),
        action: 'lock.acquire',
        lockId: holder.id,
        generation: holder.generation,
        detail: { who: holder.who, operation: holder.operation, expires: holder.expires },
      })
      return reply.code(201).send(holder)
    },
  )

  app.put(
    path,
    {
      config: { permission: 'lock' },
      schema: {
        operationId: 'renewLock',
        summary: 'Renew the lease',
        description:
          'Extends the lease of the lock you hold (id in the body or Lock-Id) to ttl seconds from now; without ttl the lock no longer expires.',
        tags: ['lock'],
        params: StackParams,
        headers: LockIdHeaders,
        body: RenewRequest,
        response: {
          200: { ...Holder, description: 'renewed: the holder with its new lease' },
          ...problems(400, 409, 415, 423, 500, 507),
        },
      },
    },
    async (request) => {
      const id = request.body.id ?? request.headers['lock-id']
      if (id === undefined || id === '')
        throw new StateError('invalid-request', 'name the lock to renew: {"id": "..."} or a Lock-Id header')
      const holder = await storeOf(deps, request).renew(
        id,
        request.body.ttl === undefined ? undefined : request.body.ttl * 1000,
      )
      await deps.audit.record({
        ...auditBase(request),
        action: 'lock.renew',
        lockId: id,
        generation: holder.generation,
        detail: { expires: holder.expires },
      })
      return holder
    },
  )

  app.delete(
    path,
    {
      config: { permission: 'lock' },
      schema: {
        operationId: 'unlockStack',
        summary: 'Unlock, or force-unlock',
        description:
          'Unlock with the id you hold (?id= or Lock-Id); a retry after success answers 200 again. ?force=true&reason=… removes the lock whoever holds it (force-unlock permission; audited) and answers with the removed holder.',
        tags: ['lock'],
        params: StackParams,
        querystring: UnlockQuery,
        headers: LockIdHeaders,
        response: { 200: UnlockResponse, ...problems(400, 409, 423, 500, 507) },
      },
    },
    async (request) => {
      const store = storeOf(deps, request)
      if (request.query.force === true) {
        assertPermission(request, 'force-unlock')
        const released = await store.forceUnlock({
          principal: principalOf(request),
          reason: request.query.reason ?? null,
        })
        await deps.audit.record({
          ...auditBase(request),
          action: 'lock.force-unlock',
          lockId: released?.id ?? null,
          generation: released?.generation ?? null,
          detail: { reason: request.query.reason ?? null, holder: released ?? null },
        })
        return { released: released ?? null, forced: true }
      }
      const id = request.query.id ?? request.headers['lock-id']
      if (id === undefined || id === '')
        throw new StateError(
          'invalid-request',
          'name the lock to release: ?id=… or a Lock-Id header (or ?force=true&reason=… to force-unlock)',
        )
      const released = await store.unlock(id)
      await deps.audit.record({
        ...auditBase(request),
        action: 'lock.release',
        lockId: id,
        generation: released.generation,
      })
      return { released, forced: false }
    },
  )
}

/** An AbortController that aborts when the client closes the connection before we answer. */
function clientGone(request: FastifyRequest, reply: FastifyReply): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController()
  const onClose = () => {
    if (!reply.raw.writableEnded) controller.abort(new Error('client closed the connection'))
  }
  const socket = request.raw.socket
  socket.once('close', onClose)
  reply.raw.once('close', onClose)
  return {
    signal: controller.signal,
    dispose: () => {
      socket.off('close', onClose)
      reply.raw.off('close', onClose)
    },
  }
}
