/**
 * The console's history and live updates in a real headless Chromium against
 * a real server process: each rev shows who wrote it, its kind, size and
 * serial (or "written by another tool"), and a lock taken through the API
 * appears on the open page without a reload.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { newToken, tokensFileText } from '../helpers/auth.js'
import { type TestBrowser, launchBrowser } from '../helpers/browser.js'
import { type ServerProcess, startServer } from '../helpers/server-process.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'
import { expectStatus, sendAs } from '../helpers/http-call.js'

const OPS = newToken()
const dir = t.testdir()
writeFileSync(
  join(dir, 'tokens.yaml'),
  tokensFileText([{ name: 'ops-bot', token: OPS, grants: [{ scope: '*/*', allow: ['*'] }] }]),
)
let server: ServerProcess
let browser: TestBrowser

const STATE = JSON.stringify({
  version: 4,
  terraform_version: '1.9.0',
  serial: 12,
  lineage: '7b0c1e2a-0000-4000-8000-000000000002',
  outputs: {},
  resources: [],
})

/** A request to the server as the operator. */
const api = (method: string, path: string, body?: string): Promise<Response> =>
  sendAs(server.url, OPS, method, path, body)

t.before(async () => {
  const data = join(dir, 'data')
  // A rev the server did not write (as the Go tool would leave it): no metadata.
  const root = makeRoot(data)
  await root.stack('prod', 'legacy').write(sampleSnapshot('go'), { payloadType: 'state', makeCurrent: true })
  root.close()
  server = await startServer(['--data-dir', data, '--encryption', 'noop', '--tokens-file', join(dir, 'tokens.yaml')])
  await expectStatus(api('POST', '/v1/factories/prod/stacks/network/terraform', STATE), 200)
  browser = await launchBrowser(t)
})
t.teardown(async () => {
  await server?.stop()
})

async function openStack(stack: string) {
  const page = await browser.newPage(t)
  await page.goto(`${server.url}/ui/`)
  await page.getByLabel('Token').fill(OPS)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('link', { name: stack, exact: true }).click()
  await page.getByRole('heading', { name: 'History' }).waitFor()
  return page
}

t.test('the history shows who wrote each rev, its kind, size and serial', async (t) => {
  const page = await openStack('network')
  t.teardown(() => page.close())
  const row = page.getByRole('row', { name: /current/ })
  await row.getByText('ops-bot').waitFor()
  const text = (await row.textContent()) ?? ''
  t.match(text, /terraform/)
  t.match(text, /12/, 'the Terraform serial')
  t.match(text, /no lock/, 'written without a lock')
  t.match(text, new RegExp(`${STATE.length} B|${(STATE.length / 1024).toFixed(1)}`), 'the size')
})

t.test('a rev another tool wrote reads "written by another tool", not an error', async (t) => {
  const page = await openStack('legacy')
  t.teardown(() => page.close())
  await page
    .getByRole('row', { name: /current/ })
    .getByText('written by another tool')
    .waitFor()
  t.equal(await page.getByRole('alert').count(), 0, 'no error shown')
})

t.test('a lock taken through the API appears on the open page without a reload', async (t) => {
  const page = await openStack('network')
  t.teardown(() => page.close())
  await page.getByText('Nobody holds the lock of prod/network.').waitFor()
  // A mark in the page's own memory: a reload would lose it.
  await page.evaluate(() => {
    ;(globalThis as unknown as { notReloaded: boolean }).notReloaded = true
  })
  await expectStatus(
    api('POST', '/v1/factories/prod/stacks/network/lock', JSON.stringify({ who: 'live-job-7', operation: 'deploy' })),
    201,
  )
  // The bound is 2 s; the deadline is looser so a loaded machine does not fail it.
  await page.getByText('live-job-7 · deploy').waitFor({ timeout: 10_000 })
  t.equal(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded), true)
})
