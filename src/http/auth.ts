/**
 * Authentication and authorization over HTTP, in one place for every route.
 *
 * Each route declares the permission it needs (`config.permission`); a route
 * without one stops the server at start. With credentials configured, an
 * `onRequest` hook (before any body is read) authenticates the
 * `Authorization` header, applies the caller's rate limit (failed
 * authentications are limited per remote address instead) and checks the
 * route's permission on the request's factory/stack; a `preHandler` hook
 * then refuses a caller who presents another principal's lock id without
 * force-unlock, and a lock beyond the per-caller cap. Refusals are audited
 * (outcome `denied`) without any secret. Without credentials, nothing is
 * checked: every caller is `anonymous` with every permission (the server
 * then listens on loopback unless told otherwise).
 */
import type { FastifyRequest, RouteOptions } from 'fastify'
import type { AuditSink } from '../audit.js'
import type { SecretAuthenticator } from '../auth/authenticator.js'
import { parseAuthorization } from '../auth/authorization-header.js'
import type { Identity } from '../auth/identity.js'
import { type Target, isAllowed } from '../auth/policy.js'
import { RateLimiter } from '../auth/rate-limiter.js'
import { type ErrorCode, StateError } from '../errors.js'
import type { StoreCatalog } from '../store/store.js'
import { parseLockInfo } from '../terraform/lock-info.js'
import type { App, RouteAccess } from './app-type.js'
import { problems } from './schemas.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A public route that still learns who calls when credentials are sent
     * (e.g. /readyz shows details to authenticated callers only); bad
     * credentials make the caller anonymous and count as failed attempts.
     */
    identifiesCaller?: boolean
  }
  interface FastifyRequest {
    /** The authenticated principal; null when credentials are off or not yet checked. */
    principal: string | null
    /** Whether the caller holds a permission on this request's factory/stack; null when credentials are off. */
    hasPermission: ((permission: RouteAccess) => boolean) | null
    /** Whether the caller holds a permission on another target (listings filter by it); null when credentials are off. */
    allows: ((permission: RouteAccess, target: Target) => boolean) | null
    /** The authenticated caller (principal, kind, grants); null when credentials are off or not yet checked. */
    identity: Identity | null
  }
}

/** How the server authenticates and limits callers. */
export interface AuthOptions {
  /** Read for every request, so a reloaded tokens file applies from the next request on. */
  readonly authenticator: SecretAuthenticator
  /** Requests per minute and burst per caller; null turns rate limiting off. */
  readonly rateLimit: { readonly perMinute: number; readonly burst: number } | null
  /** Most locks one principal may hold at once; null turns the cap off. */
  readonly maxLocksPerCaller: number | null
  /** Monotonic milliseconds for the rate limiter (defaults to performance.now). */
  readonly now?: () => number
}

/** One route of the server and the permission it declares. */
export interface RouteEntry {
  readonly method: string
  readonly url: string
  readonly permission: RouteAccess
}

/** What the auth layer needs from the app. */
export interface AuthDeps {
  /** Undefined: no credentials are configured and auth is off. */
  readonly auth: AuthOptions | undefined
  readonly root: StoreCatalog
  readonly audit: AuditSink
  /** The longest lock wait a client may ask for (a lock-cap reservation outlives it); 60 s when absent. */
  readonly maxWaitSeconds?: number
}

/** Security requirements of a protected operation in the OpenAPI document (fresh objects: no YAML anchors). */
const security = (): Array<Record<string, string[]>> => [{ bearerAuth: [] }, { basicAuth: [] }]

/** The problems every protected route may answer with. */
const AUTH_PROBLEMS = problems(401, 403, 429, 503)

/**
 * Installs the auth hooks on `app`. Call before any route is registered:
 * the returned table fills as routes are added (the matrix test reads it).
 */
export function registerAuth(app: App, deps: AuthDeps): readonly RouteEntry[] {
  const routes: RouteEntry[] = []
  app.decorateRequest('principal', null)
  app.decorateRequest('hasPermission', null)
  app.decorateRequest('allows', null)
  app.decorateRequest('identity', null)

  app.addHook('onRoute', (route: RouteOptions) => {
    const permission = route.config?.permission
    const methods = [route.method].flat()
    if (permission === undefined)
      throw new Error(
        `route ${methods.join(',')} ${route.url} declares no config.permission: every route must say which permission it needs`,
      )
    for (const method of methods) routes.push({ method, url: route.url, permission })
    const schema = (route.schema ?? {}) as Record<string, unknown>
    if (permission === 'public') {
      route.schema = { ...schema, security: [] } // the document says so: no credentials are asked for
    } else {
      const response = (schema.response ?? {}) as Record<string, unknown>
      // Any valid credential passes an `authenticated` route: it never answers 403.
      const missing = Object.fromEntries(
        Object.entries(AUTH_PROBLEMS).filter(
          ([status]) => !(status in response) && !(permission === 'authenticated' && status === '403'),
        ),
      )
      route.schema = { ...schema, security: security(), response: { ...response, ...missing } }
    }
  })

  const auth = deps.auth
  if (auth === undefined) return routes
  const now = auth.now ?? (() => performance.now())
  const callers = auth.rateLimit === null ? null : new RateLimiter({ ...auth.rateLimit, now })
  const failures = auth.rateLimit === null ? null : new RateLimiter({ ...auth.rateLimit, now })

  const audited = new WeakSet<Error>()
  const record = async (
    request: FastifyRequest,
    code: ErrorCode,
    facts: Record<string, unknown> = {},
  ): Promise<void> => {
    const target = targetOf(request)
    await deps.audit.record({
      action: 'auth.denied',
      principal: request.principal,
      remote: request.ip,
      requestId: request.id,
      ...(target.factory === null ? {} : { factory: target.factory }),
      ...(target.stack === null ? {} : { stack: target.stack }),
      outcome: 'denied',
      detail: {
        code,
        method: request.method,
        route: request.routeOptions.url ?? null,
        permission: request.routeOptions.config.permission ?? null,
        ...facts,
      },
    })
  }
  const deny = async (
    request: FastifyRequest,
    code: ErrorCode,
    message: string,
    facts: Record<string, unknown> = {},
  ): Promise<never> => {
    await record(request, code, facts)
    const err = new StateError(code, message)
    audited.add(err)
    throw err
  }
  // Permissions checked inside handlers (force-unlock, forced writes) are audited here.
  app.addHook('onError', async (request, _reply, err) => {
    if (err instanceof StateError && err.code === 'forbidden' && !audited.has(err))
      await record(request, 'forbidden', { check: 'handler' })
  })

  app.addHook('onRequest', async (request) => {
    if (request.is404) return
    const permission = request.routeOptions.config.permission!
    const presented = parseAuthorization(request.headers.authorization)
    if (permission === 'public') {
      if (request.routeOptions.config.identifiesCaller !== true || presented.kind !== 'secret') return
      // No oracle for guessing tokens: an address over its failure limit is not checked, and a failure counts.
      const remoteKey = `remote:${request.ip}`
      if (failures !== null && !failures.peek(remoteKey).ok) return
      try {
        request.principal = (await deps.auth!.authenticator.authenticate(presented.secret)).principal
      } catch {
        failures?.take(remoteKey)
      }
      return
    }
    let identity: Identity
    try {
      if (presented.kind === 'none')
        throw new StateError(
          'unauthenticated',
          'credentials are required: send "Authorization: Bearer <token>", or HTTP Basic with the token as password (Terraform username/password)',
        )
      if (presented.kind === 'malformed')
        throw new StateError(
          'unauthenticated',
          `${presented.reason}: send "Authorization: Bearer <token>", or HTTP Basic with the token as password`,
        )
      identity = await deps.auth!.authenticator.authenticate(presented.secret)
    } catch (err) {
      if (err instanceof StateError && err.code === 'unauthenticated') {
        // Only failures are limited per address: a burst of bad tokens from a
        // shared address (a NAT, a CI runner pool) slows the failures, never
        // the valid callers behind the same address.
        const gate = failures?.take(`remote:${request.ip}`)
        if (gate !== undefined && !gate.ok)
          throw new StateError(
            'rate-limited',
            `too many failed authentications from ${request.ip}: retry in ${gate.retryAfterSeconds} s`,
            { retryAfter: gate.retryAfterSeconds },
          )
        return deny(request, 'unauthenticated', err.message, {
          scheme: presented.kind === 'secret' ? presented.scheme : presented.kind,
        })
      }
      throw err
    }
    request.principal = identity.principal
    request.identity = identity
    request.log.debug({ principal: identity.principal, kind: identity.kind }, 'authenticated')
    if (callers !== null) {
      const decision = callers.take(`principal:${identity.principal}`)
      if (!decision.ok)
        throw new StateError(
          'rate-limited',
          `${identity.principal} sent more requests than its rate allows: retry in ${decision.retryAfterSeconds} s`,
          { retryAfter: decision.retryAfterSeconds },
        )
    }
    const target = targetOf(request)
    // On a volume that folds case, `Prod` is the directory of `prod`: a grant on one must hold for the other.
    const policy = { ignoreCase: deps.root.foldsCase }
    request.hasPermission = (p: RouteAccess) =>
      p === 'public' || p === 'authenticated' || isAllowed(identity.grants, p, target, policy)
    request.allows = (p: RouteAccess, other: Target) =>
      p === 'public' || p === 'authenticated' || isAllowed(identity.grants, p, other, policy)
    if (!request.hasPermission(permission)) {
      return deny(
        request,
        'forbidden',
        `${identity.principal} lacks the ${permission} permission on ${describeTarget(target)}: ask an operator for a grant in the tokens file`,
      )
    }
  })

  // The lock cap's index: reserved before a lock is taken, settled when the request answers.
  const heldLocks = auth.maxLocksPerCaller === null ? null : deps.root.heldLocks
  // A reservation outlives the longest lock wait, so a waiter's reservation still counts when it gets the lock.
  const pendingMs = (deps.maxWaitSeconds ?? 60) * 1000 + 60_000
  const reserved = new WeakSet<FastifyRequest>()
  if (heldLocks !== null) {
    app.addHook('onReady', async () => {
      heldLocks.startRebuild((err) =>
        app.log.error({ err }, 'could not rebuild the lock index; counts may miss locks taken before this start'),
      )
    })
    // Settled before the answer leaves, so a client that reads its answer sees the index already settled.
    app.addHook('onSend', async (request, reply, payload) => {
      const target = targetOf(request)
      if (request.principal === null || target.factory === null || target.stack === null) return payload
      // After a lock attempt: drop the reservation unless the lock is now held. After an unlock that succeeded: drop
      // the released entry. A refused unlock changed nothing, so it settles nothing (not even a stale entry of the caller).
      const released =
        request.routeOptions.config.permission === 'lock' && !acquiresLock(request) && reply.statusCode < 400
      if (reserved.has(request) || released) {
        await heldLocks
          .settle(request.principal, target.factory, target.stack)
          .catch((err: unknown) => request.log.warn({ err }, 'could not settle the lock index'))
      }
      return payload
    })
  }

  app.addHook('preHandler', async (request) => {
    if (request.is404 || request.principal === null) return
    const target = targetOf(request)
    if (target.factory === null || target.stack === null) return
    const store = deps.root.stack(target.factory, target.stack)
    const ids = presentedLockIds(request)
    if (ids.size > 0 && request.hasPermission?.('force-unlock') !== true) {
      const holder = await store.inspectLock().catch(() => undefined)
      if (holder !== undefined && ids.has(holder.id) && holder.principal !== request.principal) {
        await deny(
          request,
          'forbidden',
          `lock ${holder.id} of ${describeTarget(target)} is held by ${holder.principal ?? 'another holder'}, not ${request.principal}: only its holder, or a caller with force-unlock, may use its id`,
          { lockId: holder.id },
        )
      }
    }
    const cap = auth.maxLocksPerCaller
    if (heldLocks !== null && cap !== null && acquiresLock(request)) {
      const { granted, held } = await heldLocks.reserve(request.principal, target.factory, target.stack, cap, pendingMs)
      if (granted) reserved.add(request)
      else {
        await deps.audit.record({
          action: 'lock.acquire',
          principal: request.principal,
          remote: request.ip,
          requestId: request.id,
          factory: target.factory,
          stack: target.stack,
          outcome: 'refused',
          detail: { code: 'too-many-locks', held, cap },
        })
        throw new StateError(
          'too-many-locks',
          `${request.principal} already holds ${held} locks, the most one caller may hold (--max-locks ${cap}): release one, or force-unlock locks left by dead jobs`,
        )
      }
    }
  })

  return routes
}

/** The factory/stack a request touches (null: every one, for listings). */
function targetOf(request: FastifyRequest): Target {
  const params = (request.params ?? {}) as { factory?: unknown; stack?: unknown }
  return {
    factory: typeof params.factory === 'string' ? params.factory : null,
    stack: typeof params.stack === 'string' ? params.stack : null,
  }
}

function describeTarget(target: Target): string {
  if (target.factory === null) return 'every factory (a grant on "*/*")'
  if (target.stack === null) return `every stack of ${target.factory} (a grant on "${target.factory}/*")`
  return `${target.factory}/${target.stack}`
}

/**
 * The lock ids a request presents: the Lock-Id header, `?id=` (unlock),
 * `?ID=` (Terraform writes), `id` in a JSON body (renew), and the LockInfo
 * `ID` of a Terraform lock or unlock body.
 */
function presentedLockIds(request: FastifyRequest): Set<string> {
  const ids = new Set<string>()
  const add = (v: unknown) => {
    if (typeof v === 'string' && v !== '') ids.add(v)
  }
  add(request.headers['lock-id'])
  const query = request.query as Record<string, unknown> | undefined
  add(query?.id)
  add(query?.ID)
  const body = request.body as Record<string, unknown> | undefined
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) add(body.id)
  if (
    request.routeOptions.config.permission === 'lock' &&
    request.rawBody !== undefined &&
    request.rawBody.length > 0
  ) {
    try {
      add(parseLockInfo(request.rawBody)?.ID)
    } catch {
      // an unparseable body is refused by the route itself
    }
  }
  return ids
}

/** True for the routes that take a lock: POST …/lock, POST …/terraform/lock and LOCK …/terraform. */
function acquiresLock(request: FastifyRequest): boolean {
  return request.routeOptions.config.permission === 'lock' && (request.method === 'POST' || request.method === 'LOCK')
}
