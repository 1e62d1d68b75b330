import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { renderOpenapi } from '../../src/tools/write-openapi.js'
import { buildTestApp } from '../helpers/app.js'

const committed = readFileSync(fileURLToPath(new URL('../../openapi.yaml', import.meta.url)), 'utf8')

t.test('the committed openapi.yaml equals the document generated from the route schemas', async (t) => {
  const generated = await renderOpenapi()
  t.equal(committed, generated, 'run `npm run openapi` and commit openapi.yaml')
})

t.test('the server serves the committed openapi.yaml at /openapi.yaml', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/openapi.yaml' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /yaml/)
  // The served version is the test app's; everything else must match the file.
  t.equal(res.body.replace(/^( {2}version: ).*$/m, '$1X'), committed.replace(/^( {2}version: ).*$/m, '$1X'))
})

t.test('every API route of the server is in the document', async (t) => {
  const { app } = await buildTestApp(t)
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, unknown>>
  }
  const documented = new Set(
    Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)),
  )
  for (const op of [
    'GET /v1/factories',
    'GET /v1/factories/{factory}/stacks',
    'GET /v1/factories/{factory}/stacks/{stack}/current',
    'PUT /v1/factories/{factory}/stacks/{stack}/current',
    'POST /v1/factories/{factory}/stacks/{stack}/snapshots',
    'GET /v1/factories/{factory}/stacks/{stack}/snapshots',
    'GET /v1/factories/{factory}/stacks/{stack}/snapshots/{rev}',
    'DELETE /v1/factories/{factory}/stacks/{stack}/snapshots/{rev}',
    'POST /v1/factories/{factory}/stacks/{stack}/snapshots:gc',
    'GET /v1/factories/{factory}/stacks/{stack}/lock',
    'POST /v1/factories/{factory}/stacks/{stack}/lock',
    'PUT /v1/factories/{factory}/stacks/{stack}/lock',
    'DELETE /v1/factories/{factory}/stacks/{stack}/lock',
    'GET /healthz',
    'GET /readyz',
  ]) {
    t.ok(documented.has(op), `${op} is documented`)
  }
})
