/**
 * Rules every operation of the published document follows, so routes added
 * later follow them too: a stable camelCase operationId (unique), a summary,
 * a description and a tag; an explicit `security` that is empty exactly on
 * the public routes; every route the server answers is in the document;
 * every answer is described and declares the headers the server sends with
 * it; shared schemas are components, referenced rather than repeated.
 */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

interface Response {
  readonly description?: string
  readonly headers?: Record<string, unknown>
  readonly content?: Record<string, { readonly schema?: { readonly $ref?: string } }>
}
interface Operation {
  readonly responses?: Record<string, Response>
  readonly parameters?: ReadonlyArray<{ readonly in: string; readonly name: string }>
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
  readonly components: { readonly schemas: Record<string, unknown>; readonly headers?: Record<string, unknown> }
}

const FIXED_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace', 'query'])

const built = await buildTestApp(t)
const doc = (await built.app.inject({ method: 'GET', url: '/openapi.json' })).json() as Document

/** Every operation, keyed "METHOD /path" with the path as the server routes it (:param). */
const operations = new Map<string, Operation>()
for (const [path, item] of Object.entries(doc.paths)) {
  const routePath = path.replace(/\{(\w+)\}/g, ':$1')
  for (const [method, op] of Object.entries(item))
    if (FIXED_METHODS.has(method)) operations.set(`${method.toUpperCase()} ${routePath}`, op)
  for (const [method, op] of Object.entries(item.additionalOperations ?? {}))
    operations.set(`${method} ${routePath}`, op)
}

t.test('every operation has a camelCase operationId no other operation has', async (t) => {
  const ids = new Map<string, string[]>()
  for (const [key, op] of operations) {
    t.match(op.operationId ?? '', /^[a-z][A-Za-z0-9]*$/, `${key} has a camelCase operationId`)
    if (op.operationId !== undefined) ids.set(op.operationId, [...(ids.get(op.operationId) ?? []), key])
  }
  t.strictSame(
    [...ids].filter(([, keys]) => keys.length > 1),
    [],
    'operationIds used twice',
  )
})

t.test('every operation has a summary, a description and a declared tag', async (t) => {
  const tags = new Set(doc.tags.map((tag) => tag.name))
  for (const [key, op] of operations) {
    t.ok((op.summary ?? '').length > 0, `${key} has a summary`)
    t.ok((op.description ?? '').length > 0, `${key} has a description`)
    t.ok(
      (op.tags ?? []).length > 0 && (op.tags ?? []).every((tag) => tags.has(tag)),
      `${key} has tags declared at the top of the document`,
    )
  }
})

t.test('security is declared on every operation, and empty exactly on the public routes', async (t) => {
  for (const route of built.routes) {
    const op = operations.get(`${route.method === 'HEAD' ? 'GET' : route.method} ${route.url.replace('::', ':')}`)
    if (op === undefined) continue // the next test names it
    t.ok(Array.isArray(op.security), `${route.method} ${route.url} declares security`)
    t.equal(
      op.security?.length === 0,
      route.permission === 'public',
      `${route.method} ${route.url}: security is empty only when the route is public (${route.permission})`,
    )
  }
})

t.test('every route the server answers is in the document', async (t) => {
  // HEAD answers as its GET does (HTTP semantics; Fastify adds one per GET route): the document lists the GET.
  const key = (method: string, url: string): string => `${method} ${url.replace('::', ':')}`
  const listed = (r: { method: string; url: string }): boolean =>
    operations.has(key(r.method, r.url)) || (r.method === 'HEAD' && operations.has(key('GET', r.url)))
  const missing = built.routes.filter((r) => !listed(r)).map((r) => key(r.method, r.url))
  t.strictSame(missing, [], 'routes hidden from the document')
  t.ok(operations.size >= 30, `${operations.size} operations`)
})

/** Each response of the document, keyed "METHOD /path status". */
const responses = new Map<string, Response>()
for (const [key, op] of operations)
  for (const [status, response] of Object.entries(op.responses ?? {})) responses.set(`${key} ${status}`, response)
const isProblem = (r: Response): boolean =>
  r.content?.['application/problem+json']?.schema?.$ref === '#/components/schemas/Problem'
const headerNames = (r: Response): string[] => Object.keys(r.headers ?? {})

t.test('every answer has a description of its own and declares X-Request-Id', async (t) => {
  for (const [key, response] of responses) {
    t.ok((response.description ?? '') !== '' && response.description !== 'Default Response', `${key} is described`)
    t.ok(headerNames(response).includes('X-Request-Id'), `${key} declares X-Request-Id`)
  }
})

t.test(
  'a problem answer is described by its status and codes, with WWW-Authenticate on 401 and Retry-After on 429 and 503',
  async (t) => {
    let problems = 0
    for (const [key, response] of responses) {
      if (!isProblem(response)) continue
      problems++
      const status = Number(key.split(' ').at(-1))
      t.match(response.description ?? '', /: a problem whose code is `[a-z-]+`/, `${key} names the codes of its status`)
      if (status === 401) t.ok(headerNames(response).includes('WWW-Authenticate'), `${key} declares WWW-Authenticate`)
      if (status === 429 || status === 503)
        t.ok(headerNames(response).includes('Retry-After'), `${key} declares Retry-After`)
    }
    t.ok(problems > 200, `${problems} problem answers`)
  },
)

t.test(
  'snapshot reads declare ETag and If-None-Match, a write its Location, a rollback If-Match, Terraform routes Content-MD5',
  async (t) => {
    const STACK = '/v1/factories/:factory/stacks/:stack'
    for (const key of [`GET ${STACK}/current`, `GET ${STACK}/snapshots/:rev`]) {
      t.ok(headerNames(responses.get(`${key} 200`) ?? {}).includes('ETag'), `${key} 200 declares ETag`)
      t.ok(headerNames(responses.get(`${key} 304`) ?? {}).includes('ETag'), `${key} 304 declares ETag`)
      t.ok(
        operations.get(key)?.parameters?.some((p) => p.in === 'header' && p.name === 'if-none-match'),
        `${key} takes If-None-Match`,
      )
    }
    t.ok(
      headerNames(responses.get(`POST ${STACK}/snapshots 201`) ?? {}).includes('Location'),
      'a written rev declares its Location',
    )
    t.ok(
      operations.get(`PUT ${STACK}/current`)?.parameters?.some((p) => p.in === 'header' && p.name === 'if-match'),
      'PUT …/current takes If-Match',
    )
    for (const [key, op] of operations) {
      if (key.includes('/terraform'))
        t.ok(
          op.parameters?.some((p) => p.in === 'header' && p.name === 'content-md5'),
          `${key} takes Content-MD5`,
        )
      const body = ['PUT', 'POST', 'DELETE'].includes(key.split(' ')[0]!) && !key.includes('/terraform')
      const mutates =
        body && !key.endsWith(':reseal') && !key.startsWith('POST /v1/factories/:factory/stacks/:stack/lock')
      if (mutates)
        t.ok(
          op.parameters?.some((p) => p.in === 'header' && p.name === 'lock-id'),
          `${key} takes Lock-Id`,
        )
    }
  },
)

t.test(
  'the lock holder, the problem, a page of revs, a stack summary, a trash entry and a LockInfo are shared components',
  async (t) => {
    for (const name of ['LockHolder', 'Problem', 'RevList', 'StackSummary', 'TrashEntry', 'LockInfo'])
      t.ok(name in doc.components.schemas, `${name} is a component`)
    const text = JSON.stringify(doc.paths)
    t.notMatch(text, /"generation":\{"type":"integer"/, 'no operation repeats the holder inline')
    t.match(
      JSON.stringify(doc.components.schemas.Problem),
      /"holder":\{"\$ref":"#\/components\/schemas\/LockHolder"\}/,
      "a problem's holder is a LockHolder",
    )
    t.ok((text.match(/#\/components\/schemas\/LockHolder/g) ?? []).length >= 4, 'routes reference the LockHolder')
  },
)
