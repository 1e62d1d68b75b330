/**
 * Retention: which revs of a stack a prune keeps. A rev is kept when any rule
 * keeps it (the rules add up, as restic's --keep-last and --keep-within do,
 * because pruning is the destructive direction):
 *
 * * the current rev and the newest rev, always;
 * * names that are not revs (never touched, as gc never touches them);
 * * the newest `keep` revs, when `keep` is set;
 * * revs written less than `maxAgeMs` ago, when `maxAgeMs` is set.
 *
 * Everything else is prunable. A policy needs at least one of the two rules:
 * a policy without rules would prune all history but two revs.
 */
import { parseRev, sortRevs } from './rev.js'

/** A retention policy (at least one of `keep` and `maxAgeMs`). */
export interface RetentionPolicy {
  /** Keep the newest `keep` revs; null: no count rule. */
  readonly keep: number | null
  /** Keep revs younger than this (by their rev instant); null: no age rule. */
  readonly maxAgeMs: number | null
}

/** What a policy keeps and what it prunes, both oldest first. */
export interface Selection {
  readonly prune: string[]
  readonly keep: string[]
}

/** True when `policy` has at least one rule. */
export function hasRule(policy: RetentionPolicy): boolean {
  return policy.keep !== null || policy.maxAgeMs !== null
}

/**
 * Splits `revs` into kept and prunable under `policy` at instant `nowNanos`.
 * Throws RangeError for a policy without rules (callers validate first).
 */
export function selectPrunable(
  revs: readonly string[],
  current: string | null,
  policy: RetentionPolicy,
  nowNanos: bigint,
): Selection {
  if (!hasRule(policy)) throw new RangeError('a retention policy needs keep or maxAge')
  const sorted = sortRevs(revs)
  const valid = sorted.filter((r) => parseRev(r) !== undefined)
  const newest = new Set(valid.slice(Math.max(0, valid.length - Math.max(1, policy.keep ?? 1))))
  const minNanos = policy.maxAgeMs === null ? null : nowNanos - BigInt(Math.round(policy.maxAgeMs)) * 1_000_000n
  const kept = (rev: string): boolean => {
    const parsed = parseRev(rev)
    if (parsed === undefined || rev === current || newest.has(rev)) return true
    return minNanos !== null && parsed.nanos > minNanos
  }
  return { prune: sorted.filter((r) => !kept(r)), keep: sorted.filter(kept) }
}
