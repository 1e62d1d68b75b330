/**
 * Key rotation over HTTP: re-seal every rev of a stack (and its trash) with
 * the sealing key. The whole tree is re-sealed by the `reseal` command,
 * which reports progress as it goes; both are resumable.
 */
import { describeRef } from '../../crypto/encrypter.js'
import { resealTree } from '../../store/reseal.js'
import type { App } from '../app-type.js'
import { type RouteDeps, auditBase } from '../context.js'
import { ResealResponse, StackParams, problems } from '../schemas.js'

/** Registers POST …/snapshots:reseal. */
export function adminRoutes(app: App, deps: RouteDeps): void {
  app.post(
    '/v1/factories/:factory/stacks/:stack/snapshots::reseal',
    {
      config: { permission: 'admin' },
      schema: {
        operationId: 'resealStack',
        summary: 'Re-seal every rev with the sealing key',
        description:
          'Key rotation: opens each rev (and each trash entry) with any configured key and replaces it, atomically and under the same name, by the same snapshot sealed with the sealing key. Revs already sealed with it are skipped, so a rerun resumes an interrupted run. Revs no configured key opens are reported in `failed` and left as they are. Content and current do not change, so no lock is needed. For the whole tree run `unobin-state-server reseal`.',
        tags: ['operations'],
        params: StackParams,
        response: { 200: ResealResponse, ...problems(400, 500, 507) },
      },
    },
    async (request) => {
      const { factory, stack } = request.params
      const report = await resealTree(deps.root, { factory, stack })
      const failed = report.failures.map((f) => ({ rev: f.rev, trashed: f.trashed, detail: f.detail ?? '' }))
      const sealedWith = describeRef(deps.root.encrypter.ref)
      await deps.audit.record({
        ...auditBase(request),
        action: 'snapshot.reseal',
        detail: { resealed: report.resealed, skipped: report.skipped, failed: report.failed, sealedWith },
      })
      return { resealed: report.resealed, skipped: report.skipped, failed, sealedWith }
    },
  )
}
