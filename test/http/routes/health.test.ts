/**
 * Readiness details (encryption mode, the failed check) are for
 * authenticated callers; anyone else gets the status alone, and the server
 * logs each change of readiness with its cause.
 */
import t, { type Test } from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildApp } from '../../../src/app.js'
import { MemoryAudit } from '../../helpers/app.js'
import { ManualTime, authFromText, bearer, newToken, tokensFileText } from '../../helpers/auth.js'
import { type CapturedLog, captureLog } from '../../helpers/log-capture.js'
import { makeRoot } from '../../helpers/store.js'

async function appWith(t: Test, dir: string, log: CapturedLog, token?: string) {
  const root = makeRoot(dir)
  const auth =
    token === undefined
      ? undefined
      : authFromText(tokensFileText([{ name: 'reader', token, grants: [{ scope: 'f1/*', allow: ['read'] }] }]), {
          rateLimit: { perMinute: 60, burst: 3 },
          // The limiter's clock stands still: on the wall clock a slow machine refilled the bucket between requests.
          now: new ManualTime().now,
        })
  const built = await buildApp({
    config: { requireLock: false, maxWaitSeconds: 1, bodyLimitBytes: 1024 * 1024 },
    root,
    audit: new MemoryAudit(),
    logger: log.logger,
    version: '0',
    auth,
  })
  t.teardown(async () => {
    await built.app.close()
    root.close()
  })
  await built.app.ready()
  return built
}

async function brokenDir(t: Test): Promise<string> {
  const parent = t.testdir()
  await writeFile(join(parent, 'plain-file'), 'not a directory')
  return join(parent, 'plain-file', 'data')
}

t.test('an unauthenticated probe gets the status only', async (t) => {
  const { app } = await appWith(t, t.testdir(), captureLog('silent'))
  const res = await app.inject({ url: '/readyz' })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { status: 'ready' }, 'no encryption mode, no checks')
})

t.test('an authenticated caller sees the checks; a wrong token is anonymous', async (t) => {
  const token = newToken()
  const { app } = await appWith(t, await brokenDir(t), captureLog('silent'), token)
  const detailed = await app.inject({ url: '/readyz', headers: bearer(token) })
  t.equal(detailed.statusCode, 503)
  t.strictSame(detailed.json(), {
    status: 'unavailable',
    checks: { encryption: 'noop', dataDir: 'not writable (ENOTDIR)' },
  })
  const anonymous = await app.inject({ url: '/readyz', headers: bearer(newToken()) })
  t.equal(anonymous.statusCode, 503)
  t.strictSame(anonymous.json(), { status: 'unavailable' })
})

t.test('wrong tokens on /readyz count as failed attempts, so it is no oracle for guessing tokens', async (t) => {
  const token = newToken()
  const { app } = await appWith(t, t.testdir(), captureLog('silent'), token)
  for (let i = 0; i < 3; i++) await app.inject({ url: '/readyz', headers: bearer(newToken()) })
  const afterBurst = await app.inject({ url: '/readyz', headers: bearer(token) })
  t.equal(afterBurst.statusCode, 200, 'the probe itself still answers')
  t.strictSame(afterBurst.json(), { status: 'ready' }, 'but no longer checks tokens from that address')
})

t.test('the server logs a change of readiness with its cause, once', async (t) => {
  const log = captureLog('info')
  const { app } = await appWith(t, await brokenDir(t), log)
  await app.inject({ url: '/readyz' })
  await app.inject({ url: '/readyz' })
  const warnings = log.entries().filter((e) => e.msg === 'not ready: /readyz answers 503')
  t.equal(warnings.length, 1, 'one warning, not one per probe')
  t.match(warnings[0], { level: 40, checks: { dataDir: 'not writable (ENOTDIR)' } })
})

t.test('shutting down turns readiness off and says why in the log', async (t) => {
  const log = captureLog('info')
  const { app, beginShutdown } = await appWith(t, t.testdir(), log)
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
  beginShutdown()
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 503)
  t.match(
    log.entries().find((e) => e.msg === 'not ready: /readyz answers 503'),
    { checks: { server: 'shutting down' } },
  )
})
