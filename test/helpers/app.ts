import type { Test } from 'tap'
import { type AppDeps, buildApp } from '../../src/app.js'
import type { AuditEvent, AuditSink } from '../../src/audit.js'
import { createLogger } from '../../src/logger.js'
import type { StoreRoot } from '../../src/store/store-root.js'
import type { App } from '../../src/http/app-type.js'
import type { AuthOptions, RouteEntry } from '../../src/http/auth.js'
import type { Metrics } from '../../src/http/metrics.js'
import type { RetentionSettings } from '../../src/store/retention.js'
import type { UiAssets } from '../../src/http/ui-assets.js'
import { type TestRootOptions, makeRoot } from './store.js'
import { CONTROL_BODY_LIMIT } from '../../src/http/body.js'
import { LOCK_BODY_LIMIT } from '../../src/terraform/lock-info.js'

/** Keeps audit events in memory so tests can assert what was recorded. */
export class MemoryAudit implements AuditSink {
  readonly events: AuditEvent[] = []
  async record(event: AuditEvent): Promise<void> {
    this.events.push(event)
  }
}

/** Options for a test app. */
export interface TestAppOptions extends TestRootOptions {
  readonly dir?: string
  readonly requireLock?: boolean
  readonly maxWaitSeconds?: number
  readonly bodyLimitBytes?: number
  readonly controlBodyLimitBytes?: number
  readonly lockBodyLimitBytes?: number
  readonly root?: StoreRoot
  /** Credentials and caller limits (auth is off without them). */
  readonly auth?: AuthOptions
  /** The metrics to feed (a fresh registry when absent). */
  readonly metrics?: Metrics
  /** The configured retention policy and trash window (none and 7 days when absent). */
  readonly retention?: RetentionSettings
  /** The console's files served at /ui/ (not built when absent). */
  readonly ui?: UiAssets | null
  /** Event stream cap, heartbeat and poll periods (200, 15 s, 1 s when absent). */
  readonly events?: AppDeps['events']
  /** Large bodies processed at once (4 when absent). */
  readonly maxLargeBodies?: number
}

/** A built app over a tap testdir; closed in teardown. */
export async function buildTestApp(
  t: Test,
  options: TestAppOptions = {},
): Promise<{
  app: App
  root: StoreRoot
  dir: string
  audit: MemoryAudit
  beginShutdown: () => void
  routes: readonly RouteEntry[]
  metrics: Metrics
  warmUp: (signal?: AbortSignal) => Promise<number>
}> {
  // t.testdir() empties the test's folder: never call it when the caller's root already lives there.
  const dir = options.dir ?? options.root?.root ?? t.testdir()
  const root = options.root ?? makeRoot(dir, options)
  const audit = new MemoryAudit()
  const { app, beginShutdown, routes, metrics, warmUp } = await buildApp({
    config: {
      requireLock: options.requireLock ?? false,
      maxWaitSeconds: options.maxWaitSeconds ?? 30,
      bodyLimitBytes: options.bodyLimitBytes ?? 64 * 1024 * 1024,
      controlBodyLimitBytes: options.controlBodyLimitBytes ?? CONTROL_BODY_LIMIT,
      lockBodyLimitBytes: options.lockBodyLimitBytes ?? LOCK_BODY_LIMIT,
    },
    root,
    audit,
    logger: createLogger('silent'),
    version: '0.0.0-test',
    auth: options.auth,
    metrics: options.metrics,
    retention: options.retention,
    ui: options.ui,
    events: options.events,
    maxLargeBodies: options.maxLargeBodies,
  })
  t.teardown(async () => {
    await app.close()
    root.close()
  })
  await app.ready()
  return { app, root, dir, audit, beginShutdown, routes, metrics, warmUp }
}

/** The base path of a stack's routes. */
export function stackUrl(factory = 'f1', stack = 's1'): string {
  return `/v1/factories/${factory}/stacks/${stack}`
}
