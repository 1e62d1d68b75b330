/**
 * Strict standard base64 (RFC 4648 §4, with padding), as Go's
 * `base64.StdEncoding` accepts it. Node's decoder skips invalid characters
 * silently, so the check is a round trip: only canonical text re-encodes to
 * itself. Linear in the input (a regular expression over a 70 MB envelope
 * overflowed the stack).
 */
export function decodeStandardBase64(text: string): Buffer | undefined {
  if (text.length % 4 !== 0) return undefined
  const bytes = Buffer.from(text, 'base64')
  return bytes.toString('base64') === text ? bytes : undefined
}
