/**
 * GET …/events: a stack's changes as Server-Sent Events, for the console's
 * live view and for scripts (`curl -N`). The first event, `hello`, is the
 * stack as it is (current, lock holder, rev count, newest rev); then one
 * event per change: `lock.acquired`, `lock.renewed`, `lock.released`,
 * `lock.force-unlocked`, `lock.expired`, `rev.written`, `rev.deleted`,
 * `current.moved` (each `data` a JSON object), whoever made it — this
 * process, another replica on the volume, or the Go tool. A comment line
 * every heartbeat keeps proxies from closing an idle stream. Streams end
 * when the server shuts down, are counted in `unobin_state_event_streams`,
 * and are capped per process (503 `too-many-streams` beyond).
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { StateError } from '../../errors.js'
import type { StackEvents } from '../../store/stack-events.js'
import type { StackEvent } from '../../store/stack-observer.js'
import type { App } from '../app-type.js'
import type { RouteDeps } from '../context.js'
import type { Metrics } from '../metrics.js'
import { StackParams, problems } from '../schemas.js'

/** Limits and timing of the event streams. */
export interface EventStreamSettings {
  /** Most streams open at once in this process. */
  readonly maxStreams: number
  /** Milliseconds between heartbeat comments. */
  readonly heartbeatMs: number
}

/** Registers GET /v1/factories/:factory/stacks/:stack/events. */
export function eventRoutes(
  app: App,
  deps: RouteDeps,
  hub: StackEvents,
  metrics: Metrics,
  settings: EventStreamSettings,
): void {
  const open = new Set<() => void>()
  deps.shutdown.addEventListener('abort', () => {
    for (const end of [...open]) end()
  })

  app.get(
    '/v1/factories/:factory/stacks/:stack/events',
    {
      config: { permission: 'read' },
      schema: {
        operationId: 'followEvents',
        summary: "Follow a stack's changes (Server-Sent Events)",
        description:
          'A text/event-stream: first `hello` (data: {current, lock, revs, newest}), then one event per change, made by any process on the volume and seen within about a second: lock.acquired, lock.renewed, lock.released, lock.force-unlocked (with by and reason), lock.expired (data: {holder}); rev.written, rev.deleted (data: {rev}); current.moved (data: {rev, previous}). A comment line every 15 s keeps the stream alive. The stream ends when the server shuts down (reconnect). 503 too-many-streams when the server already serves --max-event-streams.',
        tags: ['snapshots'],
        params: StackParams,
        response: {
          200: { description: 'the event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...problems(400, 503),
        },
      },
    },
    async (request: FastifyRequest<{ Params: { factory: string; stack: string } }>, reply: FastifyReply) => {
      if (deps.shutdown.aborted)
        throw new StateError(
          'shutting-down',
          'the server is shutting down: reconnect to another replica, or in a moment',
        )
      if (open.size >= settings.maxStreams)
        throw new StateError(
          'too-many-streams',
          `this server already serves ${settings.maxStreams} event streams (--max-event-streams): close a page, or retry later`,
        )
      // HEAD (probes, curl -I): the head of a stream, without one.
      if (request.method === 'HEAD')
        return reply.code(200).header('cache-control', 'no-cache').type('text/event-stream; charset=utf-8').send()
      const { factory, stack } = request.params
      const queued: StackEvent[] = []
      let send: ((event: StackEvent) => void) | undefined
      const subscription = await hub.subscribe(factory, stack, (event) =>
        send === undefined ? queued.push(event) : send(event),
      )

      reply.hijack()
      const raw = reply.raw
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
        connection: 'keep-alive',
      })
      let id = 0
      const write = (type: string, data: unknown): void => {
        raw.write(`id: ${++id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`)
      }
      raw.write('retry: 2000\n\n')
      write('hello', { factory, stack, ...subscription.view })
      send = (event) => {
        const { type, ...data } = event
        write(type, data)
      }
      for (const event of queued.splice(0)) send(event)

      const heartbeat = setInterval(
        () => raw.write(`: heartbeat ${new Date().toISOString()}\n\n`),
        settings.heartbeatMs,
      )
      metrics.eventStreams.inc()
      let ended = false
      const end = (): void => {
        if (ended) return
        ended = true
        clearInterval(heartbeat)
        subscription.close()
        open.delete(end)
        metrics.eventStreams.dec()
        if (!raw.writableEnded) raw.end()
      }
      open.add(end)
      request.raw.on('close', end)
      raw.on('close', end)
      raw.on('error', end)
    },
  )
}
