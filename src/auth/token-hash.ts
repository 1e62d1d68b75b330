/**
 * Static tokens are stored as `sha256:<hex>` of the token, never the token
 * itself. A plain SHA-256 is enough because tokens are random (32 bytes from
 * a CSPRNG), not passwords a person chose: nothing is gained by a slow hash,
 * and every request would pay for it. Comparison is constant-time over the
 * fixed-length digests.
 */
import { createHash, timingSafeEqual } from 'node:crypto'

/** The form of a stored token hash. */
export const TOKEN_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/

/** The stored form of `token`: `sha256:` and the lowercase hex digest. */
export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`
}

/** The digest bytes of a stored hash (already checked against TOKEN_HASH_PATTERN). */
export function digestOfHash(hash: string): Buffer {
  return Buffer.from(hash.slice('sha256:'.length), 'hex')
}

/** The digest bytes of a presented token. */
export function digestOfToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

/** Constant-time equality of two 32-byte digests. */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}
