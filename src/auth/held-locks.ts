/**
 * Counts the locks a principal holds across the data directory, for the
 * per-caller lock cap. It reads every stack's lock marker (so it sees locks
 * taken through other replicas too); stacks that cannot be read are skipped.
 */
import type { StoreCatalog } from '../store/store.js'

/**
 * How many stacks other than `except` are locked by `principal`, counting
 * up to `limit` (it stops there: the cap only needs to know it is reached).
 */
export async function countHeldLocks(root: StoreCatalog, principal: string, except: { factory: string; stack: string }, limit: number): Promise<number> {
  let count = 0
  for (const factory of await root.factories()) {
    const stacks = await root.stacks(factory).catch(() => [] as string[])
    for (const stack of stacks) {
      if (factory === except.factory && stack === except.stack) continue
      const holder = await root.stack(factory, stack).inspectLock().catch(() => undefined)
      if (holder?.principal === principal && ++count >= limit) return count
    }
  }
  return count
}
