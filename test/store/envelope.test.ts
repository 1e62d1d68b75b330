import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { decodeEnvelope, encodeEnvelope } from '../../src/store/envelope.js'
import { goMarshalIndent } from '../../src/store/go-json.js'
import { FIXTURES, fixture } from '../helpers/store.js'

const ENV_KEY_SNAPSHOTS = 'env-key/store/cluster-deploy/prod-east/snapshots'
const NOOP_SNAPSHOTS = 'noop/store/cluster-deploy/dev/snapshots'

function revsIn(dir: string): string[] {
  return readdirSync(join(FIXTURES, dir)).map((name) => name.slice(0, -'.json.enc'.length))
}

t.test('encoding a noop plaintext reproduces the Go envelope byte for byte', async (t) => {
  const revs = revsIn(NOOP_SNAPSHOTS)
  t.equal(revs.length, 2)
  for (const rev of revs) {
    const plaintext = fixture('noop/plaintext/cluster-deploy/dev', `${rev}.json`)
    const encoded = encodeEnvelope({ payloadType: 'state', encrypter: { name: 'noop' }, ciphertext: plaintext })
    t.equal(encoded.toString('utf8'), fixture(NOOP_SNAPSHOTS, `${rev}.json.enc`).toString('utf8'), rev)
    t.ok(encoded.equals(fixture(NOOP_SNAPSHOTS, `${rev}.json.enc`)), rev)
  }
})

t.test('re-encoding a decoded env-key envelope reproduces the Go bytes', async (t) => {
  const revs = revsIn(ENV_KEY_SNAPSHOTS)
  t.equal(revs.length, 5)
  for (const rev of revs) {
    const bytes = fixture(ENV_KEY_SNAPSHOTS, `${rev}.json.enc`)
    const envelope = decodeEnvelope(bytes)
    t.same(envelope.encrypter, { name: 'env-key', body: { 'env-var': 'UNOBIN_STATE_KEY' } })
    t.equal(envelope.payloadType, 'state')
    t.ok(encodeEnvelope(envelope).equals(bytes), rev)
  }
})

t.test('an envelope has its keys in Go order, a 2-space indent and a trailing newline', async (t) => {
  const text = encodeEnvelope({
    payloadType: 'state',
    encrypter: { name: 'env-key', body: { 'env-var': 'K' } },
    ciphertext: Buffer.from('abc'),
  }).toString('utf8')
  t.same(Object.keys(JSON.parse(text) as object), ['envelope-version', 'payload-type', 'encrypter', 'ciphertext'])
  t.equal(
    text,
    '{\n  "envelope-version": 1,\n  "payload-type": "state",\n  "encrypter": {\n    "name": "env-key",\n    "body": {\n      "env-var": "K"\n    }\n  },\n  "ciphertext": "YWJj"\n}\n',
  )
})

t.test('an envelope omits the encrypter body when it is empty', async (t) => {
  for (const encrypter of [{ name: 'noop' }, { name: 'noop', body: {} }]) {
    const doc = JSON.parse(
      encodeEnvelope({ payloadType: 'state', encrypter, ciphertext: Buffer.alloc(0) }).toString('utf8'),
    ) as { encrypter: object; ciphertext: string }
    t.same(doc.encrypter, { name: 'noop' })
    t.notOk('body' in doc.encrypter)
    t.equal(doc.ciphertext, '')
  }
})

t.test('an envelope writes the encrypter body keys sorted, as Go marshals a map', async (t) => {
  const text = encodeEnvelope({
    payloadType: 'state',
    encrypter: { name: 'x', body: { zeta: '1', alpha: '2' } },
    ciphertext: Buffer.alloc(0),
  }).toString('utf8')
  t.ok(text.indexOf('"alpha"') < text.indexOf('"zeta"'))
})

t.test('an envelope escapes <, > and & as Go does', async (t) => {
  const text = encodeEnvelope({
    payloadType: 'a<b>&c',
    encrypter: { name: 'noop' },
    ciphertext: Buffer.alloc(0),
  }).toString('utf8')
  t.match(text, '"payload-type": "a\\u003cb\\u003e\\u0026c"')
  t.notMatch(text, /[<>&]/)
  t.equal(decodeEnvelope(Buffer.from(text)).payloadType, 'a<b>&c')
})

t.test('goMarshalIndent escapes U+2028 and U+2029 and leaves other text alone', async (t) => {
  t.equal(goMarshalIndent({ a: 'x\u2028y\u2029<' }), '{\n  "a": "x\\u2028y\\u2029\\u003c"\n}')
  t.equal(goMarshalIndent(['é', 1, null]), '[\n  "é",\n  1,\n  null\n]')
})

t.test('an envelope writes standard base64 with padding', async (t) => {
  const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x00])
  const doc = JSON.parse(
    encodeEnvelope({ payloadType: 'state', encrypter: { name: 'noop' }, ciphertext: bytes }).toString('utf8'),
  ) as { ciphertext: string }
  t.equal(doc.ciphertext, '+/+/AA==')
})

const GOOD = {
  'envelope-version': 1,
  'payload-type': 'state',
  encrypter: { name: 'noop' },
  ciphertext: 'YWJj',
}

function envelopeWith(changes: Record<string, unknown>, drop: string[] = []): Buffer {
  const doc: Record<string, unknown> = { ...GOOD, ...changes }
  for (const key of drop) delete doc[key]
  return Buffer.from(JSON.stringify(doc, null, 2))
}

const UNREADABLE: ReadonlyArray<readonly [string, Buffer]> = [
  ['an empty file', Buffer.alloc(0)],
  ['truncated JSON', fixture(NOOP_SNAPSHOTS, '2026-07-10T12:00:00Z.json.enc').subarray(0, 100)],
  [
    'an envelope cut before its closing brace',
    fixture(ENV_KEY_SNAPSHOTS, '2026-07-10T12:00:00Z.json.enc').subarray(0, -3),
  ],
  ['not JSON at all', Buffer.from('4242\n')],
  ['a JSON array', Buffer.from('[]')],
  ['JSON null', Buffer.from('null')],
  ['envelope-version 2', envelopeWith({ 'envelope-version': 2 })],
  ['envelope-version "1"', envelopeWith({ 'envelope-version': '1' })],
  ['no envelope-version', envelopeWith({}, ['envelope-version'])],
  ['a missing encrypter', envelopeWith({}, ['encrypter'])],
  ['an encrypter without a name', envelopeWith({ encrypter: { body: { 'env-var': 'K' } } })],
  ['an encrypter that is a string', envelopeWith({ encrypter: 'noop' })],
  ['an encrypter body that is an array', envelopeWith({ encrypter: { name: 'x', body: ['a'] } })],
  ['a numeric payload-type', envelopeWith({ 'payload-type': 7 })],
  ['non-base64 ciphertext', envelopeWith({ ciphertext: 'not base64!' })],
  ['URL-safe base64 ciphertext', envelopeWith({ ciphertext: '-_-_' })],
  ['unpadded ciphertext', envelopeWith({ ciphertext: 'YWI' })],
  ['ciphertext with a bad length', envelopeWith({ ciphertext: 'YWJjZ' })],
  ['a missing ciphertext', envelopeWith({}, ['ciphertext'])],
  ['a numeric ciphertext', envelopeWith({ ciphertext: 12 })],
]

t.test('decodeEnvelope refuses anything the Go tool would not read, as unreadable-snapshot', async (t) => {
  for (const [why, bytes] of UNREADABLE) {
    t.throws(() => decodeEnvelope(bytes), { code: 'unreadable-snapshot' }, why)
  }
})

t.test('decodeEnvelope reads an absent payload-type as state', async (t) => {
  const envelope = decodeEnvelope(envelopeWith({}, ['payload-type']))
  t.equal(envelope.payloadType, 'state')
  t.equal(envelope.ciphertext.toString('utf8'), 'abc')
  t.same(envelope.encrypter, { name: 'noop' })
})

t.test('decodeEnvelope keeps another payload type and the encrypter body', async (t) => {
  const envelope = decodeEnvelope(
    envelopeWith({ 'payload-type': 'terraform-state', encrypter: { name: 'env-key', body: { 'env-var': 'K' } } }),
  )
  t.equal(envelope.payloadType, 'terraform-state')
  t.same(envelope.encrypter, { name: 'env-key', body: { 'env-var': 'K' } })
})

// --- large envelopes: encoded and decoded in slices, never as one string ------------------

/** Ciphertext lengths around the slice size (3 MiB) and the size the slice path starts at (1 MiB of envelope). */
const LARGE_SIZES = [
  786_432,
  786_433,
  786_434,
  3 * 1024 * 1024 - 1,
  3 * 1024 * 1024,
  3 * 1024 * 1024 + 1,
  7 * 1024 * 1024 + 2,
]

/** The envelope by its definition: Go's MarshalIndent of the whole document. */
function reference(
  ciphertext: Buffer,
  encrypter: { name: string; body?: Record<string, string> } = { name: 'env-key', body: { 'env-var': 'K' } },
): Buffer {
  return Buffer.from(
    `${goMarshalIndent({ 'envelope-version': 1, 'payload-type': 'state', encrypter, ciphertext: ciphertext.toString('base64') })}\n`,
  )
}

/** Deterministic bytes of every value (no randomness in the suite). */
function pattern(length: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) out[i] = (i * 7919 + (i >> 8)) & 0xff
  return out
}

t.test('a large envelope is encoded byte for byte as Go marshals the whole document, and decodes back', async (t) => {
  for (const size of LARGE_SIZES) {
    const ciphertext = pattern(size)
    const encoded = encodeEnvelope({
      payloadType: 'state',
      encrypter: { name: 'env-key', body: { 'env-var': 'K' } },
      ciphertext,
    })
    t.ok(encoded.equals(reference(ciphertext)), `${size} bytes: identical to MarshalIndent`)
    t.ok(decodeEnvelope(encoded).ciphertext.equals(ciphertext), `${size} bytes: decodes back`)
  }
})

t.test('a large envelope the slice reader cannot take is judged by the JSON rules', async (t) => {
  const ciphertext = pattern(3 * 1024 * 1024 + 1)
  const good = reference(ciphertext)
  const text = good.toString('latin1')
  const at = text.indexOf('"ciphertext": "') + '"ciphertext": "'.length
  const edit = (position: number, replacement: string, remove = 1): Buffer =>
    Buffer.from(text.slice(0, position) + replacement + text.slice(position + remove), 'latin1')
  const unreadable: ReadonlyArray<readonly [string, Buffer]> = [
    ['a character outside the alphabet early', edit(at + 10, '!')],
    ['a character outside the alphabet in the last slice', edit(good.length - 20, '*')],
    ['a URL-safe letter', edit(at + 4 * 1024 * 1024 + 8, '-')],
    ['inner padding', edit(at + 400, '=')],
    ['a raw newline inside the string', edit(at + 4000, '\n')],
    ['one character missing', edit(at + 4000, '', 1)],
    ['the closing brace missing', good.subarray(0, -2)],
    [
      'a ciphertext nested in the encrypter body, none at the top',
      Buffer.from(
        text
          .replace('"encrypter": {', `"encrypter": { "body": { "ciphertext": "${'A'.repeat(8)}" },`)
          .replace(/,\n {2}"ciphertext": "[^"]*"/, ''),
        'latin1',
      ),
    ],
  ]
  for (const [why, bytes] of unreadable) t.throws(() => decodeEnvelope(bytes), { code: 'unreadable-snapshot' }, why)

  // What JSON allows and Go reads is read: an escaped slash, and a later duplicate member wins.
  const slash = text.indexOf('/', at)
  t.ok(slash > 0, 'the pattern has a / to escape')
  t.ok(
    decodeEnvelope(edit(slash, '\\/')).ciphertext.equals(ciphertext),
    'an escaped / in the base64 is read as JSON reads it',
  )
  const duplicated = Buffer.from(text.replace('"encrypter":', '"ciphertext": "QUJD",\n  "encrypter":'), 'latin1')
  t.ok(
    decodeEnvelope(duplicated).ciphertext.equals(ciphertext),
    'with two ciphertext members the last one counts, as in Go',
  )
})
