/**
 * The client calls only routes the server publishes: every (method, path)
 * of the client's route table is an operation of `openapi.yaml`, which
 * another test keeps equal to what the server serves. A route renamed or
 * removed on the server fails here; a field renamed fails the type check.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { ROUTES, routePath } from '../../src/client/api.js'

const spec = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, unknown>>
}

t.test('every route the client calls is an operation of openapi.yaml', async (t) => {
  for (const [name, [method, path]] of Object.entries(ROUTES)) {
    t.ok(spec.paths[path]?.[method], `${name}: ${method.toUpperCase()} ${path}`)
  }
})

t.test('route paths are filled with percent-encoded names', async (t) => {
  t.same(routePath(ROUTES.get, { factory: 'f', stack: 's', rev: '2026-01-01T00:00:00Z_1' }), {
    method: 'GET',
    path: '/v1/factories/f/stacks/s/snapshots/2026-01-01T00%3A00%3A00Z_1',
  })
  t.same(routePath(ROUTES.gc, { factory: 'a.b', stack: 'c-d' }), {
    method: 'POST',
    path: '/v1/factories/a.b/stacks/c-d/snapshots:gc',
  })
})
