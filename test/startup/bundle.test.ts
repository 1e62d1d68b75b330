/**
 * The server that `npm run build` makes (and `npm test` runs) is one bundled
 * file: it imports only Node's own modules and the parse worker's locator,
 * which stays a file beside the worker. A real process proves the worker
 * still starts from the bundle: large bodies (parsed off the main thread)
 * are written, refused and read back as before.
 */
import t from 'tap'
import { builtinModules } from 'node:module'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { OFF_THREAD_BYTES } from '../../src/parse/parse-pool.js'
import { SERVER_JS, startServer } from '../helpers/server-process.js'

t.test('dist/src/server.js imports only Node built-ins and the parse worker locator', async (t) => {
  const code = readFileSync(SERVER_JS, 'utf8')
  const specifiers = [
    ...code.matchAll(/^import [^;]*?from ["']([^"']+)["'];?$/gm),
    // Dynamic imports; not the JSDoc type references (`{import('../fastify').…}`) left in comments.
    ...code.matchAll(/(?<!\{)\bimport\(["']([^"']+)["']\)/g),
    ...code.matchAll(/\b__require\(["']([^"']+)["']\)/g),
  ].map((m) => m[1]!)
  t.ok(specifiers.length > 10, `${specifiers.length} imports and requires`)
  const builtins = new Set(builtinModules)
  const foreign = [...new Set(specifiers)].filter(
    (s) => !s.startsWith('node:') && !builtins.has(s) && s !== './parse/worker-file.js',
  )
  t.same(foreign, [], 'no package or source module is loaded beside the bundle')
  t.ok(specifiers.includes('./parse/worker-file.js'), 'the worker locator is imported from its own file')
})

t.test('large bodies go through the parse worker of the bundled server', async (t) => {
  const dir = t.testdir()
  const server = await startServer(['--data-dir', join(dir, 'data'), '--encryption', 'env-key'], {
    UNOBIN_STATE_KEY: Buffer.alloc(32, 9).toString('base64'),
  })
  t.teardown(() => server.stop('SIGKILL'))
  const stack = `${server.url}/v1/factories/f1/stacks/big`
  const pad = 'p'.repeat(OFF_THREAD_BYTES)
  const state = Buffer.from(
    JSON.stringify({
      version: 4,
      terraform_version: '1.11.0',
      serial: 3,
      lineage: 'l-1',
      outputs: { pad: { value: pad, type: 'string' } },
      resources: [],
    }),
  )
  const written = await fetch(`${stack}/terraform`, { method: 'POST', body: state })
  t.equal(written.status, 200, await written.text())
  const read = await fetch(`${stack}/terraform`)
  t.equal(read.status, 200)
  t.ok(Buffer.from(await read.arrayBuffer()).equals(state), 'the large Terraform state reads back byte for byte')

  const bad = Buffer.from(
    JSON.stringify({ 'format-version': 1, entries: [{ address: 'a', 'entry-kind': 'nope' }], outputs: { pad } }),
  )
  const refused = await fetch(`${stack}/snapshots`, {
    method: 'POST',
    body: bad,
    headers: { 'content-type': 'application/json' },
  })
  t.equal(refused.status, 422)
  t.equal(
    ((await refused.json()) as { code: string }).code,
    'invalid-snapshot',
    "the worker's answer, as the main thread gives it",
  )

  const good = Buffer.from(
    JSON.stringify({
      'format-version': 1,
      entries: [{ address: 'a', 'entry-kind': 'leaf', category: 'resource', binding: { alias: 'x', kind: 'y' } }],
      outputs: { pad },
    }),
  )
  const accepted = await fetch(`${stack}/snapshots`, {
    method: 'POST',
    body: good,
    headers: { 'content-type': 'application/json' },
  })
  t.equal(accepted.status, 201, await accepted.text())
  t.equal(await server.stop('SIGTERM'), 0, 'and it stops cleanly')
})
