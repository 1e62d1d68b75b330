/** The Fastify instance type every route module receives (TypeBox type provider). */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Permission as Grantable } from '../auth/permission.js'
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify'

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>

/**
 * What a route needs of its caller (declared in its `config`; enforced by the
 * auth layer): a grantable permission, `authenticated` (any valid credential, e.g.
 * whoami), or `public` (no credentials: probes, the OpenAPI document).
 */
export type RouteAccess = Grantable | 'authenticated' | 'public'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission this route needs; every API route declares one. */
    permission?: RouteAccess
    /** The route reads its body as raw bytes (snapshots are stored byte-exact). */
    rawBody?: boolean
  }
  interface FastifyRequest {
    /** The raw request body, for routes with `config.rawBody`. */
    rawBody?: Buffer
  }
}
