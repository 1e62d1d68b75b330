#!/usr/bin/env node
// npm run screenshots: the README's pictures of the console (docs/console-*.png),
// taken in headless Debian chromium from a server with a few example stacks.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

const data = mkdtempSync(join(tmpdir(), 'unobin-shots-'))
const server = spawn(
  process.execPath,
  ['dist/src/server.js', '--data-dir', data, '--encryption', 'noop', '--listen', '127.0.0.1:0'],
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
const post = (path, body) =>
  fetch(`${url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
try {
  for (const s of ['billing', 'dns', 'edge', 'network', 'search'])
    await post(`/v1/factories/prod/stacks/${s}/terraform`, state(1, 't3.small'))
  await post(
    '/v1/factories/prod/stacks/network/terraform',
    state(2, 't3.large', [
      {
        mode: 'managed',
        type: 'aws_eip',
        name: 'web',
        provider: 'aws',
        instances: [
          { schema_version: 0, attributes: { id: 'eipalloc-1', public_ip: '203.0.113.7' }, sensitive_attributes: [] },
        ],
      },
    ]),
  )
  await post('/v1/factories/staging/stacks/network/terraform', state(1, 't3.micro'))
  await post(
    '/v1/factories/prod/stacks/dns/lock',
    JSON.stringify({ who: 'ci-pipeline-8812', operation: 'apply', ttl: 1800 }),
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
  await page.getByText('ci-pipeline-8812 · apply').waitFor()
  await page.screenshot({ path: 'docs/console-stacks.png' })
  await page.setViewportSize({ width: 1280, height: 900 })
  await page.getByRole('link', { name: 'network' }).click()
  const picks = page.getByRole('checkbox', { name: /Pick .* to compare/ })
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
