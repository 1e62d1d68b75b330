/**
 * Authorization rules: grants that allow or deny permissions on a scope of
 * `factory/stack` patterns, and the decision for one request. Deny by
 * default; among the grants that match the target and mention the
 * permission, the most specific scope decides (the factory pattern is
 * compared first, then the stack pattern); between equally specific grants
 * an explicit deny wins. On a data volume that folds case (`Prod` and
 * `prod` are one directory) names are compared with case ignored, so a
 * deny on `prod` holds for `Prod` too.
 */
import { type Glob, compareSpecificity } from './glob.js'
import { INCLUDED_BY, PERMISSIONS, type Permission } from './permission.js'

/** One grant: permissions allowed and denied on the stacks its scope matches. */
export interface Grant {
  readonly factory: Glob
  readonly stack: Glob
  readonly allow: ReadonlySet<Permission>
  readonly deny: ReadonlySet<Permission>
}

/**
 * What a request touches. `null` stands for "every one": listing all
 * factories, or all stacks of a factory, needs a grant whose pattern there is
 * `*` (a grant on `prod-*` does not let a caller enumerate the others).
 */
export interface Target {
  readonly factory: string | null
  readonly stack: string | null
}

/** How names are compared: `ignoreCase` on a data volume that folds case. */
export interface PolicyOptions {
  readonly ignoreCase?: boolean | undefined
}

/**
 * True when the grants allow `permission` on `target`, either by itself or
 * through a permission that includes it (`read` includes `outputs`): each is
 * decided on its own, so a deny of `read` on a stack does not take away an
 * `outputs` allowed there.
 */
export function isAllowed(
  grants: readonly Grant[],
  permission: Permission,
  target: Target,
  options: PolicyOptions = {},
): boolean {
  return [permission, ...INCLUDED_BY[permission]].some((p) => decide(grants, p, target, options.ignoreCase === true))
}

/** Every permission the grants allow on `target`, in the order of PERMISSIONS. */
export function allowedOn(grants: readonly Grant[], target: Target, options: PolicyOptions = {}): Permission[] {
  return PERMISSIONS.filter((p) => isAllowed(grants, p, target, options))
}

function decide(grants: readonly Grant[], permission: Permission, target: Target, ignoreCase: boolean): boolean {
  let best: Grant[] = []
  for (const grant of grants) {
    if (!grant.allow.has(permission) && !grant.deny.has(permission)) continue
    if (!covers(grant.factory, target.factory, ignoreCase) || !covers(grant.stack, target.stack, ignoreCase)) continue
    const order = best.length === 0 ? 1 : compareGrants(grant, best[0]!)
    if (order > 0) best = [grant]
    else if (order === 0) best.push(grant)
  }
  if (best.length === 0) return false
  return best.every((g) => !g.deny.has(permission))
}

function covers(pattern: Glob, name: string | null, ignoreCase: boolean): boolean {
  if (name === null) return pattern.universal
  return ignoreCase ? pattern.matchesIgnoringCase(name) : pattern.matches(name)
}

function compareGrants(a: Grant, b: Grant): number {
  return compareSpecificity(a.factory, b.factory) || compareSpecificity(a.stack, b.stack)
}
