/**
 * The start-up sweep: once a server listens, it removes in the background
 * what writers killed before it (kill -9, OOM, a crash of the node) left
 * anywhere in the data directory, rather than waiting for each stack's next
 * use. The data directory's own temp files and the held-locks index first,
 * then every stack, a few at a time, each through the stack's own sweep
 * under its mutex (never beside a change of the stack). The owner rule is
 * every sweep's (src/fs/temp-files.ts). Nothing waits for it: requests are
 * served meanwhile, and a stack that cannot be swept is reported and left
 * for its next change or the retention job.
 */
import type { StoreCatalog } from './store.js'

/** Stacks swept at once: enough to overlap disk waits, few enough to leave the requests their share. */
export const TREE_SWEEP_CONCURRENCY = 4

/** What a whole-tree sweep did. */
export interface TreeSweepResult {
  /** Stacks visited (all of them, unless stopped). */
  readonly stacks: number
  /** Temp files removed, outside the stacks and in them. */
  readonly removed: number
  /** Places that could not be swept (each reported to `onError`). */
  readonly failed: number
  /** True when `signal` stopped it before every stack was visited. */
  readonly stopped: boolean
}

/** How a whole-tree sweep runs. */
export interface TreeSweepOptions {
  /** Told of each place that could not be swept: `where` is `data directory` or `factory/stack`. */
  readonly onError: (where: string, err: unknown) => void
  /** Stops the sweep between stacks (a shutdown). */
  readonly signal?: AbortSignal
  /** Stacks swept at once (default TREE_SWEEP_CONCURRENCY). */
  readonly concurrency?: number
}

/** Sweeps every leftover of dead writers in `root` (see the file comment); never throws. */
export async function sweepTree(root: StoreCatalog, options: TreeSweepOptions): Promise<TreeSweepResult> {
  let removed = 0
  let failed = 0
  const fail = (where: string, err: unknown) => {
    failed++
    options.onError(where, err)
  }
  try {
    removed += await root.sweepLeftovers()
  } catch (err) {
    fail('data directory', err)
  }
  let names: Array<{ factory: string; stack: string }> = []
  try {
    names = await root.stackNames()
  } catch (err) {
    fail('data directory', err)
  }
  let next = 0
  const worker = async () => {
    while (next < names.length && options.signal?.aborted !== true) {
      const { factory, stack } = names[next++]!
      const where = `${factory}/${stack}`
      try {
        const n = await root.stack(factory, stack).sweep((err) => fail(where, err))
        removed += n // (not `removed += await …`: that reads `removed` before the wait, and the workers overlap)
      } catch (err) {
        fail(where, err)
      }
    }
  }
  const workers = Math.max(1, options.concurrency ?? TREE_SWEEP_CONCURRENCY)
  await Promise.all(Array.from({ length: workers }, worker))
  return { stacks: next, removed, failed, stopped: next < names.length }
}
