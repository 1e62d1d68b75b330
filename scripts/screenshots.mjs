#!/usr/bin/env node
// npm run screenshots: the README's pictures of the console (docs/console-*.png):
// stacks, a stack's history and a diff, taken in headless Debian chromium from a
// server with a few example stacks, written by an operator and a deploy pipeline.
import { spawn } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

const data = mkdtempSync(join(tmpdir(), 'unobin-shots-'))
// Two principals, so the history shows who wrote each rev: an operator and a deploy pipeline.
const tokens = { alice: 'shots-alice-token', 'ci-deploy': 'shots-ci-deploy-token' }
const tokensFile = join(data, 'tokens.json')
writeFileSync(
  tokensFile,
  JSON.stringify({
    tokens: Object.entries(tokens).map(([name, token]) => ({
      name,
      hash: `sha256:${createHash('sha256').update(token).digest('hex')}`,
      grants: [{ scope: '*/*', allow: ['*'] }],
    })),
  }),
)
const server = spawn(
  process.execPath,
  [
    'dist/src/server.js',
    '--data-dir',
    join(data, 'state'),
    '--encryption',
    'noop',
    '--listen',
    '127.0.0.1:0',
    '--tokens-file',
    tokensFile,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
)
const url = await new Promise((resolve, reject) => {
  let out = ''
  server.stdout.on('data', (d) => {
    out += d
    const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
    if (m) resolve(m[1])
  })
  server.once('exit', (code) => reject(new Error(`server exited ${code}`)))
})
const state = (serial, size, extra = []) =>
  JSON.stringify({
    version: 4,
    terraform_version: '1.9.0',
    serial,
    lineage: '7b0c1e2a-0000-4000-8000-000000000001',
    outputs: {
      vpc_id: { value: 'vpc-0a1b', type: 'string' },
      db_password: { value: 'hunter2', type: 'string', sensitive: true },
    },
    resources: [
      {
        mode: 'managed',
        type: 'aws_instance',
        name: 'web',
        provider: 'aws',
        instances: [
          {
            schema_version: 1,
            attributes: { id: 'i-0abc', instance_type: size, ami: 'ami-123' },
            sensitive_attributes: [],
          },
        ],
      },
      ...extra,
    ],
    check_results: null,
  })
const call = async (method, path, body, as = 'alice') => {
  const res = await fetch(`${url}${path}`, {
    method,
    body,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[as]}` },
  })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return res
}
const post = (path, body, as) => call('POST', path, body, as)
/** A Terraform apply by the pipeline: LOCK, the state written under the lock, UNLOCK (as Terraform does it). */
const apply = async (path, body, who) => {
  const info = JSON.stringify({
    ID: randomUUID(),
    Operation: 'OperationTypeApply',
    Info: '',
    Who: who,
    Version: '1.9.0',
    Created: new Date().toISOString(),
    Path: '',
  })
  await call('LOCK', path, info, 'ci-deploy')
  await post(`${path}?ID=${JSON.parse(info).ID}`, body, 'ci-deploy')
  await call('UNLOCK', path, info, 'ci-deploy')
}
const eip = {
  mode: 'managed',
  type: 'aws_eip',
  name: 'web',
  provider: 'aws',
  instances: [
    { schema_version: 0, attributes: { id: 'eipalloc-1', public_ip: '203.0.113.7' }, sensitive_attributes: [] },
  ],
}
try {
  for (const s of ['billing', 'dns', 'edge', 'network', 'search'])
    await post(`/v1/factories/prod/stacks/${s}/terraform`, state(1, 't3.small'))
  await apply('/v1/factories/prod/stacks/network/terraform', state(2, 't3.medium'), 'ci-pipeline-8790')
  await apply('/v1/factories/prod/stacks/network/terraform', state(3, 't3.large', [eip]), 'ci-pipeline-8812')
  await post('/v1/factories/staging/stacks/network/terraform', state(1, 't3.micro'))
  await post(
    '/v1/factories/prod/stacks/dns/lock',
    JSON.stringify({ who: 'ci-pipeline-8812', operation: 'apply', ttl: 1800 }),
    'ci-deploy',
  )
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  const page = await browser.newPage({ viewport: { width: 1280, height: 560 } })
  await page.goto(`${url}/ui/`)
  await page.getByLabel('Token').fill(tokens.alice)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByText('ci-pipeline-8812 · apply').waitFor()
  await page.screenshot({ path: 'docs/console-stacks.png' })
  await page.setViewportSize({ width: 1280, height: 900 })
  await page.getByRole('link', { name: 'network' }).first().click()
  const picks = page.getByRole('checkbox', { name: /Pick .* to compare/ })
  await picks.nth(2).waitFor()
  await page.screenshot({ path: 'docs/console-history.png', fullPage: true })
  await picks.nth(0).check()
  await picks.nth(1).check()
  await page.getByRole('link', { name: 'Compare picked revs' }).click()
  await page.getByText('aws_instance.web').waitFor()
  await page.screenshot({ path: 'docs/console-diff.png', fullPage: true })
  await browser.close()
} finally {
  server.kill('SIGTERM')
  rmSync(data, { recursive: true, force: true })
}
