/**
 * The settings table is the one source of the configuration: every row
 * fills one field of Config, faults name the setting as it was given (flag
 * or environment variable), and proxies are checked by Fastify's compiler.
 */
import t from 'tap'
import { ConfigError, SETTINGS, describeSetting, loadConfig } from '../src/config.js'

function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = loadConfig(argv, env)
  if (parsed.kind !== 'run') throw new Error('expected a run command')
  return parsed
}

t.test('every setting of the table fills exactly one field of the configuration', async (t) => {
  const { config, origins } = run([])
  t.strictSame(Object.keys(config).sort(), SETTINGS.map((s) => s.key).sort())
  t.strictSame(Object.keys(origins).sort(), SETTINGS.map((s) => s.key).sort())
  t.equal(new Set(SETTINGS.map((s) => s.flag)).size, SETTINGS.length, 'flags are unique')
  t.equal(new Set(SETTINGS.map((s) => s.env)).size, SETTINGS.length, 'variables are unique')
  t.ok(
    SETTINGS.every((s) => s.env === `UNOBIN_STATE_${s.flag.toUpperCase().replace(/-/g, '_')}` || s.kind === 'list'),
    'variables are named after their flags',
  )
  t.ok(Object.isFrozen(config))
})

t.test('every default parses, and the defaults are what --help says', async (t) => {
  const { config, origins } = run([])
  t.strictSame(config.listen, { host: '127.0.0.1', port: 8080 })
  t.equal(config.dataDir, './data')
  t.equal(config.auditLog, './data/.audit.jsonl', 'the audit log defaults into the data directory')
  t.equal(config.snapshotCacheBytes, 64 * 1024 * 1024)
  t.ok(Object.values(origins).every((o) => o === 'default'))
})

t.test('a flag wins over its variable, and the origin of each value is kept', async (t) => {
  const { config, origins } = run(['--max-wait', '5'], { UNOBIN_STATE_MAX_WAIT: '9', UNOBIN_STATE_BODY_LIMIT: '4096' })
  t.equal(config.maxWaitSeconds, 5)
  t.equal(origins.maxWaitSeconds, 'flag')
  t.equal(config.bodyLimitBytes, 4096)
  t.equal(origins.bodyLimitBytes, 'env')
  t.equal(origins.listen, 'default')
})

t.test('a bad value names the flag when it came from the command line', async (t) => {
  t.throws(
    () => run(['--max-wait', 'soon']),
    new ConfigError('--max-wait must be a whole number from 0 to 3600, got "soon"'),
  )
  t.throws(
    () => run(['--encryption', 'rot13']),
    new ConfigError('--encryption must be one of noop, env-key, key-file, got "rot13"'),
  )
})

t.test('a bad value names the environment variable when it came from the environment', async (t) => {
  t.throws(
    () => run([], { UNOBIN_STATE_MAX_WAIT: 'soon' }),
    new ConfigError(
      'UNOBIN_STATE_MAX_WAIT (environment; --max-wait overrides it) must be a whole number from 0 to 3600, got "soon"',
    ),
  )
  t.throws(() => run([], { UNOBIN_STATE_LISTEN: '8080' }), {
    message: /^UNOBIN_STATE_LISTEN \(environment; --listen overrides it\) must be HOST:PORT/,
  })
  t.throws(() => run([], { UNOBIN_STATE_REQUIRE_LOCK: 'maybe' }), {
    message: /^UNOBIN_STATE_REQUIRE_LOCK \(environment/,
  })
  t.doesNotThrow(
    () => run(['--max-wait', '3'], { UNOBIN_STATE_MAX_WAIT: 'soon' }),
    'a bad variable the flag overrides is never read',
  )
})

t.test('a setting that needs another names where it came from', async (t) => {
  t.throws(() => run([], { UNOBIN_STATE_ENCRYPTION: 'key-file' }), {
    message: /^UNOBIN_STATE_ENCRYPTION \(environment.*needs --key-file/,
  })
  t.throws(() => run([], { UNOBIN_STATE_TLS_KEY: 'key.pem' }), {
    message: /^UNOBIN_STATE_TLS_KEY \(environment.* is set alone/,
  })
  t.throws(() => run(['--listen', '0.0.0.0:8080']), { message: /0\.0\.0\.0 \(--listen\) without credentials/ })
  t.throws(() => run(['--audit-reads'], { UNOBIN_STATE_AUDIT_LOG: 'off' }), {
    message: /^--audit-reads needs the audit log, which UNOBIN_STATE_AUDIT_LOG \(environment.* turns off/,
  })
})

t.test('the audit fsync interval is a duration, 1 s by default, 0 for every event', async (t) => {
  t.equal(run([]).config.auditFsyncMs, 1000)
  t.equal(run(['--audit-fsync', '0']).config.auditFsyncMs, 0)
  t.equal(run([], { UNOBIN_STATE_AUDIT_FSYNC: '5s' }).config.auditFsyncMs, 5000)
  t.throws(() => run(['--audit-fsync', 'soon']), { message: /^--audit-fsync must be a duration/ })
  t.equal(run(['--audit-reads']).config.auditReads, true)
  t.equal(run([]).config.auditReads, false)
})

t.test('trusted proxies take the keywords, addresses and CIDRs Fastify understands', async (t) => {
  t.strictSame(run(['--trust-proxy', 'loopback, linklocal,uniquelocal']).config.trustProxy, [
    'loopback',
    'linklocal',
    'uniquelocal',
  ])
  t.strictSame(
    run([], { UNOBIN_STATE_TRUST_PROXY: '10.0.0.0/8,::1,fc00::/7,192.168.0.0/255.255.0.0' }).config.trustProxy,
    ['10.0.0.0/8', '::1', 'fc00::/7', '192.168.0.0/255.255.0.0'],
  )
  for (const bad of ['true', '10.0.0.0/33', 'localhost', 'loopbacks', '10.0.0.1/8/8']) {
    t.throws(
      () => run(['--trust-proxy', bad]),
      {
        message: new RegExp(
          `^--trust-proxy must list loopback, linklocal, uniquelocal.*${JSON.stringify(bad).replace(/[/.]/g, '\\$&')}`,
        ),
      },
      bad,
    )
  }
  t.throws(() => run([], { UNOBIN_STATE_TRUST_PROXY: 'everyone' }), {
    message: /^UNOBIN_STATE_TRUST_PROXY \(environment/,
  })
})

t.test('describeSetting names a setting as it was given', async (t) => {
  t.equal(describeSetting('keyFile', 'flag'), '--key-file')
  t.equal(describeSetting('keyFile', 'env'), 'UNOBIN_STATE_KEY_FILE (environment; --key-file overrides it)')
})
