/**
 * The console in a real headless Chromium against a real server process
 * with a tokens file: what an operator sees and does, asserted on the page's
 * text and roles. One browser for the file; each tab signs in on its own.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { newToken, tokensFileText } from '../helpers/auth.js'
import { type TestBrowser, launchBrowser } from '../helpers/browser.js'
import { type ServerProcess, startServer } from '../helpers/server-process.js'
import { expectStatus, sendAs } from '../helpers/http-call.js'

const OPS = newToken()
const READER = newToken()
const dir = t.testdir()
writeFileSync(
  join(dir, 'tokens.yaml'),
  tokensFileText([
    { name: 'ops', token: OPS, grants: [{ scope: '*/*', allow: ['*'] }] },
    { name: 'reader', token: READER, grants: [{ scope: '*/*', allow: ['read'] }] },
  ]),
)
let server: ServerProcess
let browser: TestBrowser

/** A Terraform state with one resource whose attribute differs by `size`. */
function state(serial: number, size: string): string {
  return JSON.stringify({
    version: 4,
    terraform_version: '1.9.0',
    serial,
    lineage: '7b0c1e2a-0000-4000-8000-000000000001',
    outputs: { vpc: { value: 'vpc-1', type: 'string' } },
    resources: [
      {
        mode: 'managed',
        type: 'aws_instance',
        name: 'web',
        provider: 'provider["registry.terraform.io/hashicorp/aws"]',
        instances: [{ schema_version: 1, attributes: { id: 'i-1', instance_type: size }, sensitive_attributes: [] }],
      },
    ],
    check_results: null,
  })
}

/** A request to the server as the operator. */
const api = (method: string, path: string, body?: string): Promise<Response> =>
  sendAs(server.url, OPS, method, path, body)

t.before(async () => {
  server = await startServer([
    '--data-dir',
    join(dir, 'data'),
    '--encryption',
    'noop',
    '--tokens-file',
    join(dir, 'tokens.yaml'),
  ])
  const tf = '/v1/factories/prod/stacks/network/terraform'
  await expectStatus(api('POST', tf, state(1, 't3.small')), 200)
  await expectStatus(api('POST', tf, state(2, 't3.large')), 200)
  await expectStatus(
    api(
      'POST',
      '/v1/factories/prod/stacks/db/lock',
      JSON.stringify({ who: 'ci-job-42', operation: 'apply', ttl: 3600 }),
    ),
    201,
  )
  browser = await launchBrowser(t)
})
t.teardown(async () => {
  await server?.stop()
})

async function signedIn(token: string) {
  const page = await browser.newPage(t)
  await page.goto(`${server.url}/`)
  await page.getByLabel('Token').fill(token)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Stacks of prod' }).waitFor()
  return page
}

t.test('an operator signs in with a token and sees the stacks with the lock holder', async (t) => {
  const page = await signedIn(OPS)
  t.teardown(() => page.close())
  await page.getByText('Signed in as ops').waitFor()
  const db = page.getByRole('row', { name: /db/ })
  await db.getByText('ci-job-42 · apply').waitFor()
  t.match((await db.textContent()) ?? '', /by ops/)
  t.match((await page.getByRole('row', { name: /network/ }).textContent()) ?? '', /free/)
})

t.test("a wrong token brings the sign-in box back with the server's refusal", async (t) => {
  const page = await browser.newPage(t)
  t.teardown(() => page.close())
  await page.goto(`${server.url}/ui/`)
  await page.getByLabel('Token').fill(newToken())
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('alert').waitFor()
  t.ok(await page.getByLabel('Token').isVisible(), 'the sign-in box stays')
})

t.test('an operator compares two Terraform revs and sees the changed resource, then rolls back', async (t) => {
  const page = await signedIn(OPS)
  t.teardown(() => page.close())
  await page.getByRole('link', { name: 'network' }).click()
  await page.getByRole('heading', { name: 'History' }).waitFor()
  const picks = page.getByRole('checkbox', { name: /Pick .* to compare/ })
  await picks.nth(0).check()
  await picks.nth(1).check()
  await page.getByRole('link', { name: 'Compare picked revs' }).click()
  const entry = page.getByRole('list', { name: 'Changed addresses' }).getByRole('listitem')
  await entry.getByText('aws_instance.web').waitFor()
  t.match((await entry.textContent()) ?? '', /changed[\s\S]*instance_type[\s\S]*t3\.small[\s\S]*t3\.large/)
  await page.getByRole('link', { name: 'Back to history' }).click()

  const older = (await page
    .getByRole('checkbox', { name: /Pick .* to compare/ })
    .nth(1)
    .getAttribute('aria-label'))!.replace(/^Pick (.*) to compare$/, '$1')
  await page.getByRole('button', { name: `Roll back to ${older}` }).click()
  const dialog = page.getByRole('dialog', { name: 'Roll back prod/network?' })
  await dialog.getByRole('button', { name: 'Roll back' }).click()
  await page.getByText(`Rolled back prod/network: current is now ${older}`).waitFor()
  const current = (await (await api('GET', '/v1/factories/prod/stacks/network/snapshots')).json()) as {
    current: string
  }
  t.equal(current.current, older, 'the server moved current')
})

t.test('an operator force-unlocks with a reason; the holder is gone', async (t) => {
  const page = await signedIn(OPS)
  t.teardown(() => page.close())
  await page.getByRole('link', { name: 'db' }).click()
  await page.getByText('ci-job-42 · apply').waitFor()
  await page.getByRole('button', { name: 'Force-unlock…' }).click()
  const dialog = page.getByRole('dialog', { name: 'Force-unlock prod/db?' })
  t.ok(await dialog.getByRole('button', { name: 'Force-unlock' }).isDisabled(), 'no reason, no force-unlock')
  await dialog.getByLabel(/Reason/).fill('job 42 was cancelled')
  await dialog.getByRole('button', { name: 'Force-unlock' }).click()
  await page.getByText('Force-unlocked prod/db').waitFor()
  await page.getByText('Nobody holds the lock of prod/db.').waitFor()
  t.equal((await api('GET', '/v1/factories/prod/stacks/db/lock')).status, 404, 'the server has no holder')
})

t.test('a caller without force-unlock sees no force-unlock button', async (t) => {
  t.equal(
    (await api('POST', '/v1/factories/prod/stacks/db/lock', JSON.stringify({ who: 'ci-job-43', operation: 'plan' })))
      .status,
    201,
  )
  const page = await signedIn(READER)
  t.teardown(() => page.close())
  await page.getByRole('link', { name: 'db' }).click()
  await page.getByText('ci-job-43 · plan').waitFor()
  await page.getByRole('heading', { name: 'History' }).waitFor()
  t.equal(await page.getByRole('button', { name: /Force-unlock/ }).count(), 0)
  t.equal(await page.getByRole('button', { name: /Roll back/ }).count(), 0, 'nor a rollback (no write permission)')
  t.equal(
    await page.getByRole('button', { name: /maintenance lock/ }).count(),
    0,
    'nor a maintenance lock (no lock permission)',
  )
})
