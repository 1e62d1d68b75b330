/**
 * Large snapshots in slices (envelope-slices.ts): the pieces are the bytes
 * of the one-piece encoding, a sliced open gives what the whole-file open
 * gives (plaintext, payload type, or the same error), and any file outside
 * the usual layout is left to the whole-file path.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { Keyring } from '../../src/crypto/keyring.js'
import { NoopEncrypter } from '../../src/crypto/noop.js'
import type { Encrypter } from '../../src/crypto/encrypter.js'
import { nodeFs } from '../../src/fs/fs-ops.js'
import { EnvelopeEncoder, decodeEnvelope, encodeEnvelope } from '../../src/store/envelope.js'
import { digestInSlices, openEnvelopeFile, sealedEnvelope } from '../../src/store/envelope-slices.js'
import { createHash } from 'node:crypto'

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'unobin')
const goKey = { ref: { name: 'env-key', body: { 'env-var': 'UNOBIN_STATE_KEY' } }, key: Buffer.alloc(32, 'k') }
const otherKey = { ref: { name: 'key-file', body: { path: '/k' } }, key: Buffer.alloc(32, 7) }

/** Deterministic bytes. */
function pattern(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) out[i] = (i * 7919 + seed * 31 + (i >> 9)) & 0xff
  return out
}

/** What opening the whole file gives: the snapshot (and whether key rotation would skip it), or the error's code and message. */
function openWhole(bytes: Buffer, encrypter: Encrypter): unknown {
  try {
    const envelope = decodeEnvelope(Buffer.from(bytes))
    return {
      payloadType: envelope.payloadType,
      body: encrypter.open(envelope.ciphertext, envelope.encrypter),
      bySealingKey: encrypter.isSealedWithSealingKey(envelope.ciphertext, envelope.encrypter),
    }
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message }
  }
}

async function openSliced(path: string, encrypter: Encrypter): Promise<unknown> {
  try {
    return await openEnvelopeFile(nodeFs, path, encrypter)
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message }
  }
}

async function collect(content: (write: (piece: Buffer) => Promise<void>) => Promise<void>): Promise<Buffer> {
  const pieces: Buffer[] = []
  await content(async (piece) => {
    pieces.push(Buffer.from(piece))
  })
  return Buffer.concat(pieces)
}

t.test('the pieces of an envelope are the bytes encodeEnvelope writes, wherever the slices fall', async (t) => {
  const ref = { name: 'env-key', body: { 'env-var': 'K' } }
  for (const size of [0, 1, 2, 3, 4, 100, 1001]) {
    const ciphertext = pattern(size)
    const whole = encodeEnvelope({ payloadType: 'terraform-state', encrypter: ref, ciphertext })
    for (const slice of [1, 2, 5, 64]) {
      const encoder = new EnvelopeEncoder('terraform-state', ref)
      const pieces = [encoder.head]
      for (let at = 0; at < size; at += slice) pieces.push(encoder.encode(ciphertext.subarray(at, at + slice)))
      pieces.push(encoder.end())
      t.ok(Buffer.concat(pieces).equals(whole), `${size} bytes in slices of ${slice}`)
    }
  }
})

t.test('a body sealed in slices opens to itself, with either encrypter', async (t) => {
  for (const encrypter of [new Keyring(goKey), new NoopEncrypter()]) {
    for (const size of [0, 5, 786_432, 786_433, 2 * 786_432 + 2]) {
      const body = pattern(size, size)
      const bytes = await collect(sealedEnvelope(body, 'state', encrypter))
      const envelope = decodeEnvelope(bytes)
      t.equal(envelope.payloadType, 'state')
      t.same(envelope.encrypter, encrypter.ref)
      t.ok(encrypter.open(envelope.ciphertext, envelope.encrypter).equals(body), `${encrypter.ref.name}, ${size} bytes`)
    }
  }
  const keyring = new Keyring(goKey)
  const a = await collect(sealedEnvelope(pattern(10), 'state', keyring))
  const b = await collect(sealedEnvelope(pattern(10), 'state', keyring))
  t.not(a.toString(), b.toString(), 'each sealing takes a fresh nonce')
})

t.test('the digest in slices is the SHA-256 of the body', async (t) => {
  for (const size of [0, 1, 3 * 1024 * 1024 + 5]) {
    const body = pattern(size)
    t.equal(await digestInSlices(body), createHash('sha256').update(body).digest('hex'))
  }
})

t.test('the files the Go tool wrote open in slices to what the whole-file path gives', async (t) => {
  let opened = 0
  for (const [kind, encrypter] of [
    ['env-key', new Keyring(goKey)],
    ['noop', new NoopEncrypter()],
  ] as const) {
    const root = join(fixtures, kind, 'store')
    for (const factory of readdirSync(root)) {
      for (const stack of readdirSync(join(root, factory))) {
        const dir = join(root, factory, stack, 'snapshots')
        for (const name of readdirSync(dir)) {
          const path = join(dir, name)
          const sliced = await openSliced(path, encrypter)
          t.same(sliced, openWhole(readFileSync(path), encrypter), `${kind} ${name}`)
          opened++
        }
      }
    }
  }
  t.ok(opened >= 3, `${opened} files`)
})

t.test('a large file opens in slices as a whole; wrong keys and tampering give the same errors', async (t) => {
  const dir = t.testdir()
  const keyring = new Keyring(goKey)
  const body = pattern(3 * 1024 * 1024 + 1)
  const bytes = await collect(sealedEnvelope(body, 'terraform-state', keyring))
  const path = join(dir, 'rev.json.enc')
  await writeFile(path, bytes)
  t.same(await openSliced(path, keyring), { payloadType: 'terraform-state', body, bySealingKey: true })
  t.same(
    await openSliced(path, new Keyring(otherKey, [goKey])),
    { payloadType: 'terraform-state', body, bySealingKey: false },
    'an older key of the ring opens it (key rotation would re-seal it)',
  )
  for (const encrypter of [new Keyring(otherKey), new NoopEncrypter()]) {
    const whole = openWhole(bytes, encrypter)
    t.match(whole, { code: 'unreadable-snapshot' })
    t.same(await openSliced(path, encrypter), whole)
  }
  // One flipped base64 letter in the middle: the tag no longer matches.
  const tampered = Buffer.from(bytes)
  const at = Math.floor(tampered.length / 2)
  tampered[at] = tampered[at] === 0x41 ? 0x42 : 0x41
  await writeFile(path, tampered)
  t.same(await openSliced(path, keyring), openWhole(tampered, keyring))
  t.match(await openSliced(path, keyring), { code: 'unreadable-snapshot' })
})

t.test('files outside the usual layout are left to the whole-file path', async (t) => {
  const dir = t.testdir()
  const keyring = new Keyring(goKey)
  const bytes = await collect(sealedEnvelope(pattern(100_000), 'state', keyring))
  const text = bytes.toString('latin1')
  const base64At = text.indexOf('"ciphertext": "') + 15
  const variants: Record<string, Buffer> = {
    compact: Buffer.from(JSON.stringify(JSON.parse(text))),
    'an escaped slash': Buffer.from(text.replace('/', '\\/')),
    'URL-safe letters': Buffer.from(text.slice(0, base64At) + text.slice(base64At).replace(/\+/g, '-')),
    'inner padding': Buffer.from(`${text.slice(0, base64At + 8)}====${text.slice(base64At + 12)}`),
    'a space in the base64': Buffer.from(`${text.slice(0, base64At + 8)} ${text.slice(base64At + 9)}`),
    'cut short': bytes.subarray(0, bytes.length - 40),
    'no trailing newline': bytes.subarray(0, bytes.length - 1),
    'another version': Buffer.from(text.replace('"envelope-version": 1', '"envelope-version": 2')),
  }
  let left = 0
  for (const [name, variant] of Object.entries(variants)) {
    const path = join(dir, `${left}.json.enc`)
    await writeFile(path, variant)
    const sliced = await openSliced(path, keyring)
    if (sliced === undefined) left++
    else t.same(sliced, openWhole(variant, keyring), `${name}: opened in slices only to what the whole path gives`)
  }
  t.ok(left >= 6, `${left} of ${Object.keys(variants).length} left to the whole-file path`)
  t.equal(await openEnvelopeFile(nodeFs, join(dir, 'absent.json.enc'), keyring), undefined, 'a file gone')
})
