/**
 * The history of one stack on disk: the rev files under `snapshots/` and the
 * `current` pointer. Reading a rev (through the snapshot cache), claiming the
 * next rev with an exclusive link, moving current, and hiding revs in an
 * undoable change. Callers hold the stack's mutex where a step says so.
 */
import type { Dirent } from 'node:fs'
import { join } from 'node:path'
import type { Encrypter } from '../../crypto/encrypter.js'
import { StateError, isStateError } from '../../errors.js'
import {
  type PiecewiseContent,
  isRenamed,
  readNoFollow,
  replaceAtomic,
  syncDir,
  syncDirShared,
  writeTemp,
} from '../../fs/durable.js'
import { freshLstat } from '../../fs/fresh-calls.js'
import { errnoCode, lstatIfPresent } from '../../fs/fs-ops.js'
import type { Mutex } from '../../fs/mutex.js'
import type { UndoLog } from '../../fs/undo-log.js'
import { decodeEnvelope } from '../envelope.js'
import { SLICED_BYTES, openEnvelopeFile } from '../envelope-slices.js'
import { type ParsedRev, compareParsedRevs, compareRevs, formatRev, nextRev, parseRev, sortRevs } from '../rev.js'
import type { SnapshotCache } from '../snapshot-cache.js'
import type { GcResult, Snapshot, WriteOutcome } from '../store.js'
import { CURRENT_FILE, SNAPSHOT_SUFFIX, revFile } from './layout.js'
import { type PendingMeta, RevMetaFiles } from './rev-meta.js'
import type { StackDir } from './stack-dir.js'

/** What a write publishes besides the rev: its metadata file, made for the rev name it claims. */
export interface PublishPlan {
  readonly meta: ((rev: string) => Buffer) | undefined
}

/** The revs and the current pointer of one stack. */
export class History {
  readonly #dir: StackDir
  readonly #encrypter: Encrypter
  readonly #mutex: Mutex
  readonly #cache: SnapshotCache | undefined
  /** The revs' history metadata (moved, hidden and restored with the revs). */
  readonly metas: RevMetaFiles
  /** Whether this process has swept leftover metadata of this stack once (see publish). */
  #swept = false
  readonly #newest = new NewestRev()
  /** The listing of `snapshots/` that writers of this process share (see RevListing). */
  readonly #listing: RevListing
  /** The last `current` read, under the stat of the file it was read from (see readCurrent). */
  #currentMemo: (CurrentStamp & { readonly rev: string | null }) | undefined
  /** Paths asked for at every read: built once. */
  readonly #currentPath: string
  #lastRevPath = { rev: '', path: '' }

  constructor(dir: StackDir, encrypter: Encrypter, mutex: Mutex, cache: SnapshotCache | undefined) {
    this.#dir = dir
    this.#encrypter = encrypter
    this.#mutex = mutex
    this.#cache = cache
    this.metas = new RevMetaFiles(dir)
    this.#currentPath = join(dir.path, CURRENT_FILE)
    this.#listing = new RevListing(dir)
  }

  /** The file of `rev` (a valid rev); the last one is remembered, as current's rev is read again and again. */
  #revPath(rev: string): string {
    if (this.#lastRevPath.rev !== rev) this.#lastRevPath = { rev, path: join(this.#dir.snapshots, revFile(rev)) }
    return this.#lastRevPath.path
  }

  /** Opens one stored rev (from the cache when its file is unchanged). Throws `rev-not-found`, `unreadable-snapshot`. */
  async read(rev: string): Promise<Snapshot> {
    const path = this.#revPath(rev)
    let st
    try {
      st = await freshLstat(this.#dir.fs, path)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw this.revNotFound(rev)
      throw err
    }
    const cached = this.#cache?.get(path, st)
    if (cached !== undefined) return cached
    try {
      // A large file is opened in slices; one in another layout (or a small one) is read whole.
      const sliced = st.size >= SLICED_BYTES ? await openEnvelopeFile(this.#dir.fs, path, this.#encrypter) : undefined
      const snapshot =
        sliced === undefined
          ? await this.#readWhole(rev, path)
          : { rev, payloadType: sliced.payloadType, body: sliced.body }
      this.#cache?.set(path, st, snapshot)
      return snapshot
    } catch (err) {
      if (isStateError(err, 'unreadable-snapshot')) {
        throw new StateError('unreadable-snapshot', `rev ${rev} of ${this.#dir.name} cannot be read: ${err.message}`, {
          ...this.#dir.where(),
          rev,
          ...err.details,
        })
      }
      throw err
    }
  }

  async #readWhole(rev: string, path: string): Promise<Snapshot> {
    const bytes = await readNoFollow(this.#dir.fs, path)
    if (bytes === undefined) throw this.revNotFound(rev)
    const envelope = decodeEnvelope(bytes, { consume: true }) // the file's bytes are needed no further
    return {
      rev,
      payloadType: envelope.payloadType,
      body: this.#encrypter.open(envelope.ciphertext, envelope.encrypter),
    }
  }

  /**
   * The snapshot current names, or undefined when there is none. Throws
   * `dangling-current` when it names a rev that is not stored.
   */
  async currentSnapshot(): Promise<Snapshot | undefined> {
    const rev = await this.readCurrent()
    if (rev === null) return undefined
    try {
      return await this.read(rev)
    } catch (err) {
      if (isStateError(err, 'rev-not-found')) throw this.dangling(rev)
      throw err
    }
  }

  /** The error for a current pointer naming a rev that is not stored. */
  dangling(rev: string): StateError {
    return new StateError('dangling-current', `current of ${this.#dir.name} names rev ${rev}, which is not stored`, {
      ...this.#dir.where(),
      rev,
    })
  }

  /** Caches what was just written (a write is usually read back next, e.g. as current). */
  async remember(rev: string, snapshot: Snapshot): Promise<void> {
    if (this.#cache === undefined) return
    const path = this.#revPath(rev)
    const st = await freshLstat(this.#dir.fs, path).catch(() => undefined)
    if (st?.isFile()) this.#cache.set(path, st, snapshot)
  }

  /**
   * Claims the next rev with an exclusive link of one fsynced temp file
   * (retrying on collision), and makes it current when asked. `check` (the
   * fence), the link and the move of current happen in one critical section
   * of the stack mutex, which lock, unlock and force-unlock also take: a lock
   * granted to another client between the check and the link would otherwise
   * let a refused write land anyway (found by the kill -9 torture test). A
   * failure before current moved withdraws the rev, so an error means nothing
   * changed. When `check` returns an outcome, nothing is written and that
   * outcome is the answer; when it returns a plan with metadata, that is
   * written under the claimed name before the rev is linked (see rev-meta.ts
   * for why that order) and made durable with the rev. A write that does not
   * move current fsyncs its metadata and the directories after the mutex is
   * released, sharing the directory fsyncs with the stack's other writers
   * (syncDirShared): the fence only needs the link inside the critical
   * section, and the answer still waits for fsyncs that began after the link.
   */
  async publish(
    sealed: Buffer | PiecewiseContent,
    makeCurrent: boolean,
    check: () => Promise<WriteOutcome | PublishPlan>,
  ): Promise<WriteOutcome> {
    const fs = this.#dir.fs
    const snapshots = this.#dir.snapshots
    const began = this.#listing.mark()
    let temp: string
    try {
      temp = await writeTemp(fs, snapshots, sealed)
    } catch (err) {
      this.#listing.done()
      throw err
    }
    let linked: { rev: string; path: string; meta: Buffer | undefined; pending: PendingMeta | undefined } | undefined
    try {
      const outcome = await this.#mutex.run(async (): Promise<WriteOutcome> => {
        const settled = await check()
        if ('rev' in settled) return settled
        let files = await this.#listing.since(began)
        if (!this.#swept && settled.meta !== undefined) {
          // Once per process and stack, the metadata of writes or deletes that died half-way goes, judged by a listing
          // begun now: a shared one may lack a rev another process published since, and would take its metadata.
          files = await this.#listing.fresh()
          await this.metas.sweep(new Set(revsAmong(files)))
          this.#swept = true
        }
        for (let attempt = 0; attempt < 1000; attempt++) {
          const newest = this.#newest.of(attempt === 0 ? files : await this.#listing.fresh())
          const rev = formatRev(nextRev(this.#dir.clock.nowNanos(), newest))
          const path = join(snapshots, revFile(rev))
          const meta = settled.meta?.(rev)
          let pending: PendingMeta | undefined
          if (meta !== undefined) {
            pending = await this.metas.create(rev, meta)
            if (pending === undefined) {
              // Claimed by a writer outside the mutex: never touch its metadata.
              if ((await lstatIfPresent(fs, path)) !== undefined) continue
              await this.metas.write(rev, meta) // a leftover of a write that died: replaced, durably
            }
          }
          try {
            await fs.link(temp, path)
          } catch (err) {
            await pending?.close().catch(() => {})
            if (meta !== undefined) await this.metas.withdraw(rev)
            const code = errnoCode(err)
            if (code === 'EEXIST') continue // a writer outside this server (the Go tool) claimed this rev first
            if (code === 'ENOENT') {
              temp = await writeTemp(fs, snapshots, sealed) // our temp was cleaned up: write it again
              continue
            }
            throw err
          }
          this.#newest.of([revFile(rev)]) // a rev deleted later still bounds the next name: never a name given before
          if (!makeCurrent) {
            linked = { rev, path, meta, pending }
            return { rev, current: false, written: true } // durable once the shared fsyncs below have run
          }
          // Moving current belongs to the critical section (the fence), and current may name only a durable rev.
          let current = false
          try {
            await allSettled([syncDir(fs, snapshots), pending?.settle(false)])
            const previous = await this.readCurrent()
            // Never move current backwards: a writer outside the mutex (the Go tool) may have made a later rev current.
            current = previous === null || compareRevs(previous, rev) <= 0
            if (current) await this.movePointer(rev, previous)
          } catch (err) {
            // Not durable, or current did not move: withdraw the rev (unless current names it after all).
            if ((err as { currentMoved?: boolean }).currentMoved !== true) {
              await fs.unlink(path).catch(() => {})
              if (meta !== undefined) await this.metas.withdraw(rev)
            }
            throw err
          }
          return { rev, current, written: true }
        }
        throw new Error(`could not claim a rev in ${this.#dir.name} after 1000 attempts`)
      })
      if (linked !== undefined) {
        try {
          await allSettled([syncDirShared(fs, snapshots), linked.pending?.settle(true)])
        } catch (err) {
          // Not durable: withdraw the rev, in the critical section as every other change of the stack (or without it, if it cannot be had).
          const { path, rev, meta } = linked
          const withdraw = async () => {
            await fs.unlink(path).catch(() => {})
            if (meta !== undefined) await this.metas.withdraw(rev)
          }
          await this.#mutex.run(withdraw).catch(withdraw)
          throw err
        }
      }
      return outcome
    } finally {
      this.#listing.done()
      await fs.unlink(temp).catch(() => {})
    }
  }

  /** The names under `snapshots/` that may be revs (regular `*.json.enc` files, no dot-files), unsorted. */
  async revNames(): Promise<string[]> {
    return revsIn(await this.#dir.fs.readdir(this.#dir.snapshots, { withFileTypes: true }))
  }

  /**
   * The rev `current` names, or null. Another process may replace the file
   * at any moment, so it is checked at every call, but with one `lstat`: the
   * file is only ever replaced whole (a new inode by rename), so while its
   * inode, size, mtime and ctime are unchanged its content is the one last
   * read. Anything but a regular file takes the full read, with its errors.
   */
  async readCurrent(): Promise<string | null> {
    const path = this.#currentPath
    let st
    try {
      st = await freshLstat(this.#dir.fs, path)
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err
      this.#currentMemo = undefined
      return null
    }
    const memo = this.#currentMemo
    if (memo !== undefined && st.isFile() && sameCurrentStamp(memo, st)) return memo.rev
    const bytes = await readNoFollow(this.#dir.fs, path)
    const text = bytes?.toString('utf8').trim() ?? ''
    if (text !== '' && parseRev(text) === undefined) {
      throw new StateError(
        'unreadable-snapshot',
        `current of ${this.#dir.name} does not hold a rev (it holds ${JSON.stringify(text.slice(0, 80))}): point current at a stored rev`,
        this.#dir.where(),
      )
    }
    const rev = text === '' ? null : text
    // Remembered under the stat taken before the read: if the file was replaced in between, the next stat differs.
    this.#currentMemo = st.isFile()
      ? { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, rev }
      : undefined
    return rev
  }

  /**
   * Points current at `rev`. If the directory fsync fails after the rename,
   * replaceAtomic puts the previous pointer back, so the error means "current
   * did not move"; when even that failed, the error is marked (isRenamed) and
   * carries `currentMoved`: current names `rev`, which may not be durable.
   */
  async movePointer(rev: string, previous: string | null): Promise<void> {
    try {
      await replaceAtomic(this.#dir.fs, this.#dir.path, CURRENT_FILE, Buffer.from(`${rev}\n`))
    } catch (err) {
      if (isRenamed(err)) {
        this.#dir.warn(
          `${this.#dir.name}: current could not be put back to ${previous ?? 'unset'} after a failed fsync; it names ${rev}, which may not be durable`,
        )
        throw Object.assign(err as Error, { currentMoved: true })
      }
      throw err
    }
  }

  /** Hides the current pointer in `log` (absent: false); the caller fsyncs and commits. */
  async hideCurrent(log: UndoLog): Promise<boolean> {
    return log.hide(this.#dir.path, CURRENT_FILE)
  }

  /**
   * Hides `rev` (and current, when it names `rev` and `force` allows) in
   * `log`; the caller fsyncs and commits. The rev goes first, current second:
   * a crash in between leaves a dangling current (an explicit error) rather
   * than a stack without current (which a client would read as "no state").
   * Throws `rev-is-current` when `rev` is current and `force` is not given.
   */
  async deleteRev(rev: string, force: boolean, log: UndoLog): Promise<{ deleted: boolean; clearedCurrent: boolean }> {
    const isCurrent = (await this.readCurrent()) === rev
    if (isCurrent && !force)
      throw new StateError(
        'rev-is-current',
        `rev ${rev} is the current one of ${this.#dir.name}: point current elsewhere first, or delete with force (which leaves the stack without current)`,
        { ...this.#dir.where(), rev },
      )
    // Metadata first: a crash in between leaves a rev without metadata, never metadata that a later rev of the name could inherit.
    await this.metas.hide(rev, log)
    const deleted = await log.hide(this.#dir.snapshots, revFile(rev)) // removing what is absent is not an error
    const clearedCurrent = isCurrent && (await this.hideCurrent(log))
    return { deleted, clearedCurrent }
  }

  /** Deletes all but the newest `keep` revs and the current one (or only reports them with `dryRun`). Call under the mutex. */
  async gc(keep: number, dryRun: boolean): Promise<GcResult> {
    const revs = sortRevs(await this.revNames())
    const current = await this.readCurrent()
    const newest = new Set(revs.slice(Math.max(0, revs.length - keep)))
    const deleted = revs.filter((r) => !newest.has(r) && r !== current && parseRev(r) !== undefined)
    const kept = revs.filter((r) => !deleted.includes(r))
    if (!dryRun && deleted.length > 0) {
      await this.#dir.undoable(async (log) => {
        for (const rev of deleted) await this.deleteRev(rev, false, log)
        await this.metas.sync()
        await syncDir(this.#dir.fs, this.#dir.snapshots)
      })
    }
    return { deleted, kept }
  }

  /** The error for a rev that is not stored. */
  revNotFound(rev: string): StateError {
    return new StateError('rev-not-found', `rev ${rev} is not stored in ${this.#dir.name}`, {
      ...this.#dir.where(),
      rev,
    })
  }
}

/** Waits for every one of `steps` (so none still runs when the caller undoes), then throws the first failure. */
async function allSettled(steps: ReadonlyArray<Promise<void> | undefined>): Promise<void> {
  const failed = (await Promise.allSettled(steps)).find((r) => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
}

/** What tells one `current` file from another: replaced whole (a new inode), or changed in place (size, mtime, ctime). */
interface CurrentStamp {
  readonly ino: number
  readonly size: number
  readonly mtimeMs: number
  readonly ctimeMs: number
}

function sameCurrentStamp(a: CurrentStamp, b: CurrentStamp): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs
}

/**
 * The listing of `snapshots/` a write needs (the revs other processes
 * added, so the new rev sorts after them; the temps of dead writers, swept
 * from it), shared by the writers of this process. A listing costs a pass
 * over every name in the directory (measured: about 5 ms of CPU at 10,000
 * revs, where the rest of a write costs under 2), and writers of one stack
 * queue for its mutex, so each write used to pay it in turn. A write may
 * use a listing that began after the write itself began (`mark`, then
 * `since`): a rev another process added before that write began is in it,
 * and one added after is concurrent with the write, so either order of the
 * two is one the clients could have seen. Called under the stack mutex.
 */
class RevListing {
  readonly #dir: StackDir
  /** How many listings began; a write marks this count when it begins. */
  #begun = 0
  /** Writes between `mark` and `done`: the last listing is kept only while one may still use it. */
  #writers = 0
  #last: { readonly number: number; readonly files: readonly string[] } | undefined

  constructor(dir: StackDir) {
    this.#dir = dir
  }

  /** What a write takes when it begins, to hand to `since` later; `done` when it ends. */
  mark(): number {
    this.#writers++
    return this.#begun
  }

  /** A listing begun now, whatever was shared before (what a write needs that must not miss a rev published since). */
  fresh(): Promise<readonly string[]> {
    return this.since(Number.POSITIVE_INFINITY)
  }

  /** A write that marked has ended: the listing is let go when no other write may use it. */
  done(): void {
    this.#writers -= 1
    if (this.#writers === 0) this.#last = undefined
  }

  /** The regular files' names in a listing that began after `mark` was taken: the last one when it did, a new one otherwise. */
  async since(mark: number): Promise<readonly string[]> {
    if (this.#last !== undefined && this.#last.number > mark) return this.#last.files
    const number = ++this.#begun
    this.#last = undefined
    const entries = await this.#dir.fs.readdir(this.#dir.snapshots, { withFileTypes: true })
    const names: string[] = []
    const files: string[] = [] // regular files only: anything else named like a rev is not one
    for (const entry of entries) {
      names.push(entry.name)
      if (entry.isFile()) files.push(entry.name)
    }
    // A dead writer's temps go now, from the listing the rev name needs anyway (this process's are writes in flight).
    await this.#dir.sweep(this.#dir.snapshots, names, true).catch(() => {})
    this.#last = { number, files }
    return files
  }
}

/**
 * The newest valid rev a stack ever listed. A write lists `snapshots/` for
 * the revs other processes added (the Go tool, another server), and
 * comparing thousands of names at every write was the largest cost of a
 * write inside the critical section. So a file name that sorts before the
 * newest's second (`2026-07-10T12:00:00`, the fixed-width start of every
 * rev) is older and skipped with one string comparison, and of the others
 * only those not seen before are parsed (the names seen are kept for the
 * newest's second only). A rev deleted since still counts: a new rev
 * sorting after it also sorts after every rev there is.
 */
class NewestRev {
  #seen = new Set<string>()
  #newest: ParsedRev | undefined
  /** The first 19 characters of the newest (its second); '' when there is none. */
  #second = ''

  /** The newest rev of the file names `files` (names in `snapshots/`) and of every name listed before. */
  of(files: readonly string[]): ParsedRev | undefined {
    for (const file of files) {
      if (file < this.#second || this.#seen.has(file)) continue
      this.#seen.add(file)
      const p = isRevFileName(file) ? parseRev(file.slice(0, -SNAPSHOT_SUFFIX.length)) : undefined
      if (p !== undefined && (this.#newest === undefined || compareParsedRevs(p, this.#newest) > 0)) {
        this.#newest = p
        const second = formatRev(p).slice(0, REV_SECOND)
        if (second !== this.#second) this.#seen = new Set([file])
        this.#second = second
      }
    }
    return this.#newest
  }
}

/** Characters of a rev up to its second: `YYYY-MM-DDTHH:MM:SS`. */
const REV_SECOND = 19

/** The rev names among the entries of `snapshots/`: regular `*.json.enc` files, no dot-files (temps, the Go tool's `.<name>.tmp`). */
function revsIn(entries: readonly Dirent[]): string[] {
  return revsAmong(entries.filter((e) => e.isFile()).map((e) => e.name))
}

/** The rev names among `files`, names of regular files in `snapshots/`. */
function revsAmong(files: readonly string[]): string[] {
  return files.filter(isRevFileName).map((name) => name.slice(0, -SNAPSHOT_SUFFIX.length))
}

/** Whether a name in `snapshots/` may be a rev's file: `*.json.enc`, not a dot-file. */
function isRevFileName(name: string): boolean {
  return name.endsWith(SNAPSHOT_SUFFIX) && !name.startsWith('.')
}
