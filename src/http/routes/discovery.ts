/**
 * Discovery: the factories, and each factory's stacks with current rev, rev
 * count and lock. Both list only what the caller may read: a factory whose
 * stacks it may list (read on `<factory>/*`), and in it the stacks it may
 * read; a denied stack is neither listed nor counted.
 */
import type { App } from '../app-type.js'
import { type RouteDeps, mayRead } from '../context.js'
import { FactoriesResponse, FactoryParams, PageQuery, StackPageQuery, StacksResponse, problems } from '../schemas.js'

/** Registers GET /v1/factories and GET /v1/factories/:factory/stacks. */
export function discoveryRoutes(app: App, deps: RouteDeps): void {
  app.get(
    '/v1/factories',
    {
      config: { permission: 'read' },
      schema: {
        operationId: 'listFactories',
        summary: 'List factories',
        description:
          "Each factory with its number of stacks, 1,000 per page by default (?limit= up to 10,000, ?after= the previous page's `next`).",
        tags: ['discovery'],
        querystring: PageQuery,
        response: { 200: FactoriesResponse, ...problems(400) },
      },
    },
    async (request) => {
      const visible = (await deps.root.factories()).filter((name) => mayRead(request, name, null))
      const { names, next } = page(visible, request.query.after, request.query.limit ?? 1000)
      const factories = await Promise.all(
        names.map(async (name) => ({
          name,
          stacks: (await deps.root.stacks(name).catch(() => [])).filter((stack) => mayRead(request, name, stack))
            .length,
        })),
      )
      return { factories, next }
    },
  )

  app.get(
    '/v1/factories/:factory/stacks',
    {
      config: { permission: 'read' },
      schema: {
        operationId: 'listStacks',
        summary: 'List the stacks of a factory',
        description:
          "Each stack with its current rev, rev count and lock holder, 100 per page by default (?limit= up to 10,000, ?after= the previous page's `next`); ?match= keeps the stacks whose name contains the text.",
        tags: ['discovery'],
        params: FactoryParams,
        querystring: StackPageQuery,
        response: { 200: StacksResponse, ...problems(400, 404) },
      },
    },
    async (request) => {
      const { factory } = request.params
      const match = request.query.match?.toLowerCase()
      const visible = (await deps.root.stacks(factory)).filter((stack) => mayRead(request, factory, stack))
      // The names are filtered before any summary is read: a page costs the same in a factory of 10 or 10,000 stacks.
      const { names, next } = page(
        match === undefined ? visible : visible.filter((n) => n.toLowerCase().includes(match)),
        request.query.after,
        request.query.limit ?? 100,
      )
      const stacks = await Promise.all(
        names.map(async (name) => {
          const s = await deps.root.summary(factory, name)
          return { name, current: s.current, revs: s.revs, lock: s.lock, error: s.error }
        }),
      )
      return { factory, stacks, next }
    },
  )
}

/** One page of sorted `names` after `after`; `next` is the last name when more follow. */
function page(names: string[], after: string | undefined, limit: number): { names: string[]; next: string | null } {
  const start = after === undefined ? 0 : names.findIndex((n) => n > after)
  const rest = start < 0 ? [] : names.slice(start)
  const chosen = rest.slice(0, limit)
  return { names: chosen, next: rest.length > limit ? chosen[chosen.length - 1]! : null }
}
