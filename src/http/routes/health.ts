/** Liveness (/healthz) and readiness (/readyz: data dir writable, keys loaded, not shutting down). */
import type { App } from '../app-type.js'
import type { RouteDeps } from '../context.js'
import { Health } from '../schemas.js'

/** Registers GET /healthz and GET /readyz. */
export function healthRoutes(app: App, deps: RouteDeps): void {
  app.get('/healthz', {
    config: { permission: 'public' },
    schema: { operationId: 'getLiveness', summary: 'Liveness', description: 'The process answers.', tags: ['health'], response: { 200: Health } },
  }, async () => ({ status: 'ok' }))

  app.get('/readyz', {
    config: { permission: 'public' },
    schema: { operationId: 'getReadiness', summary: 'Readiness', description: 'The data directory is writable, the keys are loaded and the server is not shutting down; 503 otherwise.', tags: ['health'], response: { 200: Health, 503: Health } },
  }, async (_request, reply) => {
    const checks: Record<string, string> = { encryption: deps.root.encrypter.describe().replace(/^(\S+).*$/, '$1'), dataDir: 'ok' }
    let ready = !deps.shutdown.aborted
    if (deps.shutdown.aborted) checks.server = 'shutting down'
    try {
      await deps.root.probeWritable() // through the store's filesystem: what writes would meet
    } catch (err) {
      ready = false
      checks.dataDir = `not writable (${(err as NodeJS.ErrnoException).code ?? 'error'})`
    }
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks })
  })
}
