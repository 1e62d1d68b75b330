/** The OpenAPI document as the server serves it, read into the operations the scenarios must cover. */
import type { Method } from './scenario.js'
import { expectSetup, send } from './requests.js'
import { plain } from './apps.js'

// --- the document ---------------------------------------------------------------------

export interface OpenApiResponse {
  readonly content?: Record<string, { readonly schema?: { readonly $ref?: string } }>
}
export interface OpenApiOperation {
  readonly responses?: Record<string, OpenApiResponse>
  readonly security?: unknown[]
}
/** A path item: operations by lower-case method, and (OpenAPI 3.2) the other methods by their name as sent. */
export type OpenApiPathItem = Record<string, OpenApiOperation> & {
  readonly additionalOperations?: Record<string, OpenApiOperation>
}
export interface OpenApiDocument {
  readonly paths: Record<string, OpenApiPathItem>
  readonly components: {
    readonly schemas: { readonly Problem: { readonly properties: { readonly code: { readonly enum: string[] } } } }
  }
}

/** One operation of the document: whether it needs credentials, and each status with whether it is a problem answer. */
export interface Operation {
  readonly method: Method
  readonly path: string
  readonly isProtected: boolean
  readonly statuses: ReadonlyMap<number, boolean>
}

export const doc = (
  await expectSetup(send(plain, 'GET', '/openapi.json'), 200, 'reading the OpenAPI document')
).json() as OpenApiDocument
export const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'])
/** A problem answer is declared as the server sends it: application/problem+json (and only that). */
export const isProblem = (response: OpenApiResponse): boolean =>
  response.content?.['application/problem+json']?.schema?.$ref === '#/components/schemas/Problem'
/** Every operation of a path item, by upper-case method. */
export const operationsOf = (item: OpenApiPathItem): Array<[string, OpenApiOperation]> => [
  ...Object.entries(item)
    .filter(([method]) => HTTP_METHODS.has(method))
    .map(([method, op]) => [method.toUpperCase(), op] as [string, OpenApiOperation]),
  ...Object.entries(item.additionalOperations ?? {}),
]
export const misdeclared = Object.entries(doc.paths).flatMap(([path, ops]) =>
  operationsOf(ops).flatMap(([method, op]) =>
    Object.entries(op.responses ?? {}).flatMap(([status, response]) =>
      Object.entries(response.content ?? {})
        .filter(
          ([media, m]) => m.schema?.$ref === '#/components/schemas/Problem' && media !== 'application/problem+json',
        )
        .map(([media]) => `${method} ${path} ${status}: ${media}`),
    ),
  ),
)

export const OPERATIONS = new Map<string, Operation>()
for (const [path, ops] of Object.entries(doc.paths)) {
  for (const [method, op] of operationsOf(ops)) {
    const statuses = new Map(
      Object.entries(op.responses ?? {})
        .filter(([status]) => /^\d{3}$/.test(status))
        .map(([status, response]) => [Number(status), isProblem(response)] as const),
    )
    OPERATIONS.set(`${method} ${path}`, {
      method: method as Method,
      path,
      isProtected: (op.security ?? []).length > 0,
      statuses,
    })
  }
}
export const CODES = new Set<string>(doc.components.schemas.Problem.properties.code.enum)
