/**
 * The trash of one stack (`.trash/`): where prune moves revs a retention
 * policy does not keep, from which `restore` brings them back until a purge
 * removes them for good. Every change is one undoable change of names, made
 * under the stack's mutex.
 */
import { join } from 'node:path'
import { StateError } from '../../errors.js'
import { syncDir } from '../../fs/durable.js'
import type { Mutex } from '../../fs/mutex.js'
import { type RetentionPolicy, selectPrunable } from '../retention-policy.js'
import { parseRev, sortRevs } from '../rev.js'
import type { PruneResult, TrashEntry } from '../store.js'
import type { History } from './history.js'
import { SNAPSHOT_SUFFIX, revFile, trashName } from './layout.js'
import type { StackDir } from './stack-dir.js'

/** The trash directory of one stack. */
export class Trash {
  readonly #dir: StackDir
  readonly #history: History
  readonly #mutex: Mutex

  constructor(dir: StackDir, history: History, mutex: Mutex) {
    this.#dir = dir
    this.#history = history
    this.#mutex = mutex
  }

  /**
   * Moves the revs `policy` does not keep into the trash (and hides entries
   * pruned more than `purgeWindowMs` ago), all in one undoable change; with
   * `dryRun` only reports them. Call under the mutex, after the fence check.
   */
  async prune(policy: RetentionPolicy, purgeWindowMs: number | undefined, dryRun: boolean): Promise<PruneResult> {
    const { prune, keep } = selectPrunable(
      await this.#history.revNames(),
      await this.#history.readCurrent(),
      policy,
      this.#dir.clock.nowNanos(),
    )
    const purge = purgeWindowMs === undefined ? [] : await this.#expired(purgeWindowMs)
    if (dryRun || (prune.length === 0 && purge.length === 0)) return { trashed: prune, kept: keep, purged: purge }
    const trash = (await this.#trashDir(true))!
    const deletedAt = this.#dir.now()
    // One undoable change: expired trash entries hidden, pruned revs moved in; an error puts everything back.
    const metas = this.#history.metas
    await this.#dir.undoable(async (log) => {
      for (const e of purge) {
        await metas.hideTrashed(e.rev, e.deletedAt, log)
        await log.hide(trash, trashName(e.rev, e.deletedAt))
      }
      for (const rev of prune) {
        // Metadata first, as a delete does: a crash in between leaves the rev without it, never a stray copy.
        await metas.toTrash(rev, deletedAt, log)
        await log.move(join(this.#dir.snapshots, revFile(rev)), join(trash, trashName(rev, deletedAt)))
      }
      await syncDir(this.#dir.fs, trash)
      if (prune.length > 0) {
        await metas.sync()
        await syncDir(this.#dir.fs, this.#dir.snapshots)
      }
    })
    return { trashed: prune, kept: keep, purged: purge }
  }

  /**
   * Brings `rev` back into the history (the newest copy when it was pruned
   * more than once). A rev already back in the history (a restore that
   * crashed half-way) only loses its trash copy: a rev name always names the
   * same snapshot. Throws `rev-not-found`. Call under the mutex, after the
   * fence check.
   */
  async restore(rev: string): Promise<TrashEntry> {
    const entry = (await this.entries()).filter((e) => e.rev === rev).at(-1)
    if (entry === undefined) throw this.notInTrash(rev)
    const trash = this.#dir.trash
    const metas = this.#history.metas
    await this.#dir.undoable(async (log) => {
      // The metadata before the rev (the order of a write), both exclusive: a copy already back is this rev's own.
      if (await metas.fromTrash(entry.rev, entry.deletedAt, log)) await metas.sync()
      // Exclusive: never replaces a rev (already back after a restore that crashed half-way: same name, same snapshot).
      if (await log.link(join(trash, trashName(entry.rev, entry.deletedAt)), join(this.#dir.snapshots, revFile(rev))))
        await syncDir(this.#dir.fs, this.#dir.snapshots)
      await metas.hideTrashed(entry.rev, entry.deletedAt, log)
      await log.hide(trash, trashName(entry.rev, entry.deletedAt))
      await syncDir(this.#dir.fs, trash)
    })
    return entry
  }

  /**
   * Removes entries older than `windowMs` (by the instant of their prune);
   * takes the mutex itself. Returns
   * what was (or with `dryRun` would be) removed. Removing what is absent is
   * not an error.
   */
  async purge(windowMs: number, dryRun: boolean): Promise<TrashEntry[]> {
    const trash = await this.#trashDir(false)
    if (trash === undefined) return []
    const expired = await this.#expired(windowMs)
    if (dryRun || expired.length === 0) return expired
    await this.#mutex.run(() =>
      this.#dir.undoable(async (log) => {
        for (const e of expired) {
          await this.#history.metas.hideTrashed(e.rev, e.deletedAt, log)
          await log.hide(trash, trashName(e.rev, e.deletedAt))
        }
        await syncDir(this.#dir.fs, trash)
      }),
    )
    return expired
  }

  /** The entries, oldest rev first (an absent trash is empty; names that are not entries are skipped). */
  async entries(): Promise<TrashEntry[]> {
    const trash = await this.#trashDir(false)
    if (trash === undefined) return []
    const entries = await this.#dir.fs.readdir(trash, { withFileTypes: true })
    const parsed: TrashEntry[] = []
    for (const e of entries) {
      if (!e.isFile() || e.name.startsWith('.') || !e.name.endsWith(SNAPSHOT_SUFFIX)) continue
      const [rev, deletedAt, extra] = e.name.slice(0, -SNAPSHOT_SUFFIX.length).split('@')
      if (
        rev === undefined ||
        deletedAt === undefined ||
        extra !== undefined ||
        parseRev(rev) === undefined ||
        parseRev(deletedAt) === undefined
      )
        continue
      parsed.push({ rev, deletedAt })
    }
    const position = new Map(sortRevs(parsed.map((e) => e.rev)).map((rev, i) => [rev, i]))
    return parsed.sort(
      (a, b) =>
        position.get(a.rev)! - position.get(b.rev)! ||
        (a.deletedAt < b.deletedAt ? -1 : a.deletedAt > b.deletedAt ? 1 : 0),
    )
  }

  /** The error for a rev the trash does not hold. */
  notInTrash(rev: string): StateError {
    return new StateError('rev-not-found', `rev ${rev} is not in the trash of ${this.#dir.name}`, {
      ...this.#dir.where(),
      rev,
      place: 'trash',
    })
  }

  /** Entries pruned more than `windowMs` ago. */
  async #expired(windowMs: number): Promise<TrashEntry[]> {
    const limit = this.#dir.clock.nowNanos() - BigInt(Math.round(windowMs)) * 1_000_000n
    return (await this.entries()).filter((e) => (parseRev(e.deletedAt)?.nanos ?? 0n) <= limit)
  }

  /** The trash directory (created when asked; a symlink is refused); undefined when absent and not created. */
  async #trashDir(create: boolean): Promise<string | undefined> {
    return (await this.#dir.realDir(this.#dir.trash, create)) ? this.#dir.trash : undefined
  }
}
