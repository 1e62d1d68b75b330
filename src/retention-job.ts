/**
 * The retention schedule: every interval, apply the configured policy to
 * every stack and purge expired trash (`pruneTree`), sweep leftover temp
 * files of dead writers (in every stack, the data directory and the
 * held-locks index), audit what moved, and log a summary. Runs never overlap; `stop` waits for a run in progress.
 *
 * Several replicas may each run it on one volume: every move takes the
 * stack's mutex and renames, so a second replica only finds less to do.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { AuditSink } from './audit.js'
import { type RetentionSettings, type StackPrune, pruneTree } from './store/retention.js'
import type { StoreCatalog } from './store/store.js'

/** The principal recorded for the schedule's changes. */
export const RETENTION_PRINCIPAL = 'retention-schedule'

/** A timer that prunes the whole tree every `intervalMs`. */
export class RetentionJob {
  readonly #root: StoreCatalog
  readonly #settings: RetentionSettings
  readonly #intervalMs: number
  readonly #audit: AuditSink
  readonly #log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>
  #timer: NodeJS.Timeout | undefined
  #running: Promise<unknown> = Promise.resolve()
  #stopped = false

  constructor(
    root: StoreCatalog,
    settings: RetentionSettings,
    intervalMs: number,
    audit: AuditSink,
    log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>,
  ) {
    this.#root = root
    this.#settings = settings
    this.#intervalMs = intervalMs
    this.#audit = audit
    this.#log = log
  }

  /** Schedules the first run one interval from now, and each next one an interval after the last ended. */
  start(): void {
    if (this.#stopped || this.#timer !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#running = this.runOnce()
        .catch((err: unknown) => this.#log.error({ err }, 'retention run failed; it runs again next interval'))
        .finally(() => this.start())
    }, this.#intervalMs)
    this.#timer.unref()
  }

  /** Runs the policy over every stack now; audits each stack that changed. */
  async runOnce(): Promise<StackPrune[]> {
    // Leftovers outside the stacks (the data directory's, the held-locks index's); each stack's are swept by its prune.
    const swept = await this.#root.sweepLeftovers().catch((err: unknown) => {
      this.#log.warn({ err }, 'retention run: leftover temp files outside the stacks could not be swept')
      return 0
    })
    const results = await pruneTree(this.#root, this.#settings)
    for (const r of results) {
      if (r.trashed.length === 0 && r.purged.length === 0) continue
      await this.#audit.record({
        action: 'snapshot.prune',
        principal: RETENTION_PRINCIPAL,
        factory: r.factory,
        stack: r.stack,
        detail: { trashed: r.trashed, purged: r.purged.map((e) => e.rev), scheduled: true },
      })
    }
    const skipped = results.filter((r) => r.skipped !== null)
    this.#log.info(
      {
        stacks: results.length,
        trashed: results.reduce((n, r) => n + r.trashed.length, 0),
        purged: results.reduce((n, r) => n + r.purged.length, 0),
        skipped: skipped.map((r) => `${r.factory}/${r.stack}: ${r.skipped}`),
        sweptOutsideStacks: swept,
      },
      'retention run done',
    )
    return results
  }

  /** Stops scheduling and waits for a run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#running
  }
}
