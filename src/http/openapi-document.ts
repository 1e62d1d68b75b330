/**
 * The last pass over the published OpenAPI document, after @fastify/swagger
 * built it from the route schemas: what the route schemas cannot say, said
 * once for every operation.
 */
import { STATUS_CODES } from 'node:http'
import type { ErrorCode } from '../errors.js'
import { STATUS } from './problems.js'
import { PROBLEM_ID } from './schemas.js'

/** A response of the document, as far as this pass reads and writes it. */
interface ResponseObject {
  description?: string
  headers?: Record<string, unknown>
  content?: Record<string, { schema?: { $ref?: string } }>
}
interface OperationObject {
  responses?: Record<string, ResponseObject>
}
/** A path item: operations by lower-case method, and (OpenAPI 3.2) other methods under additionalOperations. */
type PathItem = Record<string, OperationObject> & { additionalOperations?: Record<string, OperationObject> }

/** Headers the server sends on many answers, published once under `#/components/headers`. */
export const SHARED_HEADERS = {
  'X-Request-Id': {
    description: "the id of this request, as the server log and a problem's requestId name it",
    schema: { type: 'string', format: 'uuid' },
  },
  'WWW-Authenticate': {
    description:
      'the challenge: Bearer (a token or a CI identity token), or Basic with the token as password (Terraform)',
    schema: { type: 'string' },
  },
  'Retry-After': {
    description: 'seconds to wait before retrying (sent with rate-limited, shutting-down and auth-unavailable)',
    schema: { type: 'integer', minimum: 0 },
  },
} as const

const header = (name: keyof typeof SHARED_HEADERS) => ({ $ref: `#/components/headers/${name}` })

/** Every operation of a path item (additionalOperations included). */
function operationsOf(item: PathItem): OperationObject[] {
  const { additionalOperations, ...fixed } = item
  return [
    ...Object.entries(fixed)
      .filter(([key]) => key !== 'parameters')
      .map(([, op]) => op),
    ...Object.values(additionalOperations ?? {}),
  ]
}

/** The error codes answered with `status`, in the table's order. */
function codesOf(status: number): ErrorCode[] {
  return (Object.entries(STATUS) as Array<[ErrorCode, number]>).filter(([, s]) => s === status).map(([code]) => code)
}

/** What a problem answer with `status` means: the status and the codes it can carry. */
export function problemDescription(status: number): string {
  const codes = codesOf(status).map((code) => `\`${code}\``)
  const list = codes.length === 1 ? codes[0] : `${codes.slice(0, -1).join(', ')} or ${codes[codes.length - 1]}`
  return `${STATUS_CODES[status] ?? 'Error'}: a problem whose code is ${list}; its detail says what to do`
}

/**
 * Finishes the document: problem answers get the media type the server
 * sends, `application/problem+json` (@fastify/swagger names every body
 * `application/json`), a description naming the codes of their status, and
 * their headers (WWW-Authenticate on 401, Retry-After on 429 and 503); every
 * answer declares X-Request-Id; and the result is a plain tree, so the YAML
 * has no anchors or aliases (route schemas share objects, such as a `tags`
 * array).
 */
export function finishDocument<T extends object>(doc: T): T {
  const copy = JSON.parse(JSON.stringify(doc)) as T & {
    paths?: Record<string, PathItem>
    components?: Record<string, unknown>
  }
  copy.components = { ...copy.components, headers: SHARED_HEADERS }
  for (const item of Object.values(copy.paths ?? {})) {
    for (const operation of operationsOf(item)) {
      for (const [key, response] of Object.entries(operation.responses ?? {})) {
        const status = Number(key)
        const json = response.content?.['application/json']
        const headers: Record<string, unknown> = { ...response.headers, 'X-Request-Id': header('X-Request-Id') }
        if (json?.schema?.$ref === `#/components/schemas/${PROBLEM_ID}`) {
          response.content = { 'application/problem+json': json }
          response.description = problemDescription(status)
          if (status === 401) headers['WWW-Authenticate'] = header('WWW-Authenticate')
          if (status === 429 || status === 503) headers['Retry-After'] = header('Retry-After')
        }
        response.headers = headers
      }
    }
  }
  return copy
}
