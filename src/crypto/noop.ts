/**
 * The `noop` encrypter: ciphertext is the plaintext. For development and for
 * trees the Go tool wrote without a key; the server logs a warning when it
 * seals with it.
 */
import { StateError } from '../errors.js'
import {
  type CiphertextSource,
  type Encrypter,
  type EncrypterRef,
  type Opened,
  type Sealer,
  describeRef,
  readAll,
} from './encrypter.js'

/** Seals nothing; opens only envelopes that say `noop`. */
export class NoopEncrypter implements Encrypter {
  readonly ref: EncrypterRef = { name: 'noop' }

  seal(plaintext: Buffer): Buffer {
    return plaintext
  }

  sealer(): Sealer {
    return { update: (plaintext) => plaintext, final: () => Buffer.alloc(0) }
  }

  open(ciphertext: Buffer, ref: EncrypterRef): Buffer {
    assertNoop(ref)
    return ciphertext
  }

  async openFrom(source: CiphertextSource, ref: EncrypterRef): Promise<Opened> {
    assertNoop(ref)
    return { body: await readAll(source), bySealingKey: true }
  }

  isSealedWithSealingKey(_ciphertext: Buffer, ref: EncrypterRef): boolean {
    return ref.name === 'noop'
  }

  describe(): string {
    return 'noop (no encryption)'
  }
}

function assertNoop(ref: EncrypterRef): void {
  if (ref.name !== 'noop') {
    throw new StateError(
      'unreadable-snapshot',
      `sealed with ${describeRef(ref)}, but the server runs with noop encryption: configure the key that sealed it`,
      { sealedWith: describeRef(ref) },
    )
  }
}
