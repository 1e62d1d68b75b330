/**
 * Glob patterns for scopes (`factory/stack`) and claim values: `*` matches
 * any run of characters (also none), `?` exactly one; every other character
 * is literal. A pattern knows how specific it is, so that the most specific
 * rule can win.
 */

/** A compiled glob. */
export interface Glob {
  /** The pattern as written. */
  readonly source: string
  /** True when the pattern has no wildcard (it names one value). */
  readonly exact: boolean
  /** True when the pattern is made of `*` only (it matches everything). */
  readonly universal: boolean
  /** How many literal characters the pattern has. */
  readonly literals: number
  /** True when `value` matches the whole pattern. */
  matches(value: string): boolean
  /** True when `value` matches the whole pattern with case ignored (names on a case-folding volume). */
  matchesIgnoringCase(value: string): boolean
}

/** Compiles `source` into a Glob. Never throws: every string is a pattern. */
export function compileGlob(source: string): Glob {
  let regex = '^'
  let literals = 0
  for (const ch of source) {
    if (ch === '*') regex += '.*'
    else if (ch === '?') regex += '.'
    else {
      regex += ch.replace(/[\\^$.|+()[\]{}/]/g, '\\$&') // the syntax characters (the u flag refuses other escapes)
      literals++
    }
  }
  const compiled = new RegExp(`${regex}$`, 'su')
  const folded = new RegExp(`${regex}$`, 'siu')
  const exact = !/[*?]/.test(source)
  const lower = source.toLowerCase()
  return {
    source,
    exact,
    universal: /^\*+$/.test(source),
    literals,
    matches: (value: string) => (exact ? value === source : compiled.test(value)),
    matchesIgnoringCase: (value: string) => (exact ? value.toLowerCase() === lower : folded.test(value)),
  }
}

/**
 * Orders two patterns by specificity: positive when `a` is more specific.
 * An exact name beats any wildcard pattern; between wildcard patterns the
 * one with more literal characters wins.
 */
export function compareSpecificity(a: Glob, b: Glob): number {
  if (a.exact !== b.exact) return a.exact ? 1 : -1
  return a.literals - b.literals
}
