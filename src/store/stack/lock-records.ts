/**
 * The lock's files in a stack directory: the marker (`lock`, the holder),
 * the last release (`.lock-released`) and the lost-locks log
 * (`.lock-lost`), and the generation they imply. Reading and writing them;
 * deciding what they mean is `stack-lock.ts`'s job.
 */
import { join } from 'node:path'
import { createExclusive, readNoFollow, replaceAtomic, syncDir } from '../../fs/durable.js'
import { errnoCode } from '../../fs/fs-ops.js'
import { tempName } from '../../fs/temp-files.js'
import { decodeHolder, decodeRelease, encodeHolder, encodeRelease } from '../lock-marker.js'
import type { LockHolder, ReleasedLock } from '../store.js'
import { LOCK_FILE, LOST_FILE, LOST_KEPT, RELEASE_FILE } from './layout.js'
import type { StackDir } from './stack-dir.js'

/** The lock marker, the release record and the lost-locks log of one stack. */
export class LockRecords {
  readonly #dir: StackDir

  constructor(dir: StackDir) {
    this.#dir = dir
  }

  /** The holder in the marker, or undefined when there is no marker. */
  async readMarker(): Promise<LockHolder | undefined> {
    const bytes = await readNoFollow(this.#dir.fs, join(this.#dir.path, LOCK_FILE))
    return bytes === undefined ? undefined : decodeHolder(bytes)
  }

  /** Creates the marker for `holder` unless one exists (exclusive create); true when created. */
  async createMarker(holder: LockHolder): Promise<boolean> {
    return createExclusive(this.#dir.fs, this.#dir.path, LOCK_FILE, encodeHolder(holder))
  }

  /** Replaces the marker with `holder` (atomic rename). */
  async replaceMarker(holder: LockHolder): Promise<void> {
    await replaceAtomic(this.#dir.fs, this.#dir.path, LOCK_FILE, encodeHolder(holder))
  }

  /**
   * Turns the marker itself into the release record, in one atomic step (an
   * unlock keeps its generation); durable at once when `durable`, else by
   * the caller's next fsync of the stack directory.
   */
  async markerToRelease(durable: boolean): Promise<void> {
    await this.#dir.fs.rename(join(this.#dir.path, LOCK_FILE), join(this.#dir.path, RELEASE_FILE))
    if (durable) await syncDir(this.#dir.fs, this.#dir.path)
  }

  /**
   * Removes the marker if it still belongs to `id`: renames it to a unique
   * name first (only one remover can win), checks whose it was, and puts back
   * a marker that turned out to be someone else's.
   */
  async removeMarker(id: string): Promise<boolean> {
    const fs = this.#dir.fs
    const aside = join(this.#dir.path, tempName('lock'))
    try {
      await fs.rename(join(this.#dir.path, LOCK_FILE), aside)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false
      throw err
    }
    const taken = await readNoFollow(fs, aside)
    if (taken !== undefined && decodeHolder(taken).id !== id) {
      await fs
        .link(aside, join(this.#dir.path, LOCK_FILE))
        .catch((err: unknown) =>
          this.#dir.warn(`could not restore the lock marker of ${this.#dir.name}: ${errnoCode(err) ?? String(err)}`),
        )
      await fs.unlink(aside).catch(() => {})
      return false
    }
    await fs.unlink(aside).catch(() => {})
    await syncDir(fs, this.#dir.path)
    return true
  }

  /** How the lock was last released, if it ever was. */
  async readRelease(): Promise<ReleasedLock | undefined> {
    const bytes = await readNoFollow(this.#dir.fs, join(this.#dir.path, RELEASE_FILE))
    return bytes === undefined ? undefined : decodeRelease(bytes)
  }

  /** Records a release; a lost lock (expired, force-unlocked) also goes into the lost-locks log. */
  async recordRelease(release: ReleasedLock): Promise<void> {
    if (release.event !== 'unlock') {
      const lost = [...(await this.#readLost()), release].slice(-LOST_KEPT)
      await replaceAtomic(
        this.#dir.fs,
        this.#dir.path,
        LOST_FILE,
        Buffer.from(`[\n${lost.map((r) => encodeRelease(r).toString('utf8').trim()).join(',\n')}\n]\n`),
      )
    }
    await replaceAtomic(this.#dir.fs, this.#dir.path, RELEASE_FILE, encodeRelease(release))
  }

  /** How lock `id` was lost (lease expired, force-unlocked), if it was: the last release, else the lost-locks log. */
  async lostRecord(id: string): Promise<ReleasedLock | undefined> {
    const release = await this.readRelease()
    if (release !== undefined && release.holder.id === id) return release.event === 'unlock' ? undefined : release
    return (await this.#readLost()).findLast((r) => r.holder.id === id)
  }

  /** The generation: the highest of the held marker's and the last release's. */
  async generation(marker: LockHolder | undefined): Promise<number> {
    const release = await this.readRelease()
    return Math.max(release?.generation ?? 0, marker?.generation ?? 0)
  }

  /** The lost-locks log (unreadable entries are skipped: it only sharpens refusals). */
  async #readLost(): Promise<ReleasedLock[]> {
    const bytes = await readNoFollow(this.#dir.fs, join(this.#dir.path, LOST_FILE))
    if (bytes === undefined) return []
    try {
      const docs: unknown = JSON.parse(bytes.toString('utf8'))
      if (!Array.isArray(docs)) return []
      return docs
        .map((d) => decodeRelease(Buffer.from(JSON.stringify(d))))
        .filter((r): r is ReleasedLock => r !== undefined && r.event !== 'unlock')
    } catch {
      return []
    }
  }
}
