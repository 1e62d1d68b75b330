/**
 * One trusted OIDC issuer (GitHub Actions, GitLab CI, or any issuer
 * configured the same way): verifies its identity tokens with `jose` against
 * its JWKS and maps their claims to grants.
 *
 * Verification pins the signature algorithms (asymmetric only: never `none`,
 * never HS*), requires the exact issuer and one of the configured audiences,
 * and checks `exp`/`nbf` with a small leeway. The JWKS is fetched on first
 * use, cached, and refetched for an unknown `kid` (key rotation) at most once
 * per cooldown. A JWKS that cannot be fetched is `auth-unavailable` (503),
 * never a crash and never a silent pass.
 */
import {
  type FlattenedJWSInput,
  type JWTHeaderParameters,
  type JWTPayload,
  createRemoteJWKSet,
  errors,
  jwtVerify,
} from 'jose'
import { StateError } from '../errors.js'
import type { ClaimRule } from './claim-rules.js'
import { grantsForClaims } from './claim-rules.js'
import type { Identity } from './identity.js'

/** The asymmetric JWS algorithms an issuer may be pinned to. */
export const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const

/** An issuer as configured in the tokens file. */
export interface OidcIssuerConfig {
  /** The exact `iss` claim (e.g. https://token.actions.githubusercontent.com). */
  readonly issuer: string
  /** Where its signing keys are published. */
  readonly jwks: URL
  /** Accepted `aud` values (a token must name one). */
  readonly audiences: readonly string[]
  readonly algorithms: readonly string[]
  /** Clock skew tolerated on exp/nbf/iat, in seconds. */
  readonly leewaySeconds: number
  /** Least time between two JWKS fetches caused by an unknown key, in seconds. */
  readonly cooldownSeconds: number
  /** How long a fetched JWKS is used before it is fetched again, in seconds. */
  readonly cacheSeconds: number
  /** Longest a JWKS fetch may take, in seconds. */
  readonly timeoutSeconds: number
  readonly rules: readonly ClaimRule[]
}

/** Verifies the identity tokens of one issuer. */
export class OidcIssuer {
  readonly config: OidcIssuerConfig
  readonly #keys: ReturnType<typeof createRemoteJWKSet>

  constructor(config: OidcIssuerConfig) {
    this.config = config
    this.#keys = createRemoteJWKSet(config.jwks, {
      cooldownDuration: config.cooldownSeconds * 1000,
      cacheMaxAge: config.cacheSeconds * 1000,
      timeoutDuration: config.timeoutSeconds * 1000,
    })
  }

  /**
   * The identity of a token this issuer signed. Throws `unauthenticated`
   * for a token that fails any check, `auth-unavailable` when the JWKS
   * cannot be fetched. Messages never carry the token.
   */
  async verify(jwt: string): Promise<Identity> {
    const keys = this.#keys
    const unavailable = (err: unknown): StateError =>
      new StateError(
        'auth-unavailable',
        `the signing keys of ${this.config.issuer} cannot be fetched from ${this.config.jwks.href} (${describeFetchError(err)}); retry shortly`,
        { retryAfter: 5 },
        { cause: err },
      )
    // Failures to fetch keys are told apart from tokens that are wrong.
    const getKey = async (header: JWTHeaderParameters, token: FlattenedJWSInput) => {
      try {
        return await keys(header, token)
      } catch (err) {
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err
        throw unavailable(err)
      }
    }
    let payload: JWTPayload
    try {
      ;({ payload } = await jwtVerify(jwt, getKey, {
        issuer: this.config.issuer,
        audience: [...this.config.audiences],
        algorithms: [...this.config.algorithms],
        clockTolerance: this.config.leewaySeconds,
        requiredClaims: ['exp', 'sub'],
      }))
    } catch (err) {
      if (err instanceof StateError) throw err
      throw new StateError('unauthenticated', `the identity token was refused: ${reasonOf(err)}`)
    }
    const sub = payload.sub
    // An empty subject would make every such token of the issuer one principal.
    if (typeof sub !== 'string' || sub === '')
      throw new StateError('unauthenticated', 'the identity token was refused: its sub claim is empty')
    return {
      principal: oidcPrincipal(this.config.issuer, sub),
      kind: 'oidc',
      grants: grantsForClaims(this.config.rules, payload as Record<string, unknown>),
    }
  }
}

/**
 * The principal of an identity token: `oidc:<issuer>#<sub>`, naming the
 * whole issuer (two issuers on one host, such as GitHub's per-enterprise
 * issuers `https://h/tenant-a` and `https://h/tenant-b`, never share a
 * principal). Unambiguous: a configured issuer never holds a `#`.
 */
export function oidcPrincipal(issuer: string, sub: string): string {
  return `oidc:${issuer}#${sub}`
}

/** Why jose refused a token, in words that carry no part of it. */
function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'it has expired'
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'it is not valid yet'
    if (err.claim === 'iat') return 'it was issued in the future'
    return `the ${err.claim} claim does not match (${err.reason})`
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'its signature algorithm is not allowed for this issuer'
  if (err instanceof errors.JWKSNoMatchingKey) return 'it was signed with a key the issuer does not publish'
  if (err instanceof errors.JWKSMultipleMatchingKeys) return 'the issuer publishes several keys that match it'
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'its signature does not verify'
  if (err instanceof errors.JOSEError) return `it is not a valid signed JWT (${err.code})`
  return 'it is not a valid signed JWT'
}

/** A short cause of a JWKS fetch failure (no URL credentials, no bodies). */
function describeFetchError(err: unknown): string {
  if (err instanceof errors.JWKSTimeout) return 'timed out'
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause
  if (cause !== undefined && typeof cause.code === 'string') return cause.code
  if (err instanceof errors.JOSEError) return err.message
  return (err as Error | undefined)?.message ?? 'unknown error'
}
