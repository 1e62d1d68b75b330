/**
 * Retention over HTTP: prune a stack by a policy (revs go to the stack's
 * trash), list the trash, and restore a rev from it. The server's
 * configured policy applies when a prune names none; expired trash entries
 * are purged at every prune.
 */
import { parseRev } from '../../store/rev.js'
import { formatInstant } from '../../time/instant.js'
import { type RetentionSettings, pruneStack } from '../../store/retention.js'
import type { App } from '../app-type.js'
import { type RouteDeps, auditBase, fenceOf, storeOf } from '../context.js'
import {
  LockIdHeaders,
  PruneRequest,
  PruneResponse,
  RestoreRequest,
  RestoreResponse,
  StackParams,
  TrashResponse,
  problems,
} from '../schemas.js'

/** Registers POST …/snapshots:prune, GET …/trash and POST …/snapshots:restore. */
export function retentionRoutes(app: App, deps: RouteDeps, settings: RetentionSettings): void {
  const stackPath = '/v1/factories/:factory/stacks/:stack'
  const purgeAfter = (deletedAt: string): string =>
    formatInstant((parseRev(deletedAt)?.nanos ?? 0n) + BigInt(settings.trashWindowMs) * 1_000_000n)

  app.post(
    `${stackPath}/snapshots::prune`,
    {
      config: { permission: 'delete' },
      schema: {
        operationId: 'pruneSnapshots',
        summary: 'Prune old revs into the trash',
        description:
          "Moves every rev the policy does not keep into the stack's trash (restorable until purged). A rev is kept when any rule keeps it: the current and the newest rev always, the newest `keep`, and revs younger than `maxAge` seconds. Without keep and maxAge the server's configured policy applies (400 when there is none). Also purges trash entries past the trash window. dryRun reports without changing anything. While the stack is locked, send the holder's Lock-Id.",
        tags: ['snapshots'],
        params: StackParams,
        headers: LockIdHeaders,
        body: PruneRequest,
        response: { 200: PruneResponse, ...problems(400, 415, 423, 428, 500, 507) },
      },
    },
    async (request) => {
      const fence = fenceOf(deps, request)
      const dryRun = request.body.dryRun === true
      const given = request.body.keep !== undefined || request.body.maxAge !== undefined
      const policy = given
        ? {
            keep: request.body.keep ?? null,
            maxAgeMs: request.body.maxAge === undefined ? null : request.body.maxAge * 1000,
          }
        : (settings.policy ?? { keep: null, maxAgeMs: null })
      const result = await pruneStack(storeOf(deps, request), policy, settings.trashWindowMs, { dryRun, fence })
      if (!dryRun)
        await deps.audit.record({
          ...auditBase(request),
          action: 'snapshot.prune',
          lockId: fence.lockId ?? null,
          detail: {
            keep: policy.keep,
            maxAgeMs: policy.maxAgeMs,
            trashed: result.trashed,
            purged: result.purged.map((e) => e.rev),
          },
        })
      return {
        trashed: result.trashed,
        kept: result.kept,
        purged: result.purged.map((e) => ({ ...e, purgeAfter: purgeAfter(e.deletedAt) })),
        policy: { keep: policy.keep, maxAge: policy.maxAgeMs === null ? null : Math.round(policy.maxAgeMs / 1000) },
        dryRun,
      }
    },
  )

  app.get(
    `${stackPath}/trash`,
    {
      config: { permission: 'read' },
      schema: {
        operationId: 'listTrash',
        summary: 'List the trash',
        description:
          'Revs a prune moved out of the history, with when they may be purged. Restore one with POST …/snapshots:restore.',
        tags: ['snapshots'],
        params: StackParams,
        response: { 200: TrashResponse, ...problems(400, 500) },
      },
    },
    async (request) => {
      const entries = await storeOf(deps, request).trashed()
      return {
        revs: entries.map((e) => ({ ...e, purgeAfter: purgeAfter(e.deletedAt) })),
        windowDays: settings.trashWindowMs / 86_400_000,
      }
    },
  )

  app.post(
    `${stackPath}/snapshots::restore`,
    {
      config: { permission: 'delete' },
      schema: {
        operationId: 'restoreSnapshot',
        summary: 'Restore a rev from the trash',
        description:
          "Puts a pruned rev back into the history under its own name; current does not move (PUT …/current to roll back to it). 404 rev-not-found when the trash does not hold it. While the stack is locked, send the holder's Lock-Id.",
        tags: ['snapshots'],
        params: StackParams,
        headers: LockIdHeaders,
        body: RestoreRequest,
        response: { 200: RestoreResponse, ...problems(400, 404, 415, 423, 428, 500, 507) },
      },
    },
    async (request) => {
      const fence = fenceOf(deps, request)
      const entry = await storeOf(deps, request).restore(request.body.rev, { fence })
      await deps.audit.record({
        ...auditBase(request),
        action: 'snapshot.restore',
        rev: entry.rev,
        lockId: fence.lockId ?? null,
        detail: { deletedAt: entry.deletedAt },
      })
      return { rev: entry.rev, deletedAt: entry.deletedAt, restored: true }
    },
  )
}
