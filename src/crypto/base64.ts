/**
 * Strict standard base64 (RFC 4648 §4, with padding), as Go's
 * `base64.StdEncoding` accepts it. Node's decoder skips invalid characters
 * silently, so the check compares the decoded length with the length the
 * text promises. Linear in the input (a regular expression over a 70 MB
 * envelope overflowed the stack) and without a second encoding pass.
 */
export function decodeStandardBase64(text: string): Buffer | undefined {
  // Node's 'base64' also decodes the URL-safe alphabet, which Go's StdEncoding refuses.
  if (text.length % 4 !== 0 || text.includes('-') || text.includes('_')) return undefined
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  const bytes = Buffer.from(text, 'base64')
  // Node skips characters outside the alphabet (and stops at inner padding), so any such
  // character makes the decoded length fall short of what the text's length promises.
  return bytes.length === (text.length / 4) * 3 - padding ? bytes : undefined
}
