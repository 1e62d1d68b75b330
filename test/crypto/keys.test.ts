import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KeyError, decodeKey, keyFromEnv, keyFromFile } from '../../src/crypto/keys.js'
import { FIXTURE_KEY } from '../helpers/store.js'

const VAR = 'UNOBIN_TEST_KEY'

/** The error `fn` throws (undefined when it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

/** Facts about a thrown KeyError, so one assertion shows all of them. */
function keyErrorFacts(
  err: unknown,
  source: string,
  secret: string | undefined,
): { isKeyError: boolean; namesSource: boolean; echoesValue: boolean } {
  const message = err instanceof Error ? err.message : ''
  const value = secret?.trim() ?? ''
  return {
    isKeyError: err instanceof KeyError,
    namesSource: message.includes(source),
    echoesValue: value !== '' && message.includes(value),
  }
}

const GOOD_FACTS = { isKeyError: true, namesSource: true, echoesValue: false }

t.test('keyFromEnv loads a 32-byte standard-base64 key and records only the variable name', async (t) => {
  const key = keyFromEnv({ [VAR]: FIXTURE_KEY }, VAR)
  t.ok(key.key.equals(Buffer.alloc(32, 'k')))
  t.same(key.ref, { name: 'env-key', body: { 'env-var': VAR } })
  t.notMatch(JSON.stringify(key.ref), FIXTURE_KEY)
})

t.test('keyFromEnv ignores whitespace around the key', async (t) => {
  t.ok(keyFromEnv({ [VAR]: `  ${FIXTURE_KEY}\n` }, VAR).key.equals(Buffer.alloc(32, 'k')))
})

const BAD_VALUES: ReadonlyArray<readonly [string, string | undefined]> = [
  ['an unset variable', undefined],
  ['an empty variable', ''],
  ['a blank variable', '   '],
  ['a value that is not base64', 'this-is-not~base64-secretvalue!!'],
  ['unpadded base64', Buffer.alloc(32, 's').toString('base64').replace(/=+$/, '')],
  ['a 16-byte key', Buffer.alloc(16, 's').toString('base64')],
  ['a 33-byte key', Buffer.alloc(33, 's').toString('base64')],
  ['a 31-byte key', Buffer.alloc(31, 's').toString('base64')],
]

t.test('keyFromEnv refuses every bad value with a KeyError that names the variable and never the value', async (t) => {
  for (const [why, value] of BAD_VALUES) {
    const env = value === undefined ? {} : { [VAR]: value }
    t.same(
      keyErrorFacts(
        thrown(() => keyFromEnv(env, VAR)),
        VAR,
        value,
      ),
      GOOD_FACTS,
      why,
    )
  }
})

t.test('keyFromEnv refuses a variable name that cannot be an environment variable', async (t) => {
  t.throws(() => keyFromEnv({}, 'NOT-A-NAME'), KeyError)
  t.throws(() => keyFromEnv({}, ''), KeyError)
})

t.test('keyFromFile loads a key with surrounding whitespace trimmed', async (t) => {
  const dir = t.testdir({ 'key.b64': `\n  ${FIXTURE_KEY}  \n\n` })
  const path = join(dir, 'key.b64')
  const key = keyFromFile(path)
  t.ok(key.key.equals(Buffer.alloc(32, 'k')))
  t.same(key.ref, { name: 'key-file', body: { path } })
})

t.test('keyFromFile refuses a missing file with a KeyError naming the path', async (t) => {
  const path = join(t.testdir(), 'absent.b64')
  const err = thrown(() => keyFromFile(path))
  t.same(keyErrorFacts(err, path, undefined), GOOD_FACTS)
  t.match((err as Error).message, 'ENOENT')
})

t.test('keyFromFile refuses a wrong-length key without echoing it', async (t) => {
  const value = Buffer.alloc(16, 'q').toString('base64')
  const dir = t.testdir()
  const path = join(dir, 'key.b64')
  writeFileSync(path, value)
  t.same(
    keyErrorFacts(
      thrown(() => keyFromFile(path)),
      path,
      value,
    ),
    GOOD_FACTS,
  )
})

t.test('decodeKey names its source for each fault', async (t) => {
  t.same(
    keyErrorFacts(
      thrown(() => decodeKey('', 'the source')),
      'the source',
      undefined,
    ),
    GOOD_FACTS,
    'empty',
  )
  t.same(
    keyErrorFacts(
      thrown(() => decodeKey('%%%%', 'the source')),
      'the source',
      '%%%%',
    ),
    GOOD_FACTS,
    'not base64',
  )
  t.equal(decodeKey(FIXTURE_KEY, 'x').length, 32)
})
