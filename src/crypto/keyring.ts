/**
 * AES-256-GCM sealing with a keyring: one key seals, every configured key
 * opens (so a key can be rotated while old revs stay readable). This is the
 * Go tool's `env-key` format: ciphertext = 12-byte random nonce ‖ GCM
 * ciphertext ‖ 16-byte tag, no associated data.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { StateError } from '../errors.js'
import {
  type CiphertextSource,
  type Encrypter,
  type EncrypterRef,
  type Opened,
  OPEN_SLICE,
  type Sealer,
  describeRef,
  readAll,
} from './encrypter.js'
import type { SealingKey } from './keys.js'

const NONCE_BYTES = 12
const TAG_BYTES = 16

/** Options of a keyring. */
export interface KeyringOptions {
  /** Also open envelopes sealed with `noop` (for migrating a development tree). Default false. */
  readonly openNoop?: boolean
}

/**
 * Seals with `sealing`; opens with `sealing` and each of `older`, trying first
 * the key whose ref matches the envelope's. Decrypt failures are
 * `unreadable-snapshot` errors naming the ref that sealed the file.
 */
export class Keyring implements Encrypter {
  readonly ref: EncrypterRef
  readonly #keys: readonly SealingKey[]
  readonly #openNoop: boolean

  constructor(sealing: SealingKey, older: readonly SealingKey[] = [], options: KeyringOptions = {}) {
    for (const k of [sealing, ...older]) {
      if (k.key.length !== 32)
        throw new RangeError(`key ${describeRef(k.ref)} has ${k.key.length} bytes; AES-256 needs 32`)
    }
    this.ref = sealing.ref
    this.#keys = [sealing, ...older]
    this.#openNoop = options.openNoop ?? false
  }

  seal(plaintext: Buffer): Buffer {
    const nonce = randomBytes(NONCE_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#keys[0]!.key, nonce, { authTagLength: TAG_BYTES })
    return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
  }

  sealer(): Sealer {
    const nonce = randomBytes(NONCE_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#keys[0]!.key, nonce, { authTagLength: TAG_BYTES })
    let first = true
    return {
      update: (plaintext) => {
        const sealed = cipher.update(plaintext)
        if (!first) return sealed
        first = false
        return Buffer.concat([nonce, sealed])
      },
      final: () => Buffer.concat([first ? nonce : Buffer.alloc(0), cipher.final(), cipher.getAuthTag()]),
    }
  }

  open(ciphertext: Buffer, ref: EncrypterRef): Buffer {
    if (this.#opensAsIs(ref, ciphertext.length)) return ciphertext
    for (const candidate of this.#ordered(ref)) {
      const opened = tryOpen(candidate.key, ciphertext)
      if (opened !== undefined) return opened
    }
    throw this.#unopened(ref)
  }

  async openFrom(source: CiphertextSource, ref: EncrypterRef): Promise<Opened> {
    if (this.#opensAsIs(ref, source.length)) return { body: await readAll(source), bySealingKey: false }
    const nonce = Buffer.from(await source.read(0, NONCE_BYTES)) // copies: the next read may reuse the source's buffer
    const tag = Buffer.from(await source.read(source.length - TAG_BYTES, TAG_BYTES))
    const end = source.length - TAG_BYTES
    const out = Buffer.allocUnsafe(end - NONCE_BYTES)
    for (const candidate of this.#ordered(ref)) {
      const decipher = createDecipheriv('aes-256-gcm', candidate.key, nonce, { authTagLength: TAG_BYTES })
      decipher.setAuthTag(tag)
      for (let at = NONCE_BYTES; at < end; at += OPEN_SLICE)
        decipher.update(await source.read(at, Math.min(OPEN_SLICE, end - at))).copy(out, at - NONCE_BYTES)
      try {
        decipher.final() // GCM yields no bytes here: it checks the tag
      } catch {
        continue
      }
      return { body: out, bySealingKey: candidate === this.#keys[0] && describeRef(ref) === describeRef(this.ref) }
    }
    throw this.#unopened(ref)
  }

  isSealedWithSealingKey(ciphertext: Buffer, ref: EncrypterRef): boolean {
    if (describeRef(ref) !== describeRef(this.ref) || ciphertext.length < NONCE_BYTES + TAG_BYTES) return false
    return tryOpen(this.#keys[0]!.key, ciphertext) !== undefined
  }

  describe(): string {
    return this.#keys.map((k, i) => `${describeRef(k.ref)}${i === 0 ? ' (sealing)' : ''}`).join(', ')
  }

  /**
   * True when `ref` is noop and this keyring opens such envelopes (the
   * ciphertext is the plaintext); throws when it does not, or when a
   * ciphertext of `length` bytes cannot even hold a nonce and a tag.
   */
  #opensAsIs(ref: EncrypterRef, length: number): boolean {
    const sealedWith = describeRef(ref)
    if (ref.name === 'noop') {
      if (this.#openNoop) return true
      throw new StateError(
        'unreadable-snapshot',
        `sealed with noop (unencrypted) while the server requires encryption: re-seal the tree or allow opening noop envelopes`,
        { sealedWith },
      )
    }
    if (length < NONCE_BYTES + TAG_BYTES) {
      throw new StateError(
        'unreadable-snapshot',
        `ciphertext sealed with ${sealedWith} is ${length} bytes, shorter than nonce and tag: the file is truncated`,
        { sealedWith },
      )
    }
    return false
  }

  #unopened(ref: EncrypterRef): StateError {
    return new StateError(
      'unreadable-snapshot',
      `cannot open a snapshot sealed with ${describeRef(ref)} with the configured keys (${this.describe()}): the key is wrong or missing, or the file was tampered with`,
      { sealedWith: describeRef(ref) },
    )
  }

  #ordered(ref: EncrypterRef): SealingKey[] {
    const same = (k: SealingKey) => describeRef(k.ref) === describeRef(ref)
    return [...this.#keys.filter(same), ...this.#keys.filter((k) => !same(k))]
  }
}

function tryOpen(key: Buffer, ciphertext: Buffer): Buffer | undefined {
  const nonce = ciphertext.subarray(0, NONCE_BYTES)
  const tag = ciphertext.subarray(ciphertext.length - TAG_BYTES)
  const body = ciphertext.subarray(NONCE_BYTES, ciphertext.length - TAG_BYTES)
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES })
  decipher.setAuthTag(tag)
  try {
    const opened = decipher.update(body)
    // GCM is a stream mode: final() only checks the tag and yields no bytes, so the plaintext is not copied again.
    const rest = decipher.final()
    return rest.length === 0 ? opened : Buffer.concat([opened, rest])
  } catch {
    return undefined
  }
}
