/**
 * The `noop` encrypter: ciphertext is the plaintext. For development and for
 * trees the Go tool wrote without a key; the server logs a warning when it
 * seals with it.
 */
import { StateError } from '../errors.js'
import { type Encrypter, type EncrypterRef, describeRef } from './encrypter.js'

/** Seals nothing; opens only envelopes that say `noop`. */
export class NoopEncrypter implements Encrypter {
  readonly ref: EncrypterRef = { name: 'noop' }

  seal(plaintext: Buffer): Buffer {
    return plaintext
  }

  open(ciphertext: Buffer, ref: EncrypterRef): Buffer {
    if (ref.name !== 'noop') {
      throw new StateError(
        'unreadable-snapshot',
        `sealed with ${describeRef(ref)}, but the server runs with noop encryption: configure the key that sealed it`,
        { sealedWith: describeRef(ref) },
      )
    }
    return ciphertext
  }

  isSealedWithSealingKey(_ciphertext: Buffer, ref: EncrypterRef): boolean {
    return ref.name === 'noop'
  }

  describe(): string {
    return 'noop (no encryption)'
  }
}
