/**
 * The read audit (--audit-reads): every download of state — the current
 * snapshot, a rev, a diff, outputs, Terraform's GET — is a line in the real
 * audit file with the principal, the stack, the rev, the remote address and
 * the request id; nothing is recorded without the setting, nor for answers
 * that hand out no state.
 */
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../../src/app.js'
import { FileAuditLog } from '../../src/audit.js'
import { SystemClock } from '../../src/clock.js'
import { NoopEncrypter } from '../../src/crypto/noop.js'
import { createLogger } from '../../src/logger.js'
import { StoreRoot } from '../../src/store/store-root.js'
import { authFromText, bearer, newToken, terraformState, tokensFileText } from '../helpers/auth.js'

const STACK = '/v1/factories/f1/stacks/tf'

/** An app with credentials and a real audit file in a testdir. */
async function build(t: Test, auditReads: boolean) {
  const dir = t.testdir()
  const token = newToken()
  const root = new StoreRoot({
    root: join(dir, 'data'),
    encrypter: new NoopEncrypter(),
    clock: new SystemClock(),
    identity: { pid: process.pid, host: 'test' },
  })
  const file = join(dir, 'audit.jsonl')
  const audit = new FileAuditLog(file, new SystemClock(), (err) => t.fail(`audit: ${(err as Error).message}`))
  const { app } = await buildApp({
    config: { requireLock: false, maxWaitSeconds: 30, bodyLimitBytes: 1024 * 1024 },
    root,
    audit,
    logger: createLogger('silent'),
    version: '0.0.0-test',
    auth: authFromText(tokensFileText([{ name: 'reader', token, grants: [{ scope: '*/*', allow: ['*'] }] }])),
    auditReads,
  })
  // The testdir is gone by teardown time: each test closes the audit log itself, before it reads the file.
  t.teardown(async () => {
    await app.close()
    root.close()
  })
  await app.ready()
  const headers = { ...bearer(token), 'x-request-id': 'ci-job-42' }
  for (const serial of [1, 2]) {
    const res = await app.inject({
      method: 'POST',
      url: `${STACK}/terraform`,
      headers: { ...headers, 'content-type': 'application/json' },
      payload: terraformState(serial),
    })
    t.equal(res.statusCode, 200)
  }
  // Listing revs is not a download: it names revs, it hands out no state.
  const revs = (await app.inject({ url: `${STACK}/snapshots`, headers })).json().revs as string[]
  const reads = async () => {
    await audit.close()
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => String(e.action).endsWith('.read'))
  }
  return { app, headers, revs, reads }
}

t.test('with --audit-reads every download is an audit event naming who read which rev of which stack', async (t) => {
  const { app, headers, revs, reads } = await build(t, true)
  const [first, second] = revs as [string, string]
  t.ok(first && second, 'two revs were written')
  const downloads: Array<[string, string, string]> = [
    [`${STACK}/current`, 'snapshot.read', second],
    [`${STACK}/snapshots/${first}`, 'snapshot.read', first],
    [`${STACK}/diff?from=${first}&to=${second}`, 'diff.read', second],
    [`${STACK}/outputs?rev=${first}`, 'outputs.read', first],
    [`${STACK}/terraform`, 'terraform.read', second],
  ]
  for (const [url] of downloads) t.equal((await app.inject({ url, headers })).statusCode, 200, url)
  const events = await reads()
  t.equal(events.length, downloads.length, 'one event per download')
  for (const [i, [url, action, rev]] of downloads.entries()) {
    t.match(
      events[i],
      {
        action,
        principal: 'reader',
        factory: 'f1',
        stack: 'tf',
        rev,
        remote: '127.0.0.1',
        requestId: 'ci-job-42',
        outcome: 'ok',
        time: String,
        detail: { route: String },
      },
      url,
    )
  }
  t.match(events[2], { detail: { from: first } }, 'a diff names both revs')
})

t.test('without --audit-reads downloads leave no audit event', async (t) => {
  const { app, headers, reads } = await build(t, false)
  t.equal((await app.inject({ url: `${STACK}/current`, headers })).statusCode, 200)
  t.equal((await app.inject({ url: `${STACK}/terraform`, headers })).statusCode, 200)
  t.same(await reads(), [])
})

t.test(
  'answers that hand out no state are not audited as reads: 304, HEAD, and a rev that does not exist',
  async (t) => {
    const { app, headers, revs, reads } = await build(t, true)
    const notModified = await app.inject({
      url: `${STACK}/current`,
      headers: { ...headers, 'if-none-match': `"${revs[1]}"` },
    })
    t.equal(notModified.statusCode, 304)
    t.equal((await app.inject({ method: 'HEAD', url: `${STACK}/current`, headers })).statusCode, 200)
    const missing = await app.inject({ url: `${STACK}/snapshots/2020-01-01T00:00:00Z`, headers })
    t.equal(missing.statusCode, 404)
    t.same(await reads(), [])
  },
)
