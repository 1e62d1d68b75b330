/**
 * A change of several names (delete a rev and current, gc, prune into the
 * trash and purge it, restore) that a fault must not leave half done: each
 * step is a rename or link that can be taken back, files to remove are first
 * hidden under a temp name (never listed, removed as stale leftovers if the
 * process dies), and only `commit` removes them for good. On an error the
 * caller calls `rollback`, which undoes the steps newest first, so a failed
 * request leaves the tree as it found it.
 */
import { join } from 'node:path'
import { type FsOps, errnoCode } from './fs-ops.js'
import { tempName } from './temp-files.js'

export class UndoLog {
  readonly #fs: FsOps
  readonly #warn: (message: string) => void
  readonly #undo: Array<{ what: string; run: () => Promise<unknown> }> = []
  readonly #hidden: string[] = []

  /** `warn` receives the steps that could not be undone (the disk is failing): they need an operator. */
  constructor(fs: FsOps, warn: (message: string) => void) {
    this.#fs = fs
    this.#warn = warn
  }

  /**
   * Hides `dir/name` under a temp name in the same directory (a rename: the
   * name disappears atomically). False when there is no such file.
   */
  async hide(dir: string, name: string): Promise<boolean> {
    const from = join(dir, name)
    const hidden = join(dir, tempName('removed'))
    try {
      await this.#fs.rename(from, hidden)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false
      throw err
    }
    this.#hidden.push(hidden)
    this.#undo.push({ what: `bring back ${from}`, run: () => this.#fs.link(hidden, from) })
    return true
  }

  /** Renames `from` to `to` (replacing nothing the caller cares about); undone by renaming back. */
  async move(from: string, to: string): Promise<void> {
    await this.#fs.rename(from, to)
    this.#undo.push({ what: `move ${to} back to ${from}`, run: () => this.#fs.rename(to, from) })
  }

  /** Links `from` as `to`, exclusively; false when `to` exists. Undone by unlinking `to`. */
  async link(from: string, to: string): Promise<boolean> {
    try {
      await this.#fs.link(from, to)
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') return false
      throw err
    }
    this.#undo.push({ what: `remove ${to}`, run: () => this.#fs.unlink(to) })
    return true
  }

  /** Takes back every step, newest first. A hidden file is brought back by a link, so it stays hidden too until `commit` removes it. */
  async rollback(): Promise<void> {
    for (const step of this.#undo.reverse()) {
      await step.run().catch((err: unknown) => this.#warn(`could not ${step.what}: ${errnoCode(err) ?? String(err)}`))
    }
    this.#undo.length = 0
    await this.commit()
  }

  /** Keeps the change: removes the hidden files (best effort: a leftover is a stale temp file, removed later). */
  async commit(): Promise<void> {
    for (const hidden of this.#hidden) await this.#fs.unlink(hidden).catch(() => {})
    this.#hidden.length = 0
    this.#undo.length = 0
  }
}
