/** The published contract: GET /openapi.yaml and /openapi.json, generated from the route schemas. */
import type { App } from '../app-type.js'

/** Registers the OpenAPI document routes (themselves hidden from the document). */
export function openapiRoutes(app: App): void {
  app.get('/openapi.yaml', { config: { permission: 'public' }, schema: { hide: true } }, async (_request, reply) => reply.type('application/yaml').send(app.swagger({ yaml: true })))
  app.get('/openapi.json', { config: { permission: 'public' }, schema: { hide: true } }, async () => app.swagger())
}
