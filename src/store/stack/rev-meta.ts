/**
 * The history metadata of one stack's revs on disk (`.meta/<rev>.json`):
 * who wrote each rev, under which lock, its size, digest and kind.
 *
 * The rule that keeps a rev from ever showing another rev's metadata: a
 * metadata file is written before its rev is published, under the exact rev
 * name (created exclusively, or, over a leftover of that name, replaced
 * durably), names its rev inside, and is durable before the write is
 * answered; it is hidden before its rev when the rev goes (delete, gc), and
 * moves into and out of the trash with it in the same undoable change. A
 * crash between the two steps leaves a metadata file without a rev (ignored,
 * replaced by the next write that claims the name, swept under the mutex) or
 * a rev without metadata (shown as written by another tool), never a rev with
 * the wrong one. The one window left is a rev name the Go tool (which takes no
 * mutex) claims in the microseconds between the metadata write and our
 * exclusive link, followed by a crash before the metadata is withdrawn.
 */
import { constants } from 'node:fs'
import { join } from 'node:path'
import { replaceAtomic, syncDir, syncDirShared } from '../../fs/durable.js'
import { errnoCode } from '../../fs/fs-ops.js'
import type { UndoLog } from '../../fs/undo-log.js'
import { digestInSlices } from '../envelope-slices.js'
import { parseRev } from '../rev.js'
import type { LockHolder, PayloadKind, RevLock, RevMeta, WriteRecord } from '../store.js'
import { META_SUFFIX, metaFile, trashMetaName } from './layout.js'
import type { StackDir } from './stack-dir.js'

/** The format version written into every metadata file (a reader skips versions it does not know). */
const META_VERSION = 1
const KINDS: readonly PayloadKind[] = ['unobin', 'terraform', 'opaque']

/** Encodes `meta` as its file's bytes (one JSON object, with the format version). */
export function encodeRevMeta(meta: RevMeta): Buffer {
  return Buffer.from(`${JSON.stringify({ version: META_VERSION, ...meta })}\n`)
}

/**
 * The metadata of a write about to be published, given its record and body:
 * a function of the holder the write was fenced by (known only inside the
 * stack's mutex) that encodes the rev's metadata file. The body's size and
 * sha256 are taken when this is called, before the mutex is taken.
 */
export async function revMetaOf(
  record: WriteRecord,
  body: Buffer,
): Promise<(holder: LockHolder | undefined) => (rev: string) => Buffer> {
  const facts = { bytes: body.length, sha256: await digestInSlices(body) }
  // Only the record's own fields are stored (a caller's object may carry more).
  const { principal, remote, requestId, kind, serial, lineage } = record
  return (holder) => {
    const lock: RevLock | null =
      holder === undefined
        ? null
        : { id: holder.id, who: holder.who, operation: holder.operation, principal: holder.principal }
    return (rev) => encodeRevMeta({ rev, principal, remote, requestId, kind, serial, lineage, lock, ...facts })
  }
}

/**
 * Decodes a metadata file read under the name of `rev`; null when it does
 * not parse, has another version, or names another rev (a file renamed by
 * hand is never shown for the wrong rev). Never throws.
 */
export function decodeRevMeta(rev: string, bytes: Buffer): RevMeta | null {
  let raw: unknown
  try {
    raw = JSON.parse(bytes.toString('utf8'))
  } catch {
    return null
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null
  const m = raw as Record<string, unknown>
  if (m.version !== META_VERSION || m.rev !== rev) return null
  const kind = KINDS.find((k) => k === m.kind)
  const lock = decodeLock(m.lock)
  if (
    kind === undefined ||
    lock === undefined ||
    !nullableString(m.principal) ||
    !nullableString(m.remote) ||
    !nullableString(m.requestId) ||
    !nullableString(m.lineage) ||
    !(m.serial === null || (typeof m.serial === 'number' && Number.isInteger(m.serial))) ||
    typeof m.bytes !== 'number' ||
    !Number.isInteger(m.bytes) ||
    m.bytes < 0 ||
    typeof m.sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(m.sha256)
  )
    return null
  return {
    rev,
    principal: m.principal as string | null,
    remote: m.remote as string | null,
    requestId: m.requestId as string | null,
    kind,
    serial: m.serial as number | null,
    lineage: m.lineage as string | null,
    lock,
    bytes: m.bytes,
    sha256: m.sha256,
  }
}

function nullableString(v: unknown): boolean {
  return v === null || typeof v === 'string'
}

/** The recorded lock: null (none), the lock, or undefined when malformed. */
function decodeLock(v: unknown): RevLock | null | undefined {
  if (v === null) return null
  if (typeof v !== 'object' || Array.isArray(v)) return undefined
  const l = v as Record<string, unknown>
  if (
    typeof l.id !== 'string' ||
    typeof l.who !== 'string' ||
    typeof l.operation !== 'string' ||
    !nullableString(l.principal)
  )
    return undefined
  return { id: l.id, who: l.who, operation: l.operation, principal: l.principal as string | null }
}

/**
 * A metadata file created under its rev's name and written, not yet durable
 * (see `RevMetaFiles.create`).
 */
export interface PendingMeta {
  /**
   * Makes it durable: fsyncs and closes the file, then fsyncs `.meta` (an
   * fsync shared with the stack's other writers when `shared`). The file is
   * closed even when this throws.
   */
  settle(shared: boolean): Promise<void>
  /** Closes the file without making it durable (its rev was not published: withdraw it). */
  close(): Promise<void>
}

/** The metadata files of one stack. Changes run under the stack's mutex (the caller's). */
export class RevMetaFiles {
  readonly #dir: StackDir
  /** Whether `.meta` was found a real directory (checked once per handle, as ensure() checks the stack's). */
  #real = false

  constructor(dir: StackDir) {
    this.#dir = dir
  }

  /**
   * Creates the metadata of `rev` exclusively under its final name and
   * writes it, leaving the fsyncs to the returned `settle`: inside the
   * stack's mutex a write then pays an open and a write for its metadata,
   * not a temp file, a rename and two fsyncs. Safe because the rev is linked
   * after this returns and answered only after `settle`: a crash before
   * that leaves at worst a rev whose metadata file is empty or cut short,
   * which reads as no metadata (a file that does not parse, or names another
   * rev, is never shown), never another write's. Undefined when a file of
   * that name exists (a leftover of a write that died, or another writer's):
   * nothing was created, and the caller decides.
   */
  async create(rev: string, bytes: Buffer): Promise<PendingMeta | undefined> {
    const fs = this.#dir.fs
    const path = join(this.#dir.meta, metaFile(rev))
    const flags = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW
    if (!this.#real) this.#real = await this.#dir.realDir(this.#dir.meta, true)
    let handle
    try {
      handle = await fs.open(path, flags, 0o600)
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') return undefined
      if (errnoCode(err) !== 'ENOENT') throw err
      // `.meta` was removed since it was checked: made again, and checked again.
      this.#real = await this.#dir.realDir(this.#dir.meta, true)
      handle = await fs.open(path, flags, 0o600)
    }
    try {
      await handle.writeFile(bytes)
    } catch (err) {
      await handle.close().catch(() => {})
      await fs.unlink(path).catch(() => {})
      throw err
    }
    const opened = handle
    return {
      settle: async (shared) => {
        try {
          await opened.sync()
        } finally {
          await opened.close()
        }
        await (shared ? syncDirShared(fs, this.#dir.meta) : syncDir(fs, this.#dir.meta))
      },
      close: () => opened.close(),
    }
  }

  /** Writes the metadata of `rev` durably, replacing a leftover of that name (whose rev never came). */
  async write(rev: string, bytes: Buffer): Promise<void> {
    await this.#dir.realDir(this.#dir.meta, true)
    await replaceAtomic(this.#dir.fs, this.#dir.meta, metaFile(rev), bytes)
  }

  /** Withdraws the metadata of a rev that was not published after all (best effort: a leftover is swept). */
  async withdraw(rev: string): Promise<void> {
    try {
      await this.#dir.fs.unlink(join(this.#dir.meta, metaFile(rev)))
      await syncDir(this.#dir.fs, this.#dir.meta)
    } catch {
      // a leftover is ignored by readers and removed by the next sweep or replaced by the next write of the name
    }
  }

  /** The metadata of each of `revs` (null where absent or unreadable). Throws `unsafe-path` for a symlinked directory. */
  async read(revs: readonly string[]): Promise<Array<RevMeta | null>> {
    if (revs.length === 0 || !(await this.#dir.realDir(this.#dir.meta, false))) return revs.map(() => null)
    const out: Array<RevMeta | null> = new Array(revs.length).fill(null)
    let next = 0
    // A few reads in flight: a page of a thousand revs costs a thousand small reads, not a thousand at once.
    const worker = async () => {
      for (let i = next++; i < revs.length; i = next++) out[i] = await this.#readOne(revs[i]!)
    }
    await Promise.all(Array.from({ length: Math.min(8, revs.length) }, worker))
    return out
  }

  async #readOne(rev: string): Promise<RevMeta | null> {
    let handle
    try {
      // No symlink followed at the last component; anything but a small regular file is not metadata.
      handle = await this.#dir.fs.open(join(this.#dir.meta, metaFile(rev)), constants.O_RDONLY | constants.O_NOFOLLOW)
      const st = await handle.stat()
      if (!st.isFile() || st.size > 64 * 1024) return null
      return decodeRevMeta(rev, await handle.readFile())
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ELOOP') return null
      throw err
    } finally {
      await handle?.close()
    }
  }

  /** Hides the metadata of `rev` in `log` (absent: false); the caller syncs `syncDirs` and commits. */
  async hide(rev: string, log: UndoLog): Promise<boolean> {
    if (!(await this.#dir.realDir(this.#dir.meta, false))) return false
    return log.hide(this.#dir.meta, metaFile(rev))
  }

  /** Moves the metadata of `rev` into the trash next to its entry (absent: false), in `log`. */
  async toTrash(rev: string, deletedAt: string, log: UndoLog): Promise<boolean> {
    if (!(await this.#dir.realDir(this.#dir.meta, false))) return false
    try {
      await log.move(join(this.#dir.meta, metaFile(rev)), join(this.#dir.trash, trashMetaName(rev, deletedAt)))
      return true
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false
      throw err
    }
  }

  /** Links a trashed rev's metadata back under `.meta/` (absent in the trash: false), in `log`. */
  async fromTrash(rev: string, deletedAt: string, log: UndoLog): Promise<boolean> {
    await this.#dir.realDir(this.#dir.meta, true)
    try {
      // Exclusive: a copy already there is this rev's own (a restore that crashed half-way).
      return await log.link(join(this.#dir.trash, trashMetaName(rev, deletedAt)), join(this.#dir.meta, metaFile(rev)))
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false
      throw err
    }
  }

  /** Hides a trashed rev's metadata in `log` (absent: false). */
  async hideTrashed(rev: string, deletedAt: string, log: UndoLog): Promise<boolean> {
    return log.hide(this.#dir.trash, trashMetaName(rev, deletedAt))
  }

  /** Fsyncs the metadata directory (after hides or moves); absent: nothing to do. */
  async sync(): Promise<void> {
    if (await this.#dir.realDir(this.#dir.meta, false)) await syncDir(this.#dir.fs, this.#dir.meta)
  }

  /**
   * Removes metadata files whose rev is not among `revs` (a write that died
   * between the two steps, a delete that died half-way). Call under the
   * mutex, with the revs listed under it: no write is then between its steps.
   */
  async sweep(revs: ReadonlySet<string>): Promise<number> {
    if (!(await this.#dir.realDir(this.#dir.meta, false))) return 0
    let removed = 0
    for (const name of await this.#dir.fs.readdir(this.#dir.meta)) {
      if (!name.endsWith(META_SUFFIX) || name.startsWith('.')) continue
      const rev = name.slice(0, -META_SUFFIX.length)
      if (parseRev(rev) === undefined || revs.has(rev)) continue
      await this.#dir.fs.unlink(join(this.#dir.meta, name)).catch(() => {})
      removed++
    }
    if (removed > 0) await syncDir(this.#dir.fs, this.#dir.meta)
    return removed
  }
}
