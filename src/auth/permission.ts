/**
 * The permissions a credential can be granted. Each route of the server
 * declares the one it needs (`config.permission`); none implies another, so
 * a grant says exactly what it allows. `*` in a tokens file means all of them.
 */

/** Every grantable permission, in the order the README explains them. */
export const PERMISSIONS = ['read', 'write', 'lock', 'force-unlock', 'delete', 'admin'] as const

/** A grantable permission. */
export type Permission = (typeof PERMISSIONS)[number]

/** True when `value` names a permission. */
export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && (PERMISSIONS as readonly string[]).includes(value)
}
