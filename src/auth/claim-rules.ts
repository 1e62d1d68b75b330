/**
 * Claim rules of an OIDC issuer: each rule names claim values (globs; a list
 * means any of them) that a verified token must carry, and the grants it
 * then receives. Every matching rule contributes its grants; a token no rule
 * matches has none (deny by default). Claims are compared as text, so the
 * rule `ref_protected: true` matches GitHub's and GitLab's string "true".
 */
import type { Glob } from './glob.js'
import type { Grant } from './policy.js'

/** One claim rule. */
export interface ClaimRule {
  /** Where the rule is in the tokens file (for messages). */
  readonly label: string
  /** Claim name → accepted values (any of the globs). Every claim must match. */
  readonly match: ReadonlyMap<string, readonly Glob[]>
  readonly grants: readonly Grant[]
}

/** The grants of every rule that `claims` satisfy. */
export function grantsForClaims(rules: readonly ClaimRule[], claims: Readonly<Record<string, unknown>>): Grant[] {
  const grants: Grant[] = []
  for (const rule of rules) {
    if (ruleMatches(rule, claims)) grants.push(...rule.grants)
  }
  return grants
}

function ruleMatches(rule: ClaimRule, claims: Readonly<Record<string, unknown>>): boolean {
  for (const [name, globs] of rule.match) {
    const value = Object.hasOwn(claims, name) ? claims[name] : undefined
    if (typeof value !== 'string' && typeof value !== 'boolean' && typeof value !== 'number') return false
    const text = String(value)
    if (!globs.some((g) => g.matches(text))) return false
  }
  return true
}
