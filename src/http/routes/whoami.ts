/**
 * GET /v1/whoami[?factory=&stack=]: the caller's principal and the
 * permissions it holds at a scope, so the console (and scripts) offer only
 * actions that will succeed. Any valid credential may ask.
 */
import { PERMISSIONS } from '../../auth/permission.js'
import { allowedOn } from '../../auth/policy.js'
import { StateError } from '../../errors.js'
import type { App } from '../app-type.js'
import { WhoamiQuery, WhoamiResponse } from '../console-schemas.js'
import type { RouteDeps } from '../context.js'
import { problems } from '../schemas.js'

/** Registers GET /v1/whoami. */
export function whoamiRoutes(app: App, deps: RouteDeps): void {
  app.get(
    '/v1/whoami',
    {
      config: { permission: 'authenticated' },
      schema: {
        operationId: 'whoami',
        summary: 'Who am I, and what may I do here',
        description:
          "The caller's principal, and the permissions it holds at the scope named by ?factory= and ?stack= (without them: on every factory, what listing all factories needs; with ?factory= alone: on every stack of that factory). Without credentials configured, every caller is anonymous with every permission.",
        tags: ['discovery'],
        querystring: WhoamiQuery,
        response: { 200: WhoamiResponse, ...problems(400) },
      },
    },
    async (request) => {
      const { factory, stack } = request.query
      if (stack !== undefined && factory === undefined)
        throw new StateError('invalid-request', '?stack= needs ?factory=: name the factory the stack belongs to')
      const scope = { factory: factory ?? null, stack: stack ?? null }
      const identity = request.identity
      if (identity === null)
        return {
          principal: 'anonymous',
          kind: 'anonymous' as const,
          authenticated: false,
          scope,
          permissions: [...PERMISSIONS],
        }
      return {
        principal: identity.principal,
        kind: identity.kind,
        authenticated: true,
        scope,
        permissions: allowedOn(identity.grants, scope, { ignoreCase: deps.root.foldsCase }),
      }
    },
  )
}
