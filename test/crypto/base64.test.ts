import t from 'tap'
import { decodeStandardBase64 } from '../../src/crypto/base64.js'

t.test('standard base64 with padding decodes', async (t) => {
  t.equal(decodeStandardBase64('QUJD')?.toString(), 'ABC')
  t.equal(decodeStandardBase64('QUI=')?.toString(), 'AB')
  t.equal(decodeStandardBase64('QQ==')?.toString(), 'A')
  t.equal(decodeStandardBase64('')?.length, 0)
})

t.test('anything Go StdEncoding refuses is refused', async (t) => {
  for (const bad of [
    'QUI',
    'QU=D',
    'Q===',
    '====',
    'QUJ$',
    'QU D',
    'QUJD\nQUJD',
    'QUJDQQ==QUJD',
    '-_-_',
    'QUJD_w==',
    'QUJD-w==',
  ]) {
    t.equal(decodeStandardBase64(bad), undefined, JSON.stringify(bad))
  }
})

t.test('a 70 MB ciphertext decodes without exhausting the stack', async (t) => {
  const bytes = Buffer.alloc(50 * 1024 * 1024, 0xab)
  t.ok(decodeStandardBase64(bytes.toString('base64'))?.equals(bytes))
})
