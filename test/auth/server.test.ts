/**
 * Safe defaults of the process: which addresses it listens on with and
 * without credentials, TLS, trusted proxies, and what it logs about auth.
 * The TLS fixture (test/auth/fixtures/tls) is a self-signed certificate for
 * 127.0.0.1 made for these tests only.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import { request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { ConfigError, loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { MemoryAudit } from '../helpers/app.js'
import { SERVER_JS, startServer } from '../helpers/server-process.js'
import { makeRoot } from '../helpers/store.js'
import { authFromText, bearer, newToken, tokensFileText } from '../helpers/auth.js'

const TLS = fileURLToPath(new URL('./fixtures/tls/', import.meta.url))

function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = loadConfig(argv, env)
  if (parsed.kind !== 'run') throw new Error('expected a run command')
  return parsed.config
}

t.test('without credentials a non-loopback address is refused unless explicitly allowed', async (t) => {
  t.throws(() => run(['--listen', '0.0.0.0:8080']), {
    name: 'ConfigError',
    message: /--tokens-file.*--allow-unauthenticated/,
  })
  t.equal(run(['--listen', '0.0.0.0:8080', '--allow-unauthenticated']).listen.host, '0.0.0.0')
})

t.test('with a tokens file a non-loopback address is allowed', async (t) => {
  t.equal(
    run(['--listen', '0.0.0.0:8080', '--tokens-file', '/etc/unobin/tokens.yaml']).tokensFile,
    '/etc/unobin/tokens.yaml',
  )
  t.equal(run(['--listen', '[::]:8080'], { UNOBIN_STATE_TOKENS_FILE: '/etc/unobin/tokens.yaml' }).listen.host, '::')
})

t.test('limits, TLS and proxies have safe defaults', async (t) => {
  const config = run([])
  t.equal(config.tokensFile, null)
  t.equal(config.rateLimitPerMinute, 600)
  t.equal(config.rateBurst, 120)
  t.equal(config.maxLocksPerCaller, 100)
  t.equal(config.tlsCert, null)
  t.strictSame(config.trustProxy, [])
})

t.test('TLS needs both a certificate and a key', async (t) => {
  t.throws(() => run(['--tls-cert', 'cert.pem']), ConfigError)
  t.throws(() => run([], { UNOBIN_STATE_TLS_KEY: 'key.pem' }), { message: /--tls-cert.*--tls-key/ })
  t.equal(run(['--tls-cert', 'c.pem', '--tls-key', 'k.pem']).tlsKey, 'k.pem')
})

t.test('trusted proxies must be addresses or CIDRs', async (t) => {
  t.strictSame(run(['--trust-proxy', '10.0.0.0/8, 127.0.0.1,::1']).trustProxy, ['10.0.0.0/8', '127.0.0.1', '::1'])
  t.throws(() => run(['--trust-proxy', 'true']), { message: /--trust-proxy/ })
  t.throws(() => run(['--trust-proxy', '10.0.0.0/33']), { message: /--trust-proxy/ })
  t.throws(() => run(['--rate-limit', '-1']), { message: /--rate-limit/ })
})

t.test('X-Forwarded-For is believed only from a configured proxy', async (t) => {
  const token = newToken()
  const auth = authFromText(tokensFileText([{ name: 'ops', token, grants: [{ scope: '*/*', allow: ['*'] }] }]))
  for (const [trustProxy, expected] of [
    [undefined, '127.0.0.1'],
    [['127.0.0.1'], '203.0.113.7'],
  ] as const) {
    const root = makeRoot(t.testdir())
    const audit = new MemoryAudit()
    const { app } = await buildApp({
      config: { requireLock: false, maxWaitSeconds: 1, bodyLimitBytes: 1024 * 1024 },
      root,
      audit,
      logger: createLogger('silent'),
      version: '0',
      auth,
      trustProxy,
    })
    const res = await app.inject({
      method: 'POST',
      url: '/v1/factories/f1/stacks/s1/lock',
      headers: { ...bearer(token), 'x-forwarded-for': '203.0.113.7' },
      payload: {},
    })
    t.equal(res.json().remote, expected, `trustProxy ${JSON.stringify(trustProxy)}`)
    await app.close()
    root.close()
  }
})

t.test('a server with a tokens file requires credentials and says so in its log', async (t) => {
  const dir = t.testdir()
  const token = newToken()
  writeFileSync(
    join(dir, 'tokens.yaml'),
    tokensFileText([{ name: 'ops', token, grants: [{ scope: '*/*', allow: ['*'] }] }]),
  )
  const server = await startServer(['--data-dir', join(dir, 'data'), '--tokens-file', join(dir, 'tokens.yaml')])
  t.teardown(() => server.stop())
  const url = `${server.url}/v1/factories/f1/stacks/s1/snapshots`
  const refused = await fetch(url)
  t.equal(refused.status, 401)
  t.match(refused.headers.get('www-authenticate'), /Basic realm="unobin-state"/)
  t.equal((await fetch(url, { headers: bearer(token) })).status, 200)
  t.equal((await fetch(`${server.url}/healthz`)).status, 200)
  const log = server.lines.join('\n')
  t.match(log, /credentials are configured/)
  t.notMatch(log, /no credentials are configured/)
  t.notMatch(log, token)
})

t.test('a server without credentials logs that every caller has every permission', async (t) => {
  const server = await startServer(['--data-dir', join(t.testdir(), 'data')])
  t.teardown(() => server.stop())
  t.match(server.lines.join('\n'), /no credentials are configured/)
})

t.test('a broken tokens file stops the server at start, naming the file and the entry', async (t) => {
  const dir = t.testdir({
    'tokens.yaml': 'tokens:\n  - {name: ci, hash: "sha256:00", grants: [{scope: "*/*", allow: [read]}]}\n',
  })
  const child = spawn(
    process.execPath,
    [SERVER_JS, '--data-dir', join(dir, 'data'), '--tokens-file', join(dir, 'tokens.yaml')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const [code] = (await once(child, 'exit')) as [number]
  t.equal(code, 2)
  t.match(stderr, `${join(dir, 'tokens.yaml')}: tokens[0] "ci": hash is not a token hash`)
})

t.test('with a certificate and key the server speaks HTTPS', async (t) => {
  const dir = t.testdir()
  const token = newToken()
  writeFileSync(
    join(dir, 'tokens.yaml'),
    tokensFileText([{ name: 'ops', token, grants: [{ scope: '*/*', allow: ['read'] }] }]),
  )
  const child: ChildProcess = spawn(
    process.execPath,
    [
      SERVER_JS,
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      join(dir, 'data'),
      '--tokens-file',
      join(dir, 'tokens.yaml'),
      '--tls-cert',
      join(TLS, 'cert.pem'),
      '--tls-key',
      join(TLS, 'key.pem'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
  })
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = ''
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString()
      const m = /Server listening at (https:\/\/127\.0\.0\.1:\d+)/.exec(buffer)
      if (m) resolve(m[1]!)
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  const ca = readFileSync(join(TLS, 'cert.pem'))
  const get = (headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`${url}/v1/factories/f1/stacks/s1/snapshots`, { ca, headers }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.once('error', reject)
      req.end()
    })
  t.equal(await get({}), 401)
  t.equal(await get(bearer(token)), 200)
})
