/**
 * GET …/outputs[?rev=]: only the outputs of a rev (current by default),
 * sensitive ones redacted. Its own permission, `outputs` (which `read`
 * includes), lets a downstream pipeline read another stack's outputs without
 * being able to download its state.
 */
import { outputsOf } from '../../diff/outputs.js'
import type { App } from '../app-type.js'
import { OutputsQuery, OutputsResponse } from '../console-schemas.js'
import { type RouteDeps, storeOf } from '../context.js'
import { StackParams, problems } from '../schemas.js'
import { loadDocument, revOrCurrent } from './document-load.js'

/** Registers GET /v1/factories/:factory/stacks/:stack/outputs. */
export function outputsRoutes(app: App, deps: RouteDeps): void {
  app.get(
    '/v1/factories/:factory/stacks/:stack/outputs',
    {
      config: { permission: 'outputs', auditedRead: 'outputs.read' },
      schema: {
        operationId: 'getOutputs',
        summary: 'Read the outputs of a rev',
        description:
          'The outputs of the current rev (or ?rev=) of an unobin snapshot or a Terraform state, by name, each with its value, whether it is sensitive and its Terraform type. Sensitive outputs show "(sensitive)". Needs the `outputs` permission (or `read`, which includes it). 404 no-current or rev-not-found; 409 opaque-state for a state encrypted by its client.',
        tags: ['snapshots'],
        params: StackParams,
        querystring: OutputsQuery,
        response: { 200: OutputsResponse, ...problems(400, 404, 409, 500) },
      },
    },
    async (request, reply) => {
      const store = storeOf(deps, request)
      const doc = await loadDocument(store, await revOrCurrent(store, request.query.rev))
      const { factory, stack } = request.params
      const outputs = outputsOf(doc, `${factory}/${stack}`)
      reply.header(
        'cache-control',
        request.query.rev === undefined ? 'private, no-cache' : 'private, max-age=31536000, immutable',
      )
      reply.header('etag', `"${doc.rev}"`)
      return { rev: doc.rev, kind: doc.kind === 'terraform' ? ('terraform' as const) : ('unobin' as const), outputs }
    },
  )
}
