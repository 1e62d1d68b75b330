/**
 * Applying retention: prune a stack by its policy (revs go to the stack's
 * trash), then purge trash entries older than the trash window. One stack
 * (the prune route) or every stack (the schedule).
 */
import { StateError, isStateError } from '../errors.js'
import { type RetentionPolicy, hasRule } from './retention-policy.js'
import type { Fence, ManagedStore, StoreCatalog, TrashEntry } from './store.js'

/** The retention settings of a server. */
export interface RetentionSettings {
  /** The policy a prune applies when it names none; null: none configured. */
  readonly policy: RetentionPolicy | null
  /** How long pruned revs stay restorable in the trash. */
  readonly trashWindowMs: number
}

/** What one stack's prune did (or, with dryRun, would do). */
export interface StackPrune {
  readonly factory: string
  readonly stack: string
  readonly trashed: string[]
  readonly kept: string[]
  readonly purged: TrashEntry[]
  /** Why the stack was left alone (scheduled runs skip locked stacks), or null. */
  readonly skipped: string | null
}

/**
 * Prunes one stack by `policy` and purges its expired trash entries, as one
 * change: on an error neither happened.
 * Throws what the store throws (`locked` when the stack is locked and no
 * holder's id is presented, disk faults).
 */
export async function pruneStack(
  store: ManagedStore,
  policy: RetentionPolicy,
  trashWindowMs: number,
  options: { dryRun?: boolean; fence?: Fence } = {},
): Promise<StackPrune> {
  if (!hasRule(policy))
    throw new StateError(
      'invalid-request',
      'a retention policy needs keep (newest revs to keep) or maxAge (seconds), and none was given or configured',
      { missing: 'retention-rule' },
    )
  const { trashed, kept, purged } = await store.prune({ policy, purgeWindowMs: trashWindowMs, ...options })
  const { factory, stack } = store.stack()
  return { factory, stack, trashed, kept, purged, skipped: null }
}

/**
 * Applies `settings` to every stack: prunes by the configured policy (when
 * there is one) and purges expired trash, both of which also sweep the
 * stack's leftover temp files. A locked stack is skipped this round (its
 * holder may be mid-apply) but still swept, as is a stack that fails, which
 * is reported with its error code while the others go on.
 */
export async function pruneTree(root: StoreCatalog, settings: RetentionSettings): Promise<StackPrune[]> {
  const out: StackPrune[] = []
  for (const { factory, stack } of await root.stackNames()) {
    const store = root.stack(factory, stack)
    try {
      if (settings.policy !== null) out.push(await pruneStack(store, settings.policy, settings.trashWindowMs))
      else
        out.push({
          factory,
          stack,
          trashed: [],
          kept: [],
          purged: await store.purgeTrash(settings.trashWindowMs),
          skipped: null,
        })
    } catch (err) {
      if (!isStateError(err)) throw err
      out.push({ factory, stack, trashed: [], kept: [], purged: [], skipped: err.code })
      await store.sweep().catch(() => 0) // sweeping changes nothing anyone reads: it needs no lock
    }
  }
  return out
}
