/**
 * Factory and stack names: the two path segments a client chooses. They are
 * checked here, after any percent-decoding, before a path is ever built from
 * them, so `..`, `/`, `\`, NUL or a Unicode look-alike can never reach the
 * filesystem.
 */
import { StateError } from '../errors.js'
import { printable } from './rev.js'

/** The one pattern for factory and stack names (ASCII only, no leading dot). */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'
const NAME_RE = new RegExp(NAME_PATTERN)

/** True when `name` is a valid factory or stack name. */
export function isName(name: string): boolean {
  return NAME_RE.test(name)
}

/** Throws `invalid-name` unless `name` is a valid factory or stack name. */
export function assertName(kind: 'factory' | 'stack', name: string): string {
  if (!isName(name)) {
    throw new StateError(
      'invalid-name',
      `${kind} name "${printable(name)}" is not allowed: use 1-128 of A-Z a-z 0-9 . _ - starting with a letter or digit`,
      { [kind]: printable(name) },
    )
  }
  return name
}
