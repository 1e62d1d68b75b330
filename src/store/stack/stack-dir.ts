/**
 * The directory of one factory/stack on the local filesystem: where its
 * files are, the guarantee that none of its directories is a symlink out of
 * the data directory, and the translation of disk faults into errors that
 * name the stack and the operation.
 */
import { join } from 'node:path'
import type { Clock } from '../../clock.js'
import { StateError } from '../../errors.js'
import { isRenamed } from '../../fs/durable.js'
import { type FsOps, errnoCode } from '../../fs/fs-ops.js'
import type { OwnerProbe } from '../../fs/owner.js'
import { sweepTemps } from '../../fs/temp-files.js'
import { UndoLog } from '../../fs/undo-log.js'
import { formatInstant } from '../../time/instant.js'
import { META_DIR, SNAPSHOTS_DIR, TRASH_DIR } from './layout.js'

/** What a stack directory needs; everything is passed in. */
export interface StackDirOptions {
  readonly root: string
  readonly factory: string
  readonly stack: string
  readonly fs: FsOps
  readonly clock: Clock
  /** Temp files older than this (ms) are leftovers of crashed writes and are removed, whoever wrote them. */
  readonly tempMaxAgeMs: number
  /** Who this process is and whether a temp file's writer still runs. */
  readonly probe: OwnerProbe
  /** Receives warnings; never given secrets. */
  readonly warn: (message: string) => void
  /** Told when `io` starts its first operation in flight (true) and ends its last (false). */
  readonly onActivity?: (busy: boolean) => void
  /** The data volume folds case (`Prod` and `prod` are one directory): names must then match the disk's exactly. */
  readonly foldsCase?: boolean
}

/** The directory of one stack: its paths, its safety check and its fault translation. */
export class StackDir {
  readonly factory: string
  readonly stack: string
  readonly root: string
  /** `<root>/<factory>/<stack>` */
  readonly path: string
  /** `<root>/<factory>/<stack>/snapshots` */
  readonly snapshots: string
  /** `<root>/<factory>/<stack>/.trash` */
  readonly trash: string
  /** `<root>/<factory>/<stack>/.meta` */
  readonly meta: string
  readonly fs: FsOps
  readonly clock: Clock
  readonly warn: (message: string) => void
  readonly #tempMaxAgeMs: number
  readonly #probe: OwnerProbe
  readonly #onActivity: (busy: boolean) => void
  readonly #foldsCase: boolean
  #inFlight = 0
  #ready = false
  #swept = 0

  /** Names must be validated by the caller (see names.ts) before any path is built. */
  constructor(options: StackDirOptions) {
    this.factory = options.factory
    this.stack = options.stack
    this.root = options.root
    this.path = join(options.root, options.factory, options.stack)
    this.snapshots = join(this.path, SNAPSHOTS_DIR)
    this.trash = join(this.path, TRASH_DIR)
    this.meta = join(this.path, META_DIR)
    this.fs = options.fs
    this.clock = options.clock
    this.warn = options.warn
    this.#tempMaxAgeMs = options.tempMaxAgeMs
    this.#probe = options.probe
    this.#onActivity = options.onActivity ?? (() => {})
    this.#foldsCase = options.foldsCase === true
  }

  /** `factory/stack`, for messages. */
  get name(): string {
    return `${this.factory}/${this.stack}`
  }

  /** The stack's names, for error details. */
  where(): Record<string, string> {
    return { factory: this.factory, stack: this.stack }
  }

  /** The clock's instant, RFC 3339. */
  now(): string {
    return formatInstant(this.clock.nowNanos())
  }

  /** The clock's instant in milliseconds since the epoch. */
  nowMs(): number {
    return Number(this.clock.nowNanos() / 1_000_000n)
  }

  /**
   * Removes the temp files in `dir` (one of the stack's directories) that no
   * one will use again: those of a writer on this host that has exited at
   * once, others (a live writer's, another host's) once older than the
   * temp age bound. `names`: the directory's names, when just read;
   * `skipOwn`: leave this process's temps alone (see SweepOptions). Throws
   * what the filesystem throws (an absent directory is not an error).
   */
  async sweep(dir: string, names?: readonly string[], skipOwn = false): Promise<number> {
    const removed = await sweepTemps(this.fs, dir, {
      probe: this.#probe,
      maxAgeMs: this.#tempMaxAgeMs,
      nowMs: this.nowMs(),
      skipOwn,
      ...(names === undefined ? {} : { names }),
    })
    this.#swept += removed
    return removed
  }

  /** How many temp files the sweeps of this handle removed so far (every sweep: first use, changes, retention). */
  get swept(): number {
    return this.#swept
  }

  /**
   * The sweep of a change, run under the stack's mutex before the change:
   * the stack directory (where pointers, lock records and the mutex's temps
   * live). Best effort: a leftover that cannot be removed now never fails
   * the change (the next change, start or retention run tries again).
   */
  async sweepForChange(): Promise<void> {
    await this.sweep(this.path, undefined, true).catch(() => {})
  }

  /**
   * The sweep of every directory of the stack (the retention job's and the
   * start-up sweep): the stack directory, `snapshots/`, `.trash/` and
   * `.meta/`. Best effort, like `sweepForChange`: a directory that cannot be
   * swept is reported to `onError` (ignored when absent) and the others are
   * still swept. Returns how many files it removed.
   */
  async sweepAll(onError: (err: unknown) => void = () => {}): Promise<number> {
    let removed = 0
    for (const dir of [this.path, this.snapshots, this.trash, this.meta]) {
      try {
        if (await this.#isRealDir(dir)) removed += await this.sweep(dir)
      } catch (err) {
        onError(err)
      }
    }
    return removed
  }

  /** True when `dir` is a real directory: `.trash/` and `.meta/` are checked where they are used (a symlink there is refused then), and never swept through a link. */
  async #isRealDir(dir: string): Promise<boolean> {
    return (await this.fs.lstat(dir).catch(() => undefined))?.isDirectory() === true
  }

  /** Whether `ensure` found (or made) the stack's directories and nothing since said they went away. */
  get ready(): boolean {
    return this.#ready
  }

  /** Whether an `io` operation is in flight. */
  get busy(): boolean {
    return this.#inFlight > 0
  }

  /**
   * Verifies the stack's directories are real directories (no symlink out of
   * the root), creating them if asked; false when absent and not created.
   * The first success also sweeps leftover temp files of crashed writes
   * from the stack directory, `snapshots/` and `.meta/` (see `sweep`).
   * Throws `unsafe-path` for a symlink or a file, and, on a volume that
   * folds case, `name-case-conflict` when the factory or stack on disk is
   * spelled in another case (checked before anything is made, and again
   * after, for a concurrent creation in the other case).
   */
  async ensure(create: boolean): Promise<boolean> {
    if (this.#ready) return true
    if (create) await this.fs.mkdir(this.root, { recursive: true })
    await this.#assertSpelling()
    for (const dir of [join(this.root, this.factory), this.path, this.snapshots]) {
      if (!(await this.realDir(dir, create))) return false
    }
    if (create) await this.#assertSpelling()
    await this.sweep(this.snapshots)
    await this.sweep(this.path)
    if (await this.#isRealDir(this.meta)) await this.sweep(this.meta)
    this.#ready = true
    return true
  }

  /**
   * True when `dir` is a real directory (creating it if asked); false when it
   * is absent and not created. Throws `unsafe-path` for a symlink or a file:
   * the server never follows links out of its data directory.
   */
  async realDir(dir: string, create: boolean): Promise<boolean> {
    let st
    try {
      st = await this.fs.lstat(dir)
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err
      if (!create) return false
      await this.fs.mkdir(dir).catch((e: unknown) => {
        if (errnoCode(e) !== 'EEXIST') throw e
      })
      st = await this.fs.lstat(dir)
    }
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw new StateError(
        'unsafe-path',
        `${dir} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}; the server never follows links out of its data directory`,
        this.where(),
      )
    }
    return true
  }

  /** On a volume that folds case: throws `name-case-conflict` when the factory or stack exists spelled otherwise. */
  async #assertSpelling(): Promise<void> {
    if (!this.#foldsCase) return
    const factory = await this.#spelledOnDisk(this.root, this.factory)
    if (factory !== undefined && factory !== this.factory) throw this.#caseConflict('factory', factory)
    if (factory === undefined) return
    const stack = await this.#spelledOnDisk(join(this.root, this.factory), this.stack)
    if (stack !== undefined && stack !== this.stack) throw this.#caseConflict('stack', stack)
  }

  /** The entry of `dir` equal to `name` with case ignored (names are ASCII), or undefined. */
  async #spelledOnDisk(dir: string, name: string): Promise<string | undefined> {
    let entries: string[]
    try {
      entries = await this.fs.readdir(dir)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined
      throw err
    }
    const wanted = name.toLowerCase()
    return entries.find((e) => e === name) ?? entries.find((e) => e.toLowerCase() === wanted)
  }

  #caseConflict(kind: 'factory' | 'stack', existing: string): StateError {
    const asked = kind === 'factory' ? this.factory : this.stack
    return new StateError(
      'name-case-conflict',
      `${kind} "${asked}" differs only in case from the existing ${kind} "${existing}", and the data volume does not tell case apart (both would be one directory)`,
      { ...this.where(), existing },
    )
  }

  /**
   * Runs a filesystem step, turning disk faults into errors that name the
   * stack and the operation: `unsafe-path` (a symlink met), `no-space`,
   * `storage-failure`. State errors and aborts pass through. Counted as in
   * flight while it runs (see `onActivity`).
   */
  async io<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.#inFlight++ === 0) this.#onActivity(true)
    try {
      return await this.#translateFaults(operation, fn)
    } finally {
      this.#inFlight -= 1
      if (this.#inFlight === 0) this.#onActivity(false)
    }
  }

  async #translateFaults<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof StateError || (err instanceof Error && err.name === 'AbortError')) throw err
      const code = errnoCode(err)
      if (code === 'ELOOP') {
        // O_NOFOLLOW met a symlink where a stack file should be: never follow it out of the data directory.
        throw new StateError(
          'unsafe-path',
          `a file of ${this.name} is a symlink while ${operation}; the server never follows links out of its data directory`,
          { ...this.where(), operation },
          { cause: err },
        )
      }
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new StateError(
          'no-space',
          `no space left on the data volume while ${operation} in ${this.name}: nothing was changed; free space and retry`,
          { ...this.where(), operation, errno: code },
          { cause: err },
        )
      }
      if (code === 'ENOENT') {
        // A directory of the stack was removed under the running server: look at it afresh next time.
        this.#ready = false
        throw new StateError(
          'storage-failure',
          `a file or directory of ${this.name} disappeared while ${operation} (ENOENT): something outside the server removed it; nothing was changed, retry`,
          { ...this.where(), operation, errno: code },
          { cause: err },
        )
      }
      if (code !== undefined && isRenamed(err)) {
        // The fsync after a rename failed and the old file could not be put back: say what readers now see.
        throw new StateError(
          'storage-failure',
          `the data directory could not confirm ${operation} in ${this.name} as durable (${code}): the change was made and is visible, but may not survive a crash of the volume; check the volume, then re-read the state before retrying`,
          { ...this.where(), operation, errno: code, changed: 'true' },
          { cause: err },
        )
      }
      if (code !== undefined) {
        throw new StateError(
          'storage-failure',
          `the data directory refused ${operation} in ${this.name} (${code}): nothing was changed; check permissions and the volume, then retry`,
          { ...this.where(), operation, errno: code },
          { cause: err },
        )
      }
      throw err
    }
  }

  /** Runs a change of several names as one: everything `fn` did through the log is taken back if it throws. */
  async undoable<T>(fn: (log: UndoLog) => Promise<T>): Promise<T> {
    const log = new UndoLog(this.fs, (message) => this.warn(`${this.name}: ${message}`))
    let result: T
    try {
      result = await fn(log)
    } catch (err) {
      await log.rollback()
      throw err
    }
    await log.commit()
    return result
  }
}
