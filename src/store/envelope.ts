/**
 * The envelope: the on-disk JSON wrapper around a sealed snapshot body, byte
 * for byte as the Go tool writes it:
 *
 * ```
 * {
 *   "envelope-version": 1,
 *   "payload-type": "state",
 *   "encrypter": { "name": "env-key", "body": { "env-var": "UNOBIN_STATE_KEY" } },
 *   "ciphertext": "<standard base64 with padding>"
 * }
 * ```
 * (2-space indent, keys in that order, `body` omitted when empty, trailing newline).
 */
import { StateError } from '../errors.js'
import { decodeStandardBase64 } from '../crypto/base64.js'
import type { EncrypterRef } from '../crypto/encrypter.js'
import { goMarshalIndent } from './go-json.js'

/** The payload type of unobin snapshots (the Go tool's only type). */
export const UNOBIN_PAYLOAD = 'state'
/** The payload type of Terraform/OpenTofu state stored byte-exact. */
export const TERRAFORM_PAYLOAD = 'terraform-state'

/** A decoded envelope. */
export interface Envelope {
  readonly payloadType: string
  readonly encrypter: EncrypterRef
  readonly ciphertext: Buffer
}

/** Encodes an envelope exactly as Go's MarshalIndent would, with a trailing newline. */
export function encodeEnvelope(envelope: Envelope): Buffer {
  const encoder = new EnvelopeEncoder(envelope.payloadType, envelope.encrypter)
  const ciphertext = envelope.ciphertext
  const pieces = [encoder.head]
  // Base64 in slices (a multiple of 3 bytes, so no padding inside): a 50 MB state never exists as one 67 MB string.
  for (let i = 0; i < ciphertext.length; i += BASE64_SLICE)
    pieces.push(encoder.encode(ciphertext.subarray(i, i + BASE64_SLICE)))
  pieces.push(encoder.end())
  return Buffer.concat(pieces)
}

/**
 * An envelope encoded in pieces: `head`, then `encode` of each slice of the
 * ciphertext in order, then `end`. The pieces together are the bytes
 * `encodeEnvelope` writes for the whole ciphertext.
 */
export class EnvelopeEncoder {
  /** The envelope up to the opening quote of the ciphertext. */
  readonly head: Buffer
  readonly #tail: Buffer
  /** Ciphertext bytes not yet encoded (fewer than 3: base64 encodes whole groups of 3 until the end). */
  #carry: Buffer = Buffer.alloc(0)

  constructor(payloadType: string, ref: EncrypterRef) {
    const encrypter: Record<string, unknown> = { name: ref.name }
    const body = ref.body
    if (body !== undefined && Object.keys(body).length > 0) {
      // Go marshals map[string]any with sorted keys.
      encrypter.body = Object.fromEntries(Object.entries(body).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    }
    const shell = `${goMarshalIndent({ 'envelope-version': 1, 'payload-type': payloadType, encrypter, ciphertext: '' })}\n`
    // The ciphertext is the last member: its base64 (which JSON never escapes) goes between the quotes of "".
    const at = shell.length - EMPTY_TAIL.length + 1
    if (!shell.endsWith(`"ciphertext": ${EMPTY_TAIL}`))
      throw new Error('envelope layout changed: the ciphertext must be the last member')
    this.head = Buffer.from(shell.slice(0, at))
    this.#tail = Buffer.from(shell.slice(at))
  }

  /**
   * The base64 of the next slice of ciphertext (as far as whole groups of 3
   * bytes go). With `scratch` (large enough), the result is a view of it,
   * valid until scratch is used again.
   */
  encode(ciphertext: Buffer, scratch?: Buffer): Buffer {
    const bytes = this.#carry.length === 0 ? ciphertext : Buffer.concat([this.#carry, ciphertext])
    const whole = bytes.length - (bytes.length % 3)
    this.#carry = Buffer.from(bytes.subarray(whole))
    const size = (whole / 3) * 4
    const out = scratch !== undefined && scratch.length >= size ? scratch : Buffer.allocUnsafe(size)
    // In pieces whose text is an ordinary short-lived string: a longer one is memory touched for the first time.
    let at = 0
    for (let i = 0; i < whole; i += ENCODE_PIECE)
      at += out.write(bytes.toString('base64', i, Math.min(i + ENCODE_PIECE, whole)), at, 'latin1')
    return out.subarray(0, at)
  }

  /** The base64 of what is left (padded) and the end of the envelope. */
  end(): Buffer {
    const rest = this.#carry.toString('base64')
    this.#carry = Buffer.alloc(0)
    return Buffer.concat([Buffer.from(rest, 'latin1'), this.#tail])
  }
}

/** How an envelope with an empty ciphertext ends: `""`, the closing brace and the newline. */
const EMPTY_TAIL = '""\n}\n'
/** Bytes of ciphertext encoded (3 MiB) per slice. */
const BASE64_SLICE = 3 * 1024 * 1024
/** Bytes of ciphertext encoded per string (48 KiB: its 64 KiB of base64 stay a regular V8 heap string). */
const ENCODE_PIECE = 3 * 16 * 1024
/**
 * Characters of base64 decoded per slice (48 KiB of ciphertext). Small
 * enough that each slice is an ordinary short-lived string on the V8 heap,
 * whose memory the next slices reuse; slices above about 1 MB are external
 * strings, each a fresh allocation of its own (a 15 MB envelope touched
 * 15 MB of new memory for them, which on a cold process costs more than
 * decoding).
 */
const DECODE_SLICE = 64 * 1024
/** Envelopes smaller than this take the plain JSON path only. */
const LARGE_ENVELOPE = 1024 * 1024

/** How to decode an envelope. */
export interface DecodeOptions {
  /**
   * The bytes are the caller's to give up (a file just read): a large
   * envelope's ciphertext is then decoded over its own base64 text, which
   * saves a buffer the size of the ciphertext, and the returned ciphertext
   * is a view of `bytes`. Afterwards the bytes hold no envelope any more;
   * when the decode falls back to the JSON rules, they are put back first.
   */
  readonly consume?: boolean
}

/**
 * Decodes envelope bytes. Throws `unreadable-snapshot` for anything the Go
 * tool would not read: bad JSON, another envelope version, a missing
 * encrypter, or ciphertext that is not strict standard base64. An absent
 * payload type reads as `state`, as in Go (`omitempty`).
 */
export function decodeEnvelope(bytes: Buffer, options: DecodeOptions = {}): Envelope {
  return (
    (bytes.length >= LARGE_ENVELOPE ? decodeLarge(bytes, options.consume === true) : undefined) ?? decodeJson(bytes)
  )
}

/**
 * A large envelope as the Go tool and this server write it (ciphertext last,
 * plain base64 between its quotes) is read without building its JSON text:
 * the small rest is checked by `decodeJson` with an empty ciphertext, and the
 * base64 is decoded in slices straight from the file bytes. Anything else
 * (an escape in the text, a character outside the alphabet, another layout)
 * returns undefined, and `decodeJson` decides, with the same rules. With
 * `inPlace`, slice k's bytes go where its text began at the earliest (3
 * bytes for 4 characters: the output never overtakes the text still to be
 * read), and a give-up writes the text back before returning.
 */
function decodeLarge(bytes: Buffer, inPlace: boolean): Envelope | undefined {
  const span = ciphertextSpan(bytes, bytes.subarray(Math.max(0, bytes.length - SPAN_TAIL)), bytes.length)
  if (span === undefined) return undefined
  const { from, length, padding, shell } = span
  const close = from + length
  const size = (length / 4) * 3 - padding
  const out = inPlace ? bytes : Buffer.allocUnsafe(size)
  const at = inPlace ? from : 0
  let written = 0
  for (let i = from; i < close; i += DECODE_SLICE) {
    const text = bytes.toString('latin1', i, Math.min(i + DECODE_SLICE, close))
    const last = i + DECODE_SLICE >= close
    const expected = (text.length / 4) * 3 - (last ? padding : 0)
    // Strict like decodeStandardBase64: no URL-safe letters, and every character decodes (checked
    // by length: Node skips characters outside the alphabet and stops at inner padding).
    const strict = !text.includes('-') && !text.includes('_') && expected <= size - written
    if (!strict || out.write(text, at + written, expected, 'base64') !== expected) {
      if (inPlace) putBack(bytes, from, written, i, text)
      return undefined
    }
    written += expected
  }
  // Every slice wrote what its length promised, which adds up to `size`.
  return { ...shell, ciphertext: out.subarray(at, at + size) }
}

/**
 * Undoes an in-place decode that gave up at the slice whose text `text`
 * began at `i`: the slices before it decoded (strict, unpadded) to `written`
 * bytes at `from`, whose base64 is exactly their text again, and the given
 * up slice's own partial output may have overwritten the start of its text.
 */
function putBack(bytes: Buffer, from: number, written: number, i: number, text: string): void {
  const before = bytes.toString('base64', from, from + written)
  bytes.write(text, i, 'latin1')
  bytes.write(before, from, 'latin1')
}

const CIPHERTEXT_MARK = Buffer.from('"ciphertext": "')

/** How many of a file's last bytes `ciphertextSpan` needs: `=="`, newline, brace, newline, and slack. */
export const SPAN_TAIL = 8

/** Where an envelope file's ciphertext lies, in the usual layout (see `ciphertextSpan`). */
export interface CiphertextSpan {
  /** Offset of the first base64 character in the file. */
  from: number
  /** Characters of base64 (a multiple of 4). */
  length: number
  /** `=` characters that end the base64. */
  padding: number
  /** The envelope with an empty ciphertext: its other members, checked by the JSON rules. */
  shell: Envelope
}

/**
 * The layout the Go tool and this server write, ciphertext last and its
 * base64 plain between quotes, recognised from a file's first bytes (`head`,
 * from offset 0, holding the `"ciphertext": "` mark) and its last (`tail`,
 * ending at `size`, at least `SPAN_TAIL` bytes when the file has them). The
 * rest of the envelope is checked by the JSON rules with an empty ciphertext.
 * Undefined for any other layout: the JSON reference decode then decides,
 * with the same rules. The member is found from the start, where it is (after
 * the small rest): a search from the end was one more pass over megabytes of
 * base64, and should an earlier "ciphertext" member exist, the text from it
 * to the end holds a quote, which no strict base64 decode takes.
 */
export function ciphertextSpan(head: Buffer, tail: Buffer, size: number): CiphertextSpan | undefined {
  const mark = head.indexOf(CIPHERTEXT_MARK)
  if (mark < 0) return undefined
  const from = mark + CIPHERTEXT_MARK.length
  let end = tail.length
  if (tail[end - 1] === 0x0a) end-- // the newline the Go tool adds
  // ...base64", newline, closing brace.
  if (tail[end - 1] !== 0x7d || tail[end - 2] !== 0x0a || tail[end - 3] !== 0x22) return undefined
  const close = size - tail.length + end - 3
  const length = close - from
  if (length < 0 || length % 4 !== 0) return undefined
  let shell: Envelope
  try {
    shell = decodeJson(Buffer.concat([head.subarray(0, from), tail.subarray(end - 3)]))
  } catch {
    return undefined
  }
  if (shell.ciphertext.length !== 0) return undefined // another ciphertext member decides: not this layout
  const padding = length === 0 ? 0 : tail[end - 4] !== 0x3d ? 0 : tail[end - 5] === 0x3d ? 2 : 1
  return { from, length, padding, shell }
}

/** Decodes envelope bytes by parsing them as JSON (the reference path). */
function decodeJson(bytes: Buffer): Envelope {
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw unreadable(
      bytes.length === 0
        ? 'the envelope file is empty (a torn write?)'
        : 'the envelope is not valid JSON (truncated or corrupted)',
    )
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw unreadable('the envelope is not a JSON object')
  const fields = doc as Record<string, unknown>
  if (fields['envelope-version'] !== 1)
    throw unreadable(`envelope-version is ${JSON.stringify(fields['envelope-version'])}, expected 1`)
  const payloadType = fields['payload-type'] ?? UNOBIN_PAYLOAD
  if (typeof payloadType !== 'string') throw unreadable('payload-type is not a string')
  const encrypter = fields.encrypter
  if (
    typeof encrypter !== 'object' ||
    encrypter === null ||
    typeof (encrypter as { name?: unknown }).name !== 'string'
  ) {
    throw unreadable('the envelope names no encrypter')
  }
  const rawBody = (encrypter as { body?: unknown }).body
  let body: Record<string, string> | undefined
  if (rawBody !== undefined && rawBody !== null) {
    if (typeof rawBody !== 'object' || Array.isArray(rawBody)) throw unreadable('encrypter body is not an object')
    body = Object.fromEntries(Object.entries(rawBody).map(([k, v]) => [k, String(v)]))
  }
  const ciphertext = fields.ciphertext
  const sealed = typeof ciphertext === 'string' ? decodeStandardBase64(ciphertext) : undefined
  if (sealed === undefined) throw unreadable('ciphertext is not standard base64')
  return {
    payloadType,
    encrypter:
      body === undefined
        ? { name: (encrypter as { name: string }).name }
        : { name: (encrypter as { name: string }).name, body },
    ciphertext: sealed,
  }
}

function unreadable(reason: string): StateError {
  return new StateError('unreadable-snapshot', reason)
}
