/**
 * The last pass over the published OpenAPI document, after @fastify/swagger
 * built it from the route schemas: what the route schemas cannot say, said
 * once for every operation.
 */
import { PROBLEM_ID } from './schemas.js'

/** A response of the document, as far as this pass reads it. */
interface ResponseObject {
  content?: Record<string, { schema?: { $ref?: string } }>
}

/** A path item: operations by lower-case method, and (OpenAPI 3.2) other methods under additionalOperations. */
type PathItem = Record<string, { responses?: Record<string, ResponseObject> }> & {
  additionalOperations?: Record<string, { responses?: Record<string, ResponseObject> }>
}

/** Every operation of a path item (additionalOperations included). */
function operationsOf(item: PathItem): Array<{ responses?: Record<string, ResponseObject> }> {
  const { additionalOperations, ...fixed } = item
  return [...Object.entries(fixed).filter(([key]) => key !== 'parameters').map(([, op]) => op), ...Object.values(additionalOperations ?? {})]
}

/**
 * Finishes the document: problem answers get the media type the server
 * sends, `application/problem+json` (@fastify/swagger names every body
 * `application/json`); and the result is a plain tree, so the YAML has no
 * anchors or aliases (route schemas share objects, such as a `tags` array).
 */
export function finishDocument<T extends object>(doc: T): T {
  const copy = JSON.parse(JSON.stringify(doc)) as T
  const paths = (copy as { paths?: Record<string, PathItem> }).paths ?? {}
  for (const item of Object.values(paths)) {
    for (const operation of operationsOf(item)) {
      for (const response of Object.values(operation.responses ?? {})) {
        const json = response.content?.['application/json']
        if (json?.schema?.$ref === `#/components/schemas/${PROBLEM_ID}`) response.content = { 'application/problem+json': json }
      }
    }
  }
  return copy
}
