/**
 * buildApp: the Fastify application (a plugin tree that never listens). It
 * wires schemas, body parsing, problem answers, the OpenAPI document and every
 * route explicitly, so the route table reads top to bottom here.
 */
import swagger from '@fastify/swagger'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Ajv } from 'ajv'
import Fastify, { type FastifyBaseLogger, LogController, type preValidationHookHandler } from 'fastify'
import type { AuditSink } from './audit.js'
import type { Config } from './config.js'
import type { App } from './http/app-type.js'
import { registerAccessLog } from './http/access-log.js'
import { type AuthOptions, type RouteEntry, registerAuth } from './http/auth.js'
import { CONTROL_BODY_LIMIT, registerBodyParsers } from './http/body.js'
import { registerLargeBodyGate } from './http/large-bodies.js'
import { LazyCompilers } from './http/lazy-compilers.js'
import { Metrics, registerMetrics } from './http/metrics.js'
import type { RouteDeps } from './http/context.js'
import { finishDocument } from './http/openapi-document.js'
import { requestIdFor } from './http/request-id.js'
import { declareTransportProblems, registerProblemHandlers, sendProblem } from './http/problems.js'
import { adminRoutes } from './http/routes/admin.js'
import { currentRoutes } from './http/routes/current.js'
import { diffRoutes } from './http/routes/diff.js'
import { discoveryRoutes } from './http/routes/discovery.js'
import { type EventStreamSettings, eventRoutes } from './http/routes/events.js'
import { healthRoutes } from './http/routes/health.js'
import { lockRoutes } from './http/routes/lock.js'
import { openapiRoutes } from './http/routes/openapi.js'
import { outputsRoutes } from './http/routes/outputs.js'
import { retentionRoutes } from './http/routes/retention.js'
import { snapshotRoutes } from './http/routes/snapshots.js'
import { terraformRoutes } from './http/routes/terraform.js'
import { whoamiRoutes } from './http/routes/whoami.js'
import { uiRoutes } from './http/routes/ui.js'
import type { UiAssets } from './http/ui-assets.js'
import { registerReadAudit } from './http/read-audit.js'
import { RAW_BODY, SHARED_SCHEMAS } from './http/schemas.js'
import type { RetentionSettings } from './store/retention.js'
import type { StoreCatalog } from './store/store.js'
import { StackEvents } from './store/stack-events.js'
import { LOCK_BODY_LIMIT } from './terraform/lock-info.js'

/** What the application is built from. */
export interface AppDeps {
  /** The settings the app reads; the two control-body limits default to their settings' defaults. */
  readonly config: Pick<Config, 'requireLock' | 'maxWaitSeconds' | 'bodyLimitBytes'> &
    Partial<Pick<Config, 'controlBodyLimitBytes' | 'lockBodyLimitBytes'>>
  readonly root: StoreCatalog
  readonly audit: AuditSink
  readonly logger: FastifyBaseLogger
  /** The package version shown in the OpenAPI document. */
  readonly version: string
  /** Credentials and caller limits; undefined when none are configured (every caller is anonymous with every permission). */
  readonly auth?: AuthOptions | undefined
  /** TLS certificate and key (PEM) to serve HTTPS; plain HTTP without. */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer } | undefined
  /** Addresses/CIDRs of proxies whose X-Forwarded-For is believed; none by default. */
  readonly trustProxy?: readonly string[] | undefined
  /** The metrics to feed and serve; a fresh registry (without process metrics) when absent. */
  readonly metrics?: Metrics | undefined
  /** Event streams (GET …/events): the per-process cap, heartbeat and poll periods; 200 streams, 15 s, 1 s when absent. */
  readonly events?: Partial<EventStreamSettings & { readonly pollMs: number }> | undefined
  /** The retention policy prunes apply when they name none, and the trash window; no policy and 7 days when absent. */
  readonly retention?: RetentionSettings | undefined
  /** Stored bodies of LARGE_BODY_BYTES or more processed at once (503 server-busy beyond); 4 when absent, 0: no bound. */
  readonly maxLargeBodies?: number | undefined
  /** The console's built page and assets, served at /ui/; null or absent: /ui/ says the console is not built. */
  readonly ui?: UiAssets | null | undefined
  /** Downloads of state (routes with `config.auditedRead`) are audit events too (--audit-reads); off when absent. */
  readonly auditReads?: boolean | undefined
}

/** The application and the switch that starts its shutdown (ends waits with 503, readiness false). */
export interface BuiltApp {
  readonly app: App
  readonly beginShutdown: () => void
  /** Every route with the permission it declares (the auth matrix test walks it). */
  readonly routes: readonly RouteEntry[]
  /** The app's metrics (the separate metrics listener serves the same registry). */
  readonly metrics: Metrics
  /** Compiles the validators and serializers no request has needed yet (the server runs it once listening); resolves to how many. */
  readonly warmUp: (signal?: AbortSignal) => Promise<number>
}

/** Builds the application. Call `app.ready()` (or `inject`) before use; `app.close()` ends it. */
export async function buildApp(deps: AppDeps): Promise<BuiltApp> {
  // Schemas compile on first use (or in warmUp), not while the app gets ready: that was most of start-up.
  const compilers = new LazyCompilers()
  const app = Fastify({
    schemaController: { compilersFactory: { buildSerializer: compilers.buildSerializer } },
    ...(deps.https === undefined ? {} : { https: { cert: deps.https.cert, key: deps.https.key } }),
    ...(deps.trustProxy === undefined || deps.trustProxy.length === 0 ? {} : { trustProxy: [...deps.trustProxy] }),
    loggerInstance: deps.logger,
    // One access line per request (src/http/access-log.ts) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => requestIdFor(req.headers['x-request-id']),
    requestIdHeader: false,
    bodyLimit: deps.config.bodyLimitBytes,
    routerOptions: { maxParamLength: 256 },
    requestTimeout: 120_000,
    // Every GET route answers HEAD too (probes and curl -I use it); the document lists GET only.
    exposeHeadRoutes: true,
    // Malformed URLs and overlong params are refused before routing: answer them as problems too.
    frameworkErrors: (err, request, reply) => {
      reply.header('x-request-id', request.id) // no hook runs for an answer given before routing
      sendProblem(request, reply, err)
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App // an HTTPS server serves the same routes
  // Terraform's default lock and unlock methods (they carry a LockInfo body).
  app.addHttpMethod('LOCK', { hasBody: true })
  app.addHttpMethod('UNLOCK', { hasBody: true })

  // Bodies are validated strictly (no coercion, unknown fields refused); params,
  // query strings and headers are text on the wire and are coerced.
  const strict = new Ajv({
    allErrors: false,
    coerceTypes: false,
    removeAdditional: false,
    useDefaults: true,
    strict: false,
  })
  const lenient = new Ajv({
    allErrors: false,
    coerceTypes: true,
    removeAdditional: false,
    useDefaults: true,
    strict: false,
  })
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (httpPart === 'body' && (schema as Record<string, unknown>)[RAW_BODY] === true) return () => true
    return compilers.validator(() => (httpPart === 'body' ? strict : lenient).compile(schema))
  })

  const shutdown = new AbortController()
  const metrics = deps.metrics ?? new Metrics()
  const routeDeps: RouteDeps = {
    config: { ...deps.config, lockBodyLimitBytes: deps.config.lockBodyLimitBytes ?? LOCK_BODY_LIMIT },
    root: deps.root,
    audit: metrics.meter(deps.audit),
    shutdown: shutdown.signal,
  }

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema)
  await app.register(swagger, {
    transformObject: (doc) => finishDocument('openapiObject' in doc ? doc.openapiObject : doc.swaggerObject),
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `schema-${i}`),
    },
    openapi: {
      // 3.2 describes Terraform's LOCK and UNLOCK methods as additionalOperations; 3.1 has no place for them.
      openapi: '3.2.0',
      info: {
        title: 'unobin state server',
        version: deps.version,
        description:
          'Versioned, encrypted, locked state per factory/stack for unobin, Terraform and OpenTofu. Errors are application/problem+json with a stable `code`.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: '/', description: 'the server that serves this document' }],
      tags: [
        { name: 'discovery', description: 'factories and stacks' },
        { name: 'current', description: 'the current snapshot of a stack' },
        { name: 'snapshots', description: 'the history of a stack' },
        { name: 'lock', description: 'the exclusive lock of a stack' },
        {
          name: 'terraform',
          description:
            'the Terraform/OpenTofu http backend protocol (with LOCK and UNLOCK on …/terraform, as Terraform sends by default)',
        },
        { name: 'health', description: 'probes for orchestrators' },
        { name: 'operations', description: 'metrics and key rotation' },
        { name: 'contract', description: 'this document' },
        {
          name: 'console',
          description: "the operator console page (public shell; its data comes from the API with the caller's token)",
        },
      ],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'a static token of the tokens file, or a CI identity token (JWT) of a configured OIDC issuer',
          },
          basicAuth: {
            type: 'http',
            scheme: 'basic',
            description:
              "any username, the token (or identity token) as password: what Terraform's username/password send",
          },
        },
      },
    },
  })

  registerAccessLog(app)
  registerProblemHandlers(app)
  declareTransportProblems(app)
  registerBodyParsers(app, deps.config.bodyLimitBytes, deps.config.controlBodyLimitBytes ?? CONTROL_BODY_LIMIT)
  registerLargeBodyGate(app, deps.maxLargeBodies ?? 4)
  // Per-request hooks are synchronous callbacks (an async hook costs a promise and a microtask hop per request),
  // and as few as can be: each is a step of every request's pipeline.
  const routes = registerAuth(app, {
    auth: deps.auth,
    root: deps.root,
    audit: deps.audit,
    maxWaitSeconds: deps.config.maxWaitSeconds,
  })
  registerMetrics(app, metrics, deps.root)
  registerReadAudit(app, routeDeps.audit, deps.auditReads === true)
  // A route that declares a JSON body but got none validates `{}`; only those routes carry the hook (a GET pays nothing).
  app.addHook('onRoute', (route) => {
    if (route.schema?.body === undefined || route.config?.rawBody === true) return
    const emptyBody: preValidationHookHandler = (request, _reply, done) => {
      if (request.body === undefined) request.body = {}
      done()
    }
    route.preValidation = [route.preValidation ?? []].flat().concat(emptyBody)
  })
  app.addHook('preClose', async () => {
    shutdown.abort()
  })
  // Every answer carries its request id; answers given while closing end their connection, so close() need
  // not wait out keep-alive. (The event stream, which takes over its reply, writes its own headers.)
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id)
    if (shutdown.signal.aborted) reply.header('connection', 'close')
    done(null, payload)
  })

  healthRoutes(app, routeDeps)
  discoveryRoutes(app, routeDeps)
  currentRoutes(app, routeDeps)
  snapshotRoutes(app, routeDeps)
  lockRoutes(app, routeDeps)
  terraformRoutes(app, routeDeps)
  retentionRoutes(app, routeDeps, deps.retention ?? { policy: null, trashWindowMs: 7 * 86_400_000 })
  adminRoutes(app, routeDeps)
  diffRoutes(app, routeDeps)
  outputsRoutes(app, routeDeps)
  whoamiRoutes(app, routeDeps)
  const hub = new StackEvents(deps.root, { pollMs: deps.events?.pollMs ?? 1000 })
  app.addHook('onClose', async () => hub.close())
  eventRoutes(app, routeDeps, hub, metrics, {
    maxStreams: deps.events?.maxStreams ?? 200,
    heartbeatMs: deps.events?.heartbeatMs ?? 15_000,
  })
  openapiRoutes(app)
  uiRoutes(app, deps.ui ?? null)

  return {
    app,
    beginShutdown: () => shutdown.abort(),
    routes,
    metrics,
    warmUp: (signal) => compilers.warmUp(signal),
  }
}
