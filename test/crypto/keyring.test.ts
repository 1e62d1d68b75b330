import t from 'tap'
import { createDecipheriv } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Keyring } from '../../src/crypto/keyring.js'
import { type SealingKey, keyFromEnv } from '../../src/crypto/keys.js'
import { isStateError } from '../../src/errors.js'
import { decodeEnvelope } from '../../src/store/envelope.js'
import { FIXTURES, FIXTURE_KEY, fixture, fixtureKeyring } from '../helpers/store.js'

const FIXTURE_REF = { name: 'env-key', body: { 'env-var': 'UNOBIN_STATE_KEY' } }
const SNAPSHOTS = 'env-key/store/cluster-deploy/prod-east/snapshots'

function envKey(name: string, fill: string): SealingKey {
  return keyFromEnv({ [name]: Buffer.alloc(32, fill).toString('base64') }, name)
}

/** The code and message of what `fn` throws. */
function failure(fn: () => unknown): { code: string | undefined; message: string } {
  try {
    fn()
  } catch (err) {
    return { code: isStateError(err) ? err.code : undefined, message: err instanceof Error ? err.message : String(err) }
  }
  return { code: undefined, message: 'did not throw' }
}

t.test('seal lays out nonce (12) then ciphertext then tag (16)', async (t) => {
  const ring = fixtureKeyring()
  const plaintext = Buffer.from('{"format-version":1,"entries":[]}')
  const sealed = ring.seal(plaintext)
  t.equal(sealed.length, plaintext.length + 28)
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(FIXTURE_KEY, 'base64'), sealed.subarray(0, 12), {
    authTagLength: 16,
  })
  decipher.setAuthTag(sealed.subarray(-16))
  t.ok(Buffer.concat([decipher.update(sealed.subarray(12, -16)), decipher.final()]).equals(plaintext))
})

t.test('seal uses a fresh nonce every time', async (t) => {
  const ring = fixtureKeyring()
  const a = ring.seal(Buffer.from('same'))
  const b = ring.seal(Buffer.from('same'))
  t.notOk(a.subarray(0, 12).equals(b.subarray(0, 12)))
})

t.test('seal of an empty plaintext is nonce and tag only, and opens again', async (t) => {
  const ring = fixtureKeyring()
  const sealed = ring.seal(Buffer.alloc(0))
  t.equal(sealed.length, 28)
  t.equal(ring.open(sealed, ring.ref).length, 0)
})

t.test('the keyring records the variable name as its ref, never the key', async (t) => {
  const ring = fixtureKeyring()
  t.same(ring.ref, FIXTURE_REF)
  t.notMatch(ring.describe(), FIXTURE_KEY)
  t.match(ring.describe(), 'env-key env-var UNOBIN_STATE_KEY (sealing)')
})

t.test('the keyring opens every Go-written fixture with the fixture key', async (t) => {
  const ring = fixtureKeyring()
  const names = readdirSync(join(FIXTURES, SNAPSHOTS))
  t.equal(names.length, 5)
  for (const name of names) {
    const envelope = decodeEnvelope(fixture(SNAPSHOTS, name))
    const plaintext = fixture('env-key/plaintext/cluster-deploy/prod-east', name.replace(/\.enc$/, ''))
    t.ok(ring.open(envelope.ciphertext, envelope.encrypter).equals(plaintext), name)
  }
})

t.test('an old key in the ring opens what it sealed while the new key seals', async (t) => {
  const oldKey = envKey('OLD_KEY', 'o')
  const newKey = envKey('NEW_KEY', 'n')
  const before = new Keyring(oldKey)
  const sealedBefore = before.seal(Buffer.from('sealed with the old key'))
  const rotated = new Keyring(newKey, [oldKey])
  t.same(rotated.ref, newKey.ref)
  t.equal(rotated.open(sealedBefore, oldKey.ref).toString(), 'sealed with the old key')
  const sealedAfter = rotated.seal(Buffer.from('sealed with the new key'))
  t.equal(new Keyring(newKey).open(sealedAfter, newKey.ref).toString(), 'sealed with the new key')
  t.equal(
    failure(() => before.open(sealedAfter, newKey.ref)).code,
    'unreadable-snapshot',
    'the old key alone cannot open it',
  )
})

t.test('the keyring tries every key even when the envelope names another ref', async (t) => {
  const oldKey = envKey('OLD_KEY', 'o')
  const sealed = new Keyring(oldKey).seal(Buffer.from('x'))
  // The file never chooses the key: a ref naming an unknown variable still opens with a configured key.
  t.equal(
    new Keyring(envKey('NEW_KEY', 'n'), [oldKey])
      .open(sealed, { name: 'env-key', body: { 'env-var': 'SOMETHING_ELSE' } })
      .toString(),
    'x',
  )
})

t.test('a wrong key is unreadable-snapshot naming the ref that sealed the file', async (t) => {
  const wrong = new Keyring(envKey('UNOBIN_STATE_KEY', 'w'))
  const envelope = decodeEnvelope(fixture(SNAPSHOTS, '2026-07-10T12:00:00Z.json.enc'))
  const f = failure(() => wrong.open(envelope.ciphertext, envelope.encrypter))
  t.equal(f.code, 'unreadable-snapshot')
  t.match(f.message, 'env-key env-var UNOBIN_STATE_KEY')
  t.notMatch(f.message, Buffer.alloc(32, 'w').toString('base64'))
  t.throws(() => wrong.open(envelope.ciphertext, envelope.encrypter), {
    code: 'unreadable-snapshot',
    details: { sealedWith: 'env-key env-var UNOBIN_STATE_KEY' },
  })
})

t.test('a ciphertext with its tag cut short is refused, for every cut of 1 to 16 bytes', async (t) => {
  const ring = fixtureKeyring()
  const sealed = ring.seal(Buffer.from('a snapshot body long enough to keep 28 bytes after cutting'))
  for (let cut = 1; cut <= 16; cut++) {
    t.equal(
      failure(() => ring.open(sealed.subarray(0, sealed.length - cut), ring.ref)).code,
      'unreadable-snapshot',
      `cut ${cut}`,
    )
  }
})

t.test('a short tag that a lenient GCM decipher would accept is refused', async (t) => {
  const ring = fixtureKeyring()
  const plaintext = Buffer.from('{"format-version":1}')
  const sealed = ring.seal(plaintext)
  const short = sealed.subarray(0, 12 + plaintext.length + 4) // nonce ‖ ciphertext ‖ first 4 tag bytes
  // Control: Node without authTagLength accepts the 4-byte tag, so this input is a real forgery attempt.
  const lenient = createDecipheriv('aes-256-gcm', Buffer.from(FIXTURE_KEY, 'base64'), short.subarray(0, 12))
  lenient.setAuthTag(short.subarray(12 + plaintext.length))
  t.ok(Buffer.concat([lenient.update(short.subarray(12, 12 + plaintext.length)), lenient.final()]).equals(plaintext))
  t.equal(failure(() => ring.open(short, ring.ref)).code, 'unreadable-snapshot')
})

t.test('a ciphertext shorter than nonce and tag is refused', async (t) => {
  const ring = fixtureKeyring()
  for (const length of [0, 1, 12, 27])
    t.equal(failure(() => ring.open(Buffer.alloc(length), ring.ref)).code, 'unreadable-snapshot', `${length} bytes`)
})

t.test('a flipped bit anywhere in nonce, ciphertext or tag is refused', async (t) => {
  const ring = fixtureKeyring()
  const sealed = ring.seal(Buffer.from('{"format-version":1}'))
  for (const index of [0, 11, 12, sealed.length - 17, sealed.length - 16, sealed.length - 1]) {
    const flipped = Buffer.from(sealed)
    flipped[index] = flipped[index]! ^ 0x01
    t.equal(failure(() => ring.open(flipped, ring.ref)).code, 'unreadable-snapshot', `byte ${index}`)
  }
})

t.test('a keyring refuses noop envelopes unless told to open them', async (t) => {
  const plaintext = Buffer.from('{"format-version":1}')
  t.equal(failure(() => fixtureKeyring().open(plaintext, { name: 'noop' })).code, 'unreadable-snapshot')
  const migrating = new Keyring(keyFromEnv({ UNOBIN_STATE_KEY: FIXTURE_KEY }, 'UNOBIN_STATE_KEY'), [], {
    openNoop: true,
  })
  t.ok(migrating.open(plaintext, { name: 'noop' }).equals(plaintext))
  t.equal(migrating.seal(plaintext).length, plaintext.length + 28, 'it still seals with the key')
})

t.test('a keyring refuses a key that is not 32 bytes', async (t) => {
  t.throws(() => new Keyring({ ref: { name: 'env-key', body: { 'env-var': 'K' } }, key: Buffer.alloc(16) }), RangeError)
  t.throws(
    () =>
      new Keyring(envKey('K', 'a'), [{ ref: { name: 'env-key', body: { 'env-var': 'OLD' } }, key: Buffer.alloc(33) }]),
    RangeError,
  )
})
