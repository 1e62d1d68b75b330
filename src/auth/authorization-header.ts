/**
 * Reads the secret out of an `Authorization` header: `Bearer <token>`
 * (curl, OpenTofu `headers`), or `Basic base64(user:password)` with the
 * token as password (Terraform's `username`/`password`; the username is
 * not checked, so any non-empty one works).
 */

/** What the header carries. */
export type PresentedCredentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed'; readonly reason: string }
  | { readonly kind: 'secret'; readonly scheme: 'bearer' | 'basic'; readonly secret: string }

const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*$/
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/** Parses the Authorization header value (undefined when absent). */
export function parseAuthorization(header: string | undefined): PresentedCredentials {
  if (header === undefined || header === '') return { kind: 'none' }
  const m = /^([A-Za-z]+) +(\S+) *$/.exec(header)
  if (m === null) return { kind: 'malformed', reason: 'the Authorization header is not "<scheme> <credentials>"' }
  const scheme = m[1]!.toLowerCase()
  const value = m[2]!
  if (scheme === 'bearer') {
    if (!TOKEN68.test(value))
      return { kind: 'malformed', reason: 'the bearer token has characters a token cannot have' }
    return { kind: 'secret', scheme: 'bearer', secret: value }
  }
  if (scheme === 'basic') {
    if (!BASE64.test(value) || value.length % 4 !== 0)
      return { kind: 'malformed', reason: 'the Basic credentials are not base64' }
    const decoded = Buffer.from(value, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 0)
      return { kind: 'malformed', reason: 'the Basic credentials have no ":" between username and password' }
    const password = decoded.slice(colon + 1)
    if (password === '')
      return { kind: 'malformed', reason: 'the Basic password is empty: send the token as the password' }
    return { kind: 'secret', scheme: 'basic', secret: password }
  }
  return { kind: 'malformed', reason: 'the Authorization scheme is neither Bearer nor Basic' }
}
