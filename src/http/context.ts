/**
 * What every route needs from a request, in one place: the stack's store
 * (names validated by the store before any path is built), the fence from
 * the `Lock-Id` header, and who is calling.
 */
import type { FastifyRequest } from 'fastify'
import { StateError } from '../errors.js'
import type { RouteAccess } from './app-type.js'
import type { AuditSink } from '../audit.js'
import type { Config } from '../config.js'
import type { Fence, ManagedStore, PayloadKind, StoreCatalog, WriteRecord } from '../store/store.js'

/** Everything routes are given by `buildApp`. */
export interface RouteDeps {
  readonly config: Pick<Config, 'requireLock' | 'maxWaitSeconds' | 'lockBodyLimitBytes'>
  readonly root: StoreCatalog
  readonly audit: AuditSink
  /** Aborted when the server starts shutting down: long-poll waits end with 503. */
  readonly shutdown: AbortSignal
}

/** The store named by the request's `factory`/`stack` params. */
export function storeOf(deps: RouteDeps, request: FastifyRequest): ManagedStore {
  const { factory, stack } = request.params as { factory: string; stack: string }
  return deps.root.stack(factory, stack)
}

/** The fence a mutation presents: its Lock-Id, and whether the server requires a lock. */
export function fenceOf(deps: RouteDeps, request: FastifyRequest, lockId?: string): Fence {
  const header = request.headers['lock-id']
  const id = lockId ?? (typeof header === 'string' && header !== '' ? header : undefined)
  return { lockId: id, requireLock: deps.config.requireLock }
}

/** The authenticated principal of the request ("anonymous" when no credentials are configured). */
export function principalOf(request: FastifyRequest): string {
  return (request as FastifyRequest & { principal?: string | null }).principal ?? 'anonymous'
}

/** What the store records with a rev this request writes (its history metadata): the caller and the document's kind. */
export function writeRecordOf(
  request: FastifyRequest,
  document: { kind: PayloadKind; serial?: number | null; lineage?: string | null },
): WriteRecord {
  return {
    principal: principalOf(request),
    remote: request.ip,
    requestId: request.id,
    kind: document.kind,
    serial: document.serial ?? null,
    lineage: document.lineage ?? null,
  }
}

/** Audit fields common to every event of a request. */
export function auditBase(request: FastifyRequest): {
  principal: string
  remote: string
  requestId: string
  factory: string
  stack: string
} {
  const { factory, stack } = request.params as { factory: string; stack: string }
  return { principal: principalOf(request), remote: request.ip, requestId: request.id, factory, stack }
}

/**
 * Whether the caller may read `factory`/`stack`: listings (factories,
 * stacks, per-stack metrics) show only what this says. Always true without
 * credentials configured.
 */
export function mayRead(request: FastifyRequest, factory: string, stack: string | null): boolean {
  const allows = (
    request as FastifyRequest & {
      allows?: ((p: RouteAccess, target: { factory: string | null; stack: string | null }) => boolean) | null
    }
  ).allows
  return typeof allows !== 'function' || allows('read', { factory, stack })
}

/**
 * Checks a permission decided inside a handler (force-unlock through the
 * Terraform routes, forced writes). Without credentials configured every
 * caller holds every permission (the server then listens on loopback only).
 */
export function assertPermission(request: FastifyRequest, permission: RouteAccess): void {
  const check = (request as FastifyRequest & { hasPermission?: ((p: RouteAccess) => boolean) | null }).hasPermission
  if (typeof check === 'function' && !check(permission)) {
    throw new StateError('forbidden', `${principalOf(request)} lacks the ${permission} permission for this operation`)
  }
}
