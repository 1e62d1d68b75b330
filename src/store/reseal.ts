/**
 * Key rotation over a tree: re-seal every rev (and every trash entry) of one
 * stack, one factory or the whole data directory with the sealing key,
 * reporting each rev as it goes.
 *
 * Crash-safe because each rev is replaced atomically on its own
 * (`ManagedStore.reseal`), and resumable because a rev the sealing key already
 * opens is skipped: after a crash, run it again and it finishes the job.
 */
import { isStateError } from '../errors.js'
import { isRev } from './rev.js'
import type { ResealOutcome, StoreCatalog } from './store.js'

/** Which stacks to re-seal: everything, one factory, or one stack. */
export interface ResealScope {
  readonly factory?: string | undefined
  readonly stack?: string | undefined
}

/** One rev handled: its stack, whether it sat in the trash, and what happened. */
export interface ResealStep {
  readonly factory: string
  readonly stack: string
  readonly rev: string
  readonly trashed: boolean
  readonly outcome: ResealOutcome | 'failed'
  /** Why it failed (the message names the rev and the key it was sealed with). */
  readonly detail?: string
}

/** The totals of a run. */
export interface ResealReport {
  readonly stacks: number
  readonly resealed: number
  /** Already sealed with the sealing key, or gone meanwhile. */
  readonly skipped: number
  readonly failed: number
  /** Every rev no configured key opens; the run goes on without them. */
  readonly failures: ResealStep[]
}

/**
 * Re-seals every rev in `scope` (names that are not revs are left alone,
 * as list order puts them last and no tool reads them as revs). A rev no configured key opens is reported
 * (`failed`) and the run goes on; any other fault (disk full, I/O error)
 * stops the run and is thrown, to be rerun once fixed. `onStep` is awaited
 * after each rev.
 */
export async function resealTree(
  root: StoreCatalog,
  scope: ResealScope = {},
  onStep: (step: ResealStep) => void | Promise<void> = () => {},
): Promise<ResealReport> {
  const counts = { resealed: 0, skipped: 0, failed: 0 }
  const failures: ResealStep[] = []
  const stacks = await root.stackNames(scope)
  for (const { factory, stack } of stacks) {
    const store = root.stack(factory, stack)
    const targets = [
      ...(await store.list()).filter(isRev).map((rev) => ({ rev, trashedAt: undefined as string | undefined })),
      ...(await store.trashed()).map((e) => ({ rev: e.rev, trashedAt: e.deletedAt as string | undefined })),
    ]
    for (const { rev, trashedAt } of targets) {
      let step: ResealStep
      try {
        const outcome = await store.reseal(rev, trashedAt === undefined ? {} : { trashedAt })
        step = { factory, stack, rev, trashed: trashedAt !== undefined, outcome }
        if (outcome === 'resealed') counts.resealed++
        else counts.skipped++
      } catch (err) {
        if (!isStateError(err, 'unreadable-snapshot')) throw err
        step = { factory, stack, rev, trashed: trashedAt !== undefined, outcome: 'failed', detail: err.message }
        counts.failed++
        failures.push(step)
      }
      await onStep(step)
    }
  }
  return { stacks: stacks.length, ...counts, failures }
}
