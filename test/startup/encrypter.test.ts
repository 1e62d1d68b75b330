/** Keys are loaded at start, and a fault names the setting (flag or variable) that points at the key. */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.js'
import { buildEncrypter } from '../../src/startup/encrypter.js'

const KEY = Buffer.alloc(32, 3).toString('base64')

function build(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = loadConfig(argv, env)
  if (parsed.kind !== 'run') throw new Error('expected a run command')
  return buildEncrypter(parsed.config, env, parsed.origins)
}

t.test('an unreadable key file names --key-file and the errno', async (t) => {
  const dir = t.testdir()
  t.throws(() => build(['--encryption', 'key-file', '--key-file', join(dir, 'missing.key')]), {
    name: 'ConfigError',
    message: /^--key-file: key file .*missing\.key cannot be read: ENOENT/,
  })
})

t.test('a key file named by the environment names the variable', async (t) => {
  const dir = t.testdir()
  writeFileSync(join(dir, 'short.key'), Buffer.alloc(16).toString('base64'))
  t.throws(() => build([], { UNOBIN_STATE_ENCRYPTION: 'key-file', UNOBIN_STATE_KEY_FILE: join(dir, 'short.key') }), {
    message: /^UNOBIN_STATE_KEY_FILE \(environment; --key-file overrides it\): key file .* decodes to 16 bytes/,
  })
})

t.test('a missing key variable names the setting that chose it, never a key', async (t) => {
  t.throws(() => build(['--encryption', 'env-key']), {
    message: /^--key-env \(default UNOBIN_STATE_KEY\): environment variable UNOBIN_STATE_KEY is not set/,
  })
  const err = t.throws(() => build(['--encryption', 'env-key'], { UNOBIN_STATE_KEY: 'not-a-key!' })) as Error
  t.notMatch(err.message, /not-a-key!/, 'the value is not echoed')
})

t.test('a valid configuration builds a keyring with its older keys', async (t) => {
  const dir = t.testdir({ 'old.key': Buffer.alloc(32, 4).toString('base64') })
  const encrypter = build(['--encryption', 'env-key', '--old-key-file', join(dir, 'old.key')], {
    UNOBIN_STATE_KEY: KEY,
  })
  t.match(encrypter.describe(), /env-key/)
  t.equal(build([]).describe().split(' ')[0], 'noop')
  t.throws(() => build(['--old-key-env', 'OLD'], { OLD: KEY }), {
    message: /old keys were given but --encryption \(default noop\) is noop/,
  })
})
