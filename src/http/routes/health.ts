/**
 * Liveness (/healthz: the process answers) and readiness (/readyz: the data
 * directory takes a write, the keys are loaded, the server is not shutting
 * down). Readiness details (which check failed, the encryption mode) are
 * shown to authenticated callers only; anyone else gets the status alone,
 * and the server logs each change of readiness with its cause, so a probe
 * without a token still leaves the reason in the log.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { App } from '../app-type.js'
import type { RouteDeps } from '../context.js'
import { Health } from '../schemas.js'

/** Registers GET (and HEAD) /healthz and /readyz. */
export function healthRoutes(app: App, deps: RouteDeps): void {
  app.get(
    '/healthz',
    {
      config: { permission: 'public', accessLog: 'debug' },
      schema: {
        operationId: 'getLiveness',
        summary: 'Liveness',
        description: 'The process answers.',
        tags: ['health'],
        response: { 200: Health },
      },
    },
    async () => ({ status: 'ok' }),
  )

  const changes = new ReadinessLog(app.log)
  app.get(
    '/readyz',
    {
      config: { permission: 'public', accessLog: 'debug', identifiesCaller: true },
      schema: {
        operationId: 'getReadiness',
        summary: 'Readiness',
        description:
          'The data directory is writable, the keys are loaded and the server is not shutting down; 503 otherwise. The checks (encryption mode, data directory) are shown to authenticated callers only; the server logs every change of readiness with its cause.',
        tags: ['health'],
        response: {
          200: Health,
          503: { ...Health, description: 'not ready: a check failed, or the server is shutting down' },
        },
      },
    },
    async (request, reply) => {
      const checks: Record<string, string> = {
        encryption: deps.root.encrypter.describe().replace(/^(\S+).*$/, '$1'),
        dataDir: 'ok',
      }
      let ready = !deps.shutdown.aborted
      if (deps.shutdown.aborted) checks.server = 'shutting down'
      try {
        await deps.root.probeWritable() // through the store's filesystem: what writes would meet
      } catch (err) {
        ready = false
        checks.dataDir = `not writable (${(err as NodeJS.ErrnoException).code ?? 'error'})`
      }
      changes.observe(ready, checks)
      const status = ready ? 'ready' : 'unavailable'
      const detailed = typeof request.principal === 'string'
      return reply.code(ready ? 200 : 503).send(detailed ? { status, checks } : { status })
    },
  )
}

/** Logs readiness when it changes (not every probe): warn with the failed checks, info when ready again. */
class ReadinessLog {
  readonly #log: FastifyBaseLogger
  #last: string | undefined

  constructor(log: FastifyBaseLogger) {
    this.#log = log
  }

  observe(ready: boolean, checks: Record<string, string>): void {
    const state = ready ? 'ready' : JSON.stringify(checks)
    if (state === this.#last) return
    const first = this.#last === undefined
    this.#last = state
    if (!ready) this.#log.warn({ checks }, 'not ready: /readyz answers 503')
    else if (!first) this.#log.info('ready again: /readyz answers 200')
  }
}
