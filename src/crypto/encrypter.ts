/**
 * The contract every encrypter keeps: seal plaintext into ciphertext bytes,
 * open them again, and describe itself for the envelope.
 *
 * The envelope's `encrypter` ref records which key sealed a file, but the file
 * never chooses the key: `open` only uses keys the server was configured with,
 * and the ref serves to pick the likely key first and to name it in errors.
 */

/** The `encrypter` object of an envelope: `{name, body?}`. */
export interface EncrypterRef {
  readonly name: string
  readonly body?: Readonly<Record<string, string>>
}

/** Seals and opens snapshot bodies. Implementations are stateless after construction. */
export interface Encrypter {
  /** The ref written into envelopes sealed by this encrypter. */
  readonly ref: EncrypterRef
  /** Seals `plaintext`; the result is what goes into the envelope's `ciphertext`. */
  seal(plaintext: Buffer): Buffer
  /**
   * Opens `ciphertext` that an envelope says was sealed by `ref`. Throws
   * `unreadable-snapshot` (naming `ref`) when no configured key opens it.
   */
  open(ciphertext: Buffer, ref: EncrypterRef): Buffer
  /**
   * True when `ciphertext` (recorded as sealed by `ref`) is already sealed the
   * way `seal` would seal it now: same ref, and the sealing key opens it. Key
   * rotation skips such revs. Checking the key, not only the ref, matters: an
   * operator may put a new key in the variable or file the old one used.
   * Never throws.
   */
  isSealedWithSealingKey(ciphertext: Buffer, ref: EncrypterRef): boolean
  /** A human description of where the keys come from, for logs (never a key). */
  describe(): string
}

/** Renders a ref for messages: `env-key env-var UNOBIN_STATE_KEY`. */
export function describeRef(ref: EncrypterRef): string {
  const body = Object.entries(ref.body ?? {}).map(([k, v]) => `${k} ${v}`)
  return [ref.name, ...body].join(' ')
}
