/** The published contract: GET /openapi.yaml and /openapi.json, generated from the route schemas. */
import type { App } from '../app-type.js'

/** Registers the OpenAPI document routes (public: a client reads the contract before it has credentials). */
export function openapiRoutes(app: App): void {
  app.get(
    '/openapi.yaml',
    {
      config: { permission: 'public', accessLog: 'debug' },
      schema: {
        operationId: 'getOpenapiYaml',
        summary: 'This document, as YAML',
        description:
          "The OpenAPI document generated from the route schemas; the repository's openapi.yaml is the same text.",
        tags: ['contract'],
        produces: ['application/yaml'],
        response: { 200: { type: 'string', description: 'the OpenAPI document' } },
      },
    },
    async (_request, reply) => reply.type('application/yaml').send(app.swagger({ yaml: true })),
  )
  app.get(
    '/openapi.json',
    {
      config: { permission: 'public', accessLog: 'debug' },
      schema: {
        operationId: 'getOpenapiJson',
        summary: 'This document, as JSON',
        description: 'The same document as /openapi.yaml.',
        tags: ['contract'],
        response: { 200: { type: 'object', additionalProperties: true, description: 'the OpenAPI document' } },
      },
    },
    async () => app.swagger() as unknown as Record<string, unknown>,
  )
}
