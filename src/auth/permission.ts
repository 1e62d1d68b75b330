/**
 * The permissions a credential can be granted. Each route of the server
 * declares the one it needs (`config.permission`). One permission includes
 * another: `read` includes `outputs` (whoever may download a whole state may
 * read its outputs); none other implies another, so a grant says exactly what
 * it allows. `*` in a tokens file means all of them.
 */

/** Every grantable permission, in the order the README explains them. */
export const PERMISSIONS = ['read', 'outputs', 'write', 'lock', 'force-unlock', 'delete', 'admin'] as const

/** A grantable permission. */
export type Permission = (typeof PERMISSIONS)[number]

/**
 * The permissions that include each permission (besides itself): holding any
 * of them grants it. `outputs` exists so a downstream pipeline can read
 * another stack's outputs without being able to download its secrets.
 */
export const INCLUDED_BY: Readonly<Record<Permission, readonly Permission[]>> = {
  read: [],
  outputs: ['read'],
  write: [],
  lock: [],
  'force-unlock': [],
  delete: [],
  admin: [],
}

/** True when `value` names a permission. */
export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && (PERMISSIONS as readonly string[]).includes(value)
}
