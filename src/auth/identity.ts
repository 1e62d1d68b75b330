/** Who an authenticated caller is, and what they may do. */
import type { Grant } from './policy.js'

/** An authenticated caller. */
export interface Identity {
  /**
   * The principal recorded in lock holders and the audit log: the token's
   * name, or `oidc:<issuer>#<sub>` for a CI identity token (the whole
   * issuer: two issuers on one host are two principals).
   */
  readonly principal: string
  /** How the caller proved it. */
  readonly kind: 'token' | 'oidc'
  /** Everything the caller is allowed and denied. */
  readonly grants: readonly Grant[]
}
