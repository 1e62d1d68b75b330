import t from 'tap'
import { NoopEncrypter } from '../../src/crypto/noop.js'

t.test('noop seals plaintext as itself and opens noop envelopes', async (t) => {
  const noop = new NoopEncrypter()
  const plaintext = Buffer.from('{"format-version":1}')
  const sealed = noop.seal(plaintext)
  t.ok(sealed.equals(plaintext))
  t.ok(noop.open(sealed, { name: 'noop' }).equals(plaintext))
  t.same(noop.ref, { name: 'noop' })
})

t.test('noop refuses an env-key envelope as unreadable-snapshot naming the key', async (t) => {
  const noop = new NoopEncrypter()
  t.throws(() => noop.open(Buffer.alloc(40), { name: 'env-key', body: { 'env-var': 'UNOBIN_STATE_KEY' } }), {
    code: 'unreadable-snapshot',
    details: { sealedWith: 'env-key env-var UNOBIN_STATE_KEY' },
  })
})

t.test('noop refuses envelopes of any other encrypter', async (t) => {
  t.throws(() => new NoopEncrypter().open(Buffer.alloc(40), { name: 'key-file', body: { path: '/run/secrets/k' } }), {
    code: 'unreadable-snapshot',
  })
})

t.test('noop describes itself as unencrypted', async (t) => {
  t.match(new NoopEncrypter().describe(), 'noop')
})
