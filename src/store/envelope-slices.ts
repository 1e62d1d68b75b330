/**
 * Large snapshots in slices. Sealing a body into its envelope and opening an
 * envelope file are done a slice at a time, each slice a turn of the event
 * loop: a 50 MB state sealed and encoded in one go held the loop for about a
 * second and took several times its size in memory (the sealed copy, its
 * base64, the file's bytes). In slices, the body is the only large buffer a
 * write holds, and the plaintext the only one a read builds.
 *
 * The bytes are those of the one-piece path (envelope.ts): the Go tool's
 * layout, byte for byte. A file that is not in that layout (or whose base64
 * is not strict) is left to the one-piece path, which gives its exact answer.
 */
import { createHash } from 'node:crypto'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { CiphertextSource, Encrypter } from '../crypto/encrypter.js'
import { type PiecewiseContent, openNoFollow } from '../fs/durable.js'
import type { FsOps, OpenFile } from '../fs/fs-ops.js'
import { EnvelopeEncoder, SPAN_TAIL, ciphertextSpan, encodeEnvelope } from './envelope.js'

/** Bodies and envelope files at least this large take the sliced paths. */
export const SLICED_BYTES = 1024 * 1024
/** Plaintext sealed per slice (a multiple of 3, so the base64 of each slice ends on a whole group). */
const SEAL_SLICE = 3 * 256 * 1024
/** How far into an envelope file the ciphertext member is looked for (the rest of the envelope is small). */
const HEAD_BYTES = 64 * 1024

/**
 * The envelope sealing `body` with the sealing key, as a write publishes it:
 * a large body sealed in slices as its temp file is written (never a second
 * copy of it in memory), a small one in one piece. Both are the same bytes.
 */
export function envelopeToWrite(body: Buffer, payloadType: string, encrypter: Encrypter): Buffer | PiecewiseContent {
  return body.length >= SLICED_BYTES
    ? sealedEnvelope(body, payloadType, encrypter)
    : encodeEnvelope({ payloadType, encrypter: encrypter.ref, ciphertext: encrypter.seal(body) })
}

/** The envelope sealing `body`, written in pieces (see `writeTemp`); each call seals anew (a fresh nonce). */
export function sealedEnvelope(body: Buffer, payloadType: string, encrypter: Encrypter): PiecewiseContent {
  return async (write) => {
    const encoder = new EnvelopeEncoder(payloadType, encrypter.ref)
    const sealer = encrypter.sealer()
    // One buffer for the base64 of every slice (each is written before the next is encoded): fresh memory costs.
    const scratch = Buffer.allocUnsafe(((SEAL_SLICE + 3 + 12) / 3) * 4 + 4)
    await write(encoder.head)
    for (let at = 0; at < body.length; at += SEAL_SLICE)
      await write(encoder.encode(sealer.update(body.subarray(at, at + SEAL_SLICE)), scratch))
    await write(Buffer.concat([encoder.encode(sealer.final()), encoder.end()]))
  }
}

/** The SHA-256 (hex) of `body`, a slice per turn of the event loop. */
export async function digestInSlices(body: Buffer): Promise<string> {
  const hash = createHash('sha256')
  for (let at = 0; at < body.length; at += 4 * SEAL_SLICE) {
    if (at > 0) await nextTurn()
    hash.update(body.subarray(at, at + 4 * SEAL_SLICE))
  }
  return hash.digest('hex')
}

/** Thrown inside a sliced open when the file is not in the usual layout after all: the one-piece path decides. */
class NotSliceable extends Error {}

/**
 * Opens the envelope file at `path` in slices, never holding its text: its
 * payload type and plaintext, and whether the sealing key opened it.
 * Undefined when the file is gone or is not in the layout the Go tool and
 * this server write (the caller then reads it whole, which gives the exact
 * answer); `unreadable-snapshot` when no key opens it.
 */
export async function openEnvelopeFile(
  fs: FsOps,
  path: string,
  encrypter: Encrypter,
): Promise<{ payloadType: string; body: Buffer; bySealingKey: boolean } | undefined> {
  const handle = await openNoFollow(fs, path)
  if (handle === undefined) return undefined
  try {
    const size = (await handle.stat()).size
    const head = await readAt(handle, 0, Math.min(size, HEAD_BYTES))
    const tailAt = Math.max(0, size - SPAN_TAIL)
    const span = ciphertextSpan(head, await readAt(handle, tailAt, size - tailAt), size)
    if (span === undefined || span.length === 0) return undefined
    const { from, length, padding, shell } = span
    const source = base64Source(handle, from, length, padding)
    return { payloadType: shell.payloadType, ...(await encrypter.openFrom(source, shell.encrypter)) }
  } catch (err) {
    if (err instanceof NotSliceable) return undefined
    throw err
  } finally {
    await handle.close()
  }
}

/**
 * The ciphertext whose base64 text is the `length` characters at `from` in
 * the file: a read decodes the groups of 4 characters that cover the range,
 * strictly (standard alphabet, padding only at the end), or throws
 * NotSliceable. Reads reuse two buffers (the text, the bytes): memory
 * touched for the first time costs more than the decoding on some hosts.
 */
function base64Source(handle: OpenFile, from: number, length: number, padding: number): CiphertextSource {
  const groups = length / 4
  let text = Buffer.alloc(0)
  let bytes = Buffer.alloc(0)
  return {
    length: groups * 3 - padding,
    async read(offset, size) {
      const first = Math.floor(offset / 3)
      const last = Math.ceil((offset + size) / 3)
      const textLength = (last - first) * 4
      if (text.length < textLength) text = Buffer.allocUnsafe(textLength)
      await readInto(handle, text, textLength, from + first * 4)
      if (bytes.length < textLength) bytes = Buffer.allocUnsafe(textLength)
      let written = 0
      // Decoded in pieces whose text is an ordinary short-lived string (a long one is a fresh allocation each).
      for (let at = 0; at < textLength; at += DECODE_PIECE) {
        const piece = text.toString('latin1', at, Math.min(at + DECODE_PIECE, textLength))
        const want = (piece.length / 4) * 3 - (at + DECODE_PIECE >= textLength && last === groups ? padding : 0)
        // Node's decoder also takes the URL-safe letters, skips characters outside the alphabet and stops at
        // inner padding: strict means none of those, which the count of decoded bytes tells.
        if (piece.includes('-') || piece.includes('_') || bytes.write(piece, written, want, 'base64') !== want)
          throw new NotSliceable()
        written += want
      }
      return bytes.subarray(offset - first * 3, offset - first * 3 + size)
    },
  }
}

/** Characters of base64 decoded per piece (a multiple of 4). */
const DECODE_PIECE = 64 * 1024

/** Reads `length` bytes at `position` into `out`; throws NotSliceable when the file ends first (it changed under us). */
async function readInto(handle: OpenFile, out: Buffer, length: number, position: number): Promise<void> {
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(out, done, length - done, position + done)
    if (bytesRead === 0) throw new NotSliceable()
    done += bytesRead
  }
}

/** `length` bytes at `position`, in a buffer of their own. */
async function readAt(handle: OpenFile, position: number, length: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length)
  await readInto(handle, out, length, position)
  return out
}
