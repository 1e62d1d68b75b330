import t from 'tap'
import { decodeEnvelope } from '../../src/store/envelope.js'
import { goMarshalIndent } from '../../src/store/go-json.js'

// decodeEnvelope(bytes, { consume: true }) decodes a large envelope's base64 over its own
// text. It must read exactly what the ordinary decode reads, and whenever it gives up and
// the JSON rules decide, they must see the bytes as they were.

/** The envelope Go's MarshalIndent writes for `ciphertext`. */
function envelope(ciphertext: Buffer): Buffer {
  const encrypter = { name: 'env-key', body: { 'env-var': 'K' } }
  return Buffer.from(
    `${goMarshalIndent({ 'envelope-version': 1, 'payload-type': 'state', encrypter, ciphertext: ciphertext.toString('base64') })}\n`,
  )
}

/** Deterministic bytes (no randomness in the suite). */
function pattern(length: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) out[i] = (i * 7919 + (i >> 8)) & 0xff
  return out
}

/** What a decode gives: the ciphertext, or the error's code and message. */
function outcome(bytes: Buffer, consume: boolean): unknown {
  try {
    const e = decodeEnvelope(bytes, { consume })
    return { payloadType: e.payloadType, encrypter: e.encrypter, ciphertext: e.ciphertext.toString('base64') }
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message }
  }
}

t.test('a consumed large envelope decodes to the same ciphertext, whatever its padding', async (t) => {
  for (const size of [1024 * 1024, 1024 * 1024 + 1, 1024 * 1024 + 2, 3 * 1024 * 1024 + 7]) {
    const ciphertext = pattern(size)
    const decoded = decodeEnvelope(envelope(ciphertext), { consume: true })
    t.ok(decoded.ciphertext.equals(ciphertext), `${size} bytes`)
    t.equal(decoded.payloadType, 'state')
  }
})

t.test('where the slice reader gives up, the JSON rules see the bytes as they were', async (t) => {
  const good = envelope(pattern(1024 * 1024 + 5))
  const text = good.toString('latin1')
  const at = text.indexOf('"ciphertext": "') + '"ciphertext": "'.length
  const edit = (position: number, replacement: string, remove = 1): Buffer =>
    Buffer.from(text.slice(0, position) + replacement + text.slice(position + remove), 'latin1')
  const slash = text.indexOf('/', at + 200 * 1024)
  const cases: ReadonlyArray<readonly [string, Buffer]> = [
    ['a bad character in the first slice', edit(at + 10, '!')],
    ['a bad character several slices in', edit(at + 5 * 64 * 1024 + 3, '*')],
    ['a bad character in the last slice', edit(good.length - 20, '*')],
    ['inner padding', edit(at + 70_000, '=')],
    ['a missing character', edit(at + 4000, '', 1)],
    ['an escaped slash several slices in (JSON reads it)', edit(slash, '\\/')],
    ['an escaped slash in the first slice (JSON reads it)', edit(text.indexOf('/', at), '\\/')],
    [
      'an earlier ciphertext member just before the last one (the last one counts)',
      Buffer.from(text.replace('"ciphertext": "', '"ciphertext": "QUJD",\n  "ciphertext": "'), 'latin1'),
    ],
  ]
  for (const [why, bytes] of cases) {
    const original = Buffer.from(bytes)
    const expected = outcome(Buffer.from(bytes), false)
    t.strictSame(outcome(bytes, true), expected, why)
    t.ok(bytes.equals(original), `${why}: the bytes were put back`)
  }
  t.ok(slash > at + 200 * 1024, 'the pattern has a / far into the text')
})
