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
  const encrypter: Record<string, unknown> = { name: envelope.encrypter.name }
  const body = envelope.encrypter.body
  if (body !== undefined && Object.keys(body).length > 0) {
    // Go marshals map[string]any with sorted keys.
    encrypter.body = Object.fromEntries(Object.entries(body).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }
  const doc = {
    'envelope-version': 1,
    'payload-type': envelope.payloadType,
    encrypter,
    ciphertext: envelope.ciphertext.toString('base64'),
  }
  return Buffer.from(`${goMarshalIndent(doc)}\n`)
}

/**
 * Decodes envelope bytes. Throws `unreadable-snapshot` for anything the Go
 * tool would not read: bad JSON, another envelope version, a missing
 * encrypter, or ciphertext that is not strict standard base64. An absent
 * payload type reads as `state`, as in Go (`omitempty`).
 */
export function decodeEnvelope(bytes: Buffer): Envelope {
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw unreadable(bytes.length === 0 ? 'the envelope file is empty (a torn write?)' : 'the envelope is not valid JSON (truncated or corrupted)')
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw unreadable('the envelope is not a JSON object')
  const fields = doc as Record<string, unknown>
  if (fields['envelope-version'] !== 1) throw unreadable(`envelope-version is ${JSON.stringify(fields['envelope-version'])}, expected 1`)
  const payloadType = fields['payload-type'] ?? UNOBIN_PAYLOAD
  if (typeof payloadType !== 'string') throw unreadable('payload-type is not a string')
  const encrypter = fields.encrypter
  if (typeof encrypter !== 'object' || encrypter === null || typeof (encrypter as { name?: unknown }).name !== 'string') {
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
    encrypter: body === undefined ? { name: (encrypter as { name: string }).name } : { name: (encrypter as { name: string }).name, body },
    ciphertext: sealed,
  }
}

function unreadable(reason: string): StateError {
  return new StateError('unreadable-snapshot', reason)
}
