/**
 * Turns a presented secret into an identity: a static token of the tokens
 * file, or an identity token (JWT) of a configured OIDC issuer. A JWT is
 * routed to its issuer by its (still unverified) `iss` claim; only that
 * issuer's keys can then make it valid.
 */
import { decodeJwt } from 'jose'
import { StateError } from '../errors.js'
import type { Identity } from './identity.js'
import { OidcIssuer } from './oidc-issuer.js'
import { StaticTokens } from './static-tokens.js'
import type { Credentials } from './tokens-file.js'

/** The shape of a compact JWS: three base64url parts. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

/** What the HTTP layer asks of credentials: an identity for a presented secret. */
export interface SecretAuthenticator {
  /** The identity of `secret`; throws `unauthenticated` or `auth-unavailable` (a StateError). */
  authenticate(secret: string): Promise<Identity>
  /** What is configured, for logs (counts and issuers, never hashes). */
  describe(): { tokens: number; issuers: string[] }
}

/** Authenticates presented secrets against the configured credentials. */
export class Authenticator implements SecretAuthenticator {
  readonly #tokens: StaticTokens
  readonly #issuers: ReadonlyMap<string, OidcIssuer>

  constructor(tokens: StaticTokens, issuers: readonly OidcIssuer[]) {
    this.#tokens = tokens
    this.#issuers = new Map(issuers.map((i) => [i.config.issuer, i]))
  }

  /** What is configured, for the start-up log (names and issuers, never hashes). */
  describe(): { tokens: number; issuers: string[] } {
    return { tokens: this.#tokens.size, issuers: [...this.#issuers.keys()] }
  }

  /**
   * The identity of `secret`. Throws `unauthenticated` when it is neither a
   * configured token nor a valid identity token of a configured issuer, and
   * `auth-unavailable` when the issuer's keys cannot be fetched.
   */
  async authenticate(secret: string): Promise<Identity> {
    const token = this.#tokens.find(secret)
    if (token !== undefined) return token
    if (this.#issuers.size > 0 && JWT_SHAPE.test(secret)) {
      let iss: unknown
      try {
        iss = decodeJwt(secret).iss
      } catch {
        throw new StateError(
          'unauthenticated',
          'the credentials are not a known token, and not a decodable identity token (JWT)',
        )
      }
      const issuer = typeof iss === 'string' ? this.#issuers.get(iss) : undefined
      if (issuer === undefined)
        throw new StateError(
          'unauthenticated',
          `the identity token's issuer ${JSON.stringify(String(iss ?? '')).slice(0, 200)} is not configured in the tokens file`,
        )
      return issuer.verify(secret)
    }
    throw new StateError(
      'unauthenticated',
      'the credentials are not a known token: check the token, or ask an operator to add its hash to the tokens file',
    )
  }
}

/** The authenticator of the credentials a tokens file defines. */
export function createAuthenticator(credentials: Credentials): Authenticator {
  return new Authenticator(
    new StaticTokens(credentials.tokens),
    credentials.issuers.map((config) => new OidcIssuer(config)),
  )
}
