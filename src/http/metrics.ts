/**
 * Prometheus metrics: one registry per app (never prom-client's global one,
 * so a process or a test can build many apps), fed from three places:
 *
 * * HTTP hooks: request count and latency by route pattern (never the raw
 *   URL: bounded label values), method and status; lock wait time of
 *   `POST …/lock?wait=`; decrypt failures (requests that met an
 *   `unreadable-snapshot`).
 * * The audit stream (`meter`): snapshot write bytes and latency,
 *   force-unlocks, pruned and purged revs, re-sealed revs. Every change is
 *   audited, so the metrics cannot miss a path the audit log sees.
 * * The data directory, read at each scrape (`render`): locks held, the age
 *   of each held lock and revs per stack. Read from disk, not tracked from
 *   this process's events, so every replica on a shared volume reports the
 *   same, true values. Bounded: above `maxStacks` stacks the per-stack series
 *   (revs, lock age) are left out, so a scrape never lists every stack's
 *   history nor exports unbounded series; the totals (stacks, locks held,
 *   oldest lock age) still read one lock marker per stack. Lock waiters are
 *   this process's own (a waiter lives in one process's memory).
 */
import type { onRequestHookHandler } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { AuditEvent, AuditSink } from '../audit.js'
import { isStateError } from '../errors.js'
import type { StoreCatalog } from '../store/store.js'
import type { App } from './app-type.js'
import { mayRead } from './context.js'

/** Options of the metrics of one app. */
export interface MetricsOptions {
  /** Also export prom-client's process and Node.js metrics (process_*, nodejs_*); the server does, tests need not. */
  readonly processMetrics?: boolean
  /** Above this many stacks a scrape leaves out the per-stack series. Default 1000. */
  readonly maxStacks?: number
}

/** The route of POST …/lock (the only route that waits). */
const LOCK_ROUTE = '/v1/factories/:factory/stacks/:stack/lock'
/** Methods kept as label values for requests no route matched (anything else is OTHER: bounded labels). */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'LOCK', 'UNLOCK'])
/** Audit actions that store a new rev (their `detail.bytes` is the body size). */
const WRITE_ACTIONS = new Set(['snapshot.write', 'terraform.write'])
/** Stacks read at once during a scrape. */
const SCRAPE_CONCURRENCY = 16

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
const BYTE_BUCKETS = [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, 268435456]

/** The metrics of one app and how to render them. */
export class Metrics {
  readonly registry = new Registry()
  readonly requests: Counter<'route' | 'method' | 'status'>
  readonly requestDuration: Histogram<'route' | 'method' | 'status'>
  readonly lockWait: Histogram<'outcome'>
  readonly waiters: Gauge
  readonly eventStreams: Gauge
  readonly locksHeld: Gauge
  readonly lockAge: Gauge<'factory' | 'stack'>
  readonly oldestLockAge: Gauge
  readonly forceUnlocks: Counter
  readonly writeBytes: Histogram
  readonly writeDuration: Histogram
  readonly revs: Gauge<'factory' | 'stack'>
  readonly stacks: Gauge
  readonly omitted: Gauge
  readonly decryptFailures: Counter
  readonly pruned: Counter<'step'>
  readonly resealed: Counter<'outcome'>
  readonly #maxStacks: number
  /** Requests whose write was audited and whose latency is observed when they answer. */
  readonly #pendingWrites = new Set<string>()
  /** The render in progress (renders are serialised). */
  #rendering: Promise<unknown> = Promise.resolve()

  constructor(options: MetricsOptions = {}) {
    this.#maxStacks = options.maxStacks ?? 1000
    const registers = [this.registry]
    this.requests = new Counter({
      name: 'unobin_state_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    })
    this.requestDuration = new Histogram({
      name: 'unobin_state_http_request_duration_seconds',
      help: 'time to answer HTTP requests, by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.lockWait = new Histogram({
      name: 'unobin_state_lock_wait_seconds',
      help: 'time lock requests with ?wait spent until answered, by outcome (acquired, timeout, shutdown, cancelled, error)',
      labelNames: ['outcome'],
      buckets: WAIT_BUCKETS,
      registers,
    })
    this.eventStreams = new Gauge({
      name: 'unobin_state_event_streams',
      help: 'open Server-Sent Events streams (GET …/events) in this process',
      registers,
    })
    this.waiters = new Gauge({
      name: 'unobin_state_lock_waiters',
      help: 'lock requests waiting for a held lock in this process',
      registers,
    })
    this.locksHeld = new Gauge({
      name: 'unobin_state_locks_held',
      help: 'stacks whose lock is held (read from the data directory at scrape)',
      registers,
    })
    this.lockAge = new Gauge({
      name: 'unobin_state_lock_age_seconds',
      help: 'seconds since each held lock was taken (locks the Go tool took have no age; left out above the stack bound)',
      labelNames: ['factory', 'stack'],
      registers,
    })
    this.oldestLockAge = new Gauge({
      name: 'unobin_state_oldest_lock_age_seconds',
      help: 'age of the oldest held lock, 0 when none is held',
      registers,
    })
    this.forceUnlocks = new Counter({
      name: 'unobin_state_force_unlocks_total',
      help: 'force-unlocks that removed a holder',
      registers,
    })
    this.writeBytes = new Histogram({
      name: 'unobin_state_snapshot_write_bytes',
      help: 'size of accepted snapshot writes (native and Terraform)',
      buckets: BYTE_BUCKETS,
      registers,
    })
    this.writeDuration = new Histogram({
      name: 'unobin_state_snapshot_write_duration_seconds',
      help: 'time to answer accepted snapshot writes (body, validation, sealing, durable publish)',
      buckets: LATENCY_BUCKETS,
      registers,
    })
    this.revs = new Gauge({
      name: 'unobin_state_revs',
      help: 'revs stored per stack (read at scrape; left out above the stack bound)',
      labelNames: ['factory', 'stack'],
      registers,
    })
    this.stacks = new Gauge({ name: 'unobin_state_stacks', help: 'stacks in the data directory', registers })
    this.omitted = new Gauge({
      name: 'unobin_state_stack_series_omitted',
      help: '1 when there are more stacks than --metrics-max-stacks and per-stack series were left out',
      registers,
    })
    this.decryptFailures = new Counter({
      name: 'unobin_state_decrypt_failures_total',
      help: 'snapshots that could not be opened (unreadable-snapshot: wrong or missing key, corrupt file), in requests and re-seals',
      registers,
    })
    this.pruned = new Counter({
      name: 'unobin_state_retention_revs_total',
      help: 'revs moved to the trash by retention (step=trashed) and removed from it (step=purged)',
      labelNames: ['step'],
      registers,
    })
    this.resealed = new Counter({
      name: 'unobin_state_reseal_revs_total',
      help: 'revs handled by key rotation, by outcome (resealed, skipped, failed)',
      labelNames: ['outcome'],
      registers,
    })
    if (options.processMetrics === true) collectDefaultMetrics({ register: this.registry })
  }

  /** The content type of `render`'s text. */
  get contentType(): string {
    return this.registry.contentType
  }

  /**
   * Reads the data directory's locks and revs, then renders every metric as
   * Prometheus text. The per-stack series name only the stacks `visible`
   * allows (the caller's readable stacks; the totals count every stack).
   * Renders run one at a time: the gauges are shared.
   */
  async render(root: StoreCatalog, visible: (factory: string, stack: string) => boolean = () => true): Promise<string> {
    const run = this.#rendering.then(async () => {
      await this.#scrapeStacks(root, visible)
      this.waiters.set(root.waiting())
      // prom-client writes NaN as `Nan` (the event-loop lag before its first sample); the text format spells it NaN.
      return (await this.registry.metrics()).replace(/ Nan$/gm, ' NaN')
    })
    this.#rendering = run.catch(() => undefined)
    return run
  }

  /**
   * An audit sink that forwards every event to `sink` unchanged and counts
   * what the metrics need from it (writes, force-unlocks, retention, re-seals).
   */
  meter(sink: AuditSink): AuditSink {
    return {
      record: async (event: AuditEvent): Promise<void> => {
        this.#count(event)
        await sink.record(event)
      },
    }
  }

  /** Records the request's counters; called once per answered request. */
  observeRequest(
    route: string | undefined,
    method: string,
    status: number,
    seconds: number,
    requestId: string,
    lockWaitSeconds: number | null,
  ): void {
    const labels = {
      route: route ?? 'unmatched',
      method: route === undefined && !KNOWN_METHODS.has(method) ? 'OTHER' : method,
      status: String(status),
    }
    this.requests.inc(labels)
    this.requestDuration.observe(labels, seconds)
    if (this.#pendingWrites.delete(requestId)) this.writeDuration.observe(seconds)
    if (lockWaitSeconds !== null)
      this.lockWait.observe(
        { outcome: status === 201 ? 'acquired' : status === 423 ? 'timeout' : status === 503 ? 'shutdown' : 'error' },
        lockWaitSeconds,
      )
  }

  /** Records a request whose client went away before the answer. */
  observeAbort(requestId: string, lockWaitSeconds: number | null): void {
    this.#pendingWrites.delete(requestId)
    if (lockWaitSeconds !== null) this.lockWait.observe({ outcome: 'cancelled' }, lockWaitSeconds)
  }

  #count(event: AuditEvent): void {
    if (event.outcome !== undefined && event.outcome !== 'ok') return
    const detail = event.detail ?? {}
    if (WRITE_ACTIONS.has(event.action)) {
      if (typeof detail.bytes === 'number') this.writeBytes.observe(detail.bytes)
      if (event.requestId !== undefined && this.#pendingWrites.size < 10_000) this.#pendingWrites.add(event.requestId)
    } else if (event.action === 'lock.force-unlock' && event.lockId != null) {
      this.forceUnlocks.inc()
    } else if (event.action === 'snapshot.prune') {
      if (Array.isArray(detail.trashed)) this.pruned.inc({ step: 'trashed' }, detail.trashed.length)
      if (Array.isArray(detail.purged)) this.pruned.inc({ step: 'purged' }, detail.purged.length)
    } else if (event.action === 'snapshot.reseal') {
      for (const outcome of ['resealed', 'skipped', 'failed'] as const) {
        if (typeof detail[outcome] === 'number') this.resealed.inc({ outcome }, detail[outcome])
      }
      if (typeof detail.failed === 'number') this.decryptFailures.inc(detail.failed)
    }
  }

  async #scrapeStacks(root: StoreCatalog, visible: (factory: string, stack: string) => boolean): Promise<void> {
    this.lockAge.reset()
    this.revs.reset()
    let names: Array<{ factory: string; stack: string }>
    try {
      names = await root.stackNames()
    } catch {
      names = []
    }
    const perStack = names.length <= this.#maxStacks
    this.stacks.set(names.length)
    this.omitted.set(perStack ? 0 : 1)
    const nowMs = Number(root.clock.nowNanos() / 1_000_000n)
    let held = 0
    let oldest = 0
    for (let i = 0; i < names.length; i += SCRAPE_CONCURRENCY) {
      await Promise.all(
        names.slice(i, i + SCRAPE_CONCURRENCY).map(async ({ factory, stack }) => {
          // Within the bound, the summary (revs, lock); above it, only the lock marker.
          const shown = perStack && visible(factory, stack)
          const summary = shown ? await root.summary(factory, stack).catch(() => undefined) : undefined
          const lock = shown
            ? summary?.lock
            : await root
                .stack(factory, stack)
                .inspectLock()
                .catch(() => undefined)
          if (summary !== undefined) this.revs.set({ factory, stack }, summary.revs)
          if (lock === undefined || lock === null) return
          held++
          const created = lock.created === null ? NaN : Date.parse(lock.created)
          if (!Number.isFinite(created)) return
          const age = Math.max(0, (nowMs - created) / 1000)
          oldest = Math.max(oldest, age)
          if (shown) this.lockAge.set({ factory, stack }, age)
        }),
      )
    }
    this.locksHeld.set(held)
    this.oldestLockAge.set(oldest)
  }
}

/**
 * Installs the hooks that feed `metrics` and serves `GET /metrics` on the
 * API listener with the `read` permission: with credentials on, a grant of
 * read on every stack (`*\/*`), because the series name every stack. A
 * scraper without a token uses the separate listener (--metrics-listen).
 * Per-stack series name only the stacks the caller may read (a deny on one
 * stack hides its series; the totals still count it).
 */
export function registerMetrics(app: App, metrics: Metrics, root: StoreCatalog): void {
  const lockWaitOf = (url: string | undefined, request: { method: string; query: unknown }, seconds: number) => {
    if (url !== LOCK_ROUTE || request.method !== 'POST') return null
    const wait = Number((request.query as { wait?: unknown } | undefined)?.wait ?? 0)
    return Number.isFinite(wait) && wait > 0 ? seconds : null
  }
  // Synchronous hooks: an async one costs a promise and a microtask hop on every request.
  app.addHook('onResponse', (request, reply, done) => {
    const seconds = reply.elapsedTime / 1000
    const url = request.routeOptions.url
    metrics.observeRequest(
      url,
      request.method,
      reply.statusCode,
      seconds,
      request.id,
      lockWaitOf(url, request, seconds),
    )
    done()
  })
  // An aborted request has no reply to read its elapsed time from: the lock route (the only one that waits) notes its start.
  const starts = new WeakMap<object, number>()
  app.addHook('onRoute', (route) => {
    if (route.url !== LOCK_ROUTE || ![route.method].flat().includes('POST')) return
    const stamp: onRequestHookHandler = (request, _reply, done) => {
      starts.set(request, performance.now())
      done()
    }
    route.onRequest = [route.onRequest ?? []].flat().concat(stamp)
  })
  app.addHook('onRequestAbort', (request, done) => {
    const started = starts.get(request)
    const seconds = started === undefined ? 0 : (performance.now() - started) / 1000
    metrics.observeAbort(
      request.id,
      started === undefined ? null : lockWaitOf(request.routeOptions.url, request, seconds),
    )
    done()
  })
  app.addHook('onError', (_request, _reply, err, done) => {
    if (isStateError(err, 'unreadable-snapshot')) metrics.decryptFailures.inc()
    done()
  })

  app.get(
    '/metrics',
    {
      config: { permission: 'read', accessLog: 'debug' },
      schema: {
        operationId: 'getMetrics',
        summary: 'Prometheus metrics',
        description:
          'Requests, latencies, locks held, lock age, lock wait time, waiters, force-unlocks, snapshot write sizes and latency, revs per stack, decrypt failures, retention and key rotation, in the Prometheus text format. Needs read on every stack (*/*) when credentials are configured; --metrics-listen serves the same without credentials on a separate address.',
        tags: ['operations'],
        response: {
          200: {
            description: 'Prometheus text exposition format 0.0.4',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (request, reply) =>
      reply
        .type(metrics.contentType)
        .send(await metrics.render(root, (factory, stack) => mayRead(request, factory, stack))),
  )
}
