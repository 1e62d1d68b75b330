/**
 * Rules every operation of the published document follows, so routes added
 * later follow them too: a stable camelCase operationId (unique), a summary,
 * a description and a tag; an explicit `security` that is empty exactly on
 * the public routes; and every route the server answers is in the document.
 */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

interface Operation {
  readonly operationId?: string
  readonly summary?: string
  readonly description?: string
  readonly tags?: string[]
  readonly security?: unknown[]
}
type PathItem = Record<string, Operation> & { readonly additionalOperations?: Record<string, Operation> }
interface Document {
  readonly paths: Record<string, PathItem>
  readonly tags: ReadonlyArray<{ readonly name: string }>
}

const FIXED_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace', 'query'])

const built = await buildTestApp(t)
const doc = (await built.app.inject({ method: 'GET', url: '/openapi.json' })).json() as Document

/** Every operation, keyed "METHOD /path" with the path as the server routes it (:param). */
const operations = new Map<string, Operation>()
for (const [path, item] of Object.entries(doc.paths)) {
  const routePath = path.replace(/\{(\w+)\}/g, ':$1')
  for (const [method, op] of Object.entries(item)) if (FIXED_METHODS.has(method)) operations.set(`${method.toUpperCase()} ${routePath}`, op)
  for (const [method, op] of Object.entries(item.additionalOperations ?? {})) operations.set(`${method} ${routePath}`, op)
}

t.test('every operation has a camelCase operationId no other operation has', async (t) => {
  const ids = new Map<string, string[]>()
  for (const [key, op] of operations) {
    t.match(op.operationId ?? '', /^[a-z][A-Za-z0-9]*$/, `${key} has a camelCase operationId`)
    if (op.operationId !== undefined) ids.set(op.operationId, [...(ids.get(op.operationId) ?? []), key])
  }
  t.strictSame([...ids].filter(([, keys]) => keys.length > 1), [], 'operationIds used twice')
})

t.test('every operation has a summary, a description and a declared tag', async (t) => {
  const tags = new Set(doc.tags.map((tag) => tag.name))
  for (const [key, op] of operations) {
    t.ok((op.summary ?? '').length > 0, `${key} has a summary`)
    t.ok((op.description ?? '').length > 0, `${key} has a description`)
    t.ok((op.tags ?? []).length > 0 && (op.tags ?? []).every((tag) => tags.has(tag)), `${key} has tags declared at the top of the document`)
  }
})

t.test('security is declared on every operation, and empty exactly on the public routes', async (t) => {
  for (const route of built.routes) {
    const op = operations.get(`${route.method} ${route.url.replace('::', ':')}`)
    if (op === undefined) continue // the next test names it
    t.ok(Array.isArray(op.security), `${route.method} ${route.url} declares security`)
    t.equal(op.security?.length === 0, route.permission === 'public', `${route.method} ${route.url}: security is empty only when the route is public (${route.permission})`)
  }
})

t.test('every route the server answers is in the document', async (t) => {
  const missing = built.routes.map((r) => `${r.method} ${r.url.replace('::', ':')}`).filter((key) => !operations.has(key))
  t.strictSame(missing, [], 'routes hidden from the document')
  t.ok(operations.size >= 30, `${operations.size} operations`)
})
