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

/** One sealing of a body given in slices: `update` for each slice in order, then `final`. */
export interface Sealer {
  update(plaintext: Buffer): Buffer
  final(): Buffer
}

/**
 * Ciphertext that is not held whole (a large envelope on disk): its length,
 * and reads of a range of it. Openers ask ranges that start at a multiple of
 * 3 bytes, except one read of the last bytes. The bytes a read returns are
 * valid until the next read (a source may reuse its buffer).
 */
export interface CiphertextSource {
  readonly length: number
  read(offset: number, length: number): Promise<Buffer>
}

/** What `openFrom` opened: the plaintext, and whether the sealing key opened it under the sealing ref. */
export interface Opened {
  readonly body: Buffer
  readonly bySealingKey: boolean
}

/** Bytes of ciphertext opened per read from a CiphertextSource (a multiple of 3, a few ms of AES on a slow core). */
export const OPEN_SLICE = 3 * 256 * 1024

/** Seals and opens snapshot bodies. Implementations are stateless after construction. */
export interface Encrypter {
  /** The ref written into envelopes sealed by this encrypter. */
  readonly ref: EncrypterRef
  /** Seals `plaintext`; the result is what goes into the envelope's `ciphertext`. */
  seal(plaintext: Buffer): Buffer
  /**
   * Seals a body in slices: the outputs of `update` and `final`, in order,
   * are a ciphertext `seal` could have returned (with a nonce of its own),
   * so a large body is sealed without a second copy of it in memory.
   */
  sealer(): Sealer
  /**
   * Opens `ciphertext` that an envelope says was sealed by `ref`. Throws
   * `unreadable-snapshot` (naming `ref`) when no configured key opens it.
   */
  open(ciphertext: Buffer, ref: EncrypterRef): Buffer
  /**
   * Opens ciphertext read from `source` in slices of `OPEN_SLICE` (each read
   * is a turn of the event loop), into one plaintext buffer: the same result
   * and errors as `open`, without the ciphertext in memory. Plaintext is
   * returned only once the whole ciphertext is authenticated; with it, what
   * `isSealedWithSealingKey` would say of the ciphertext (key rotation skips
   * such revs without a second pass).
   */
  openFrom(source: CiphertextSource, ref: EncrypterRef): Promise<Opened>
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

/** The whole of `source`, read in slices into one buffer. */
export async function readAll(source: CiphertextSource): Promise<Buffer> {
  const out = Buffer.allocUnsafe(source.length)
  for (let at = 0; at < source.length; at += OPEN_SLICE)
    (await source.read(at, Math.min(OPEN_SLICE, source.length - at))).copy(out, at)
  return out
}
