/**
 * Durable, atomic file publication: write a temp file in the target's
 * directory, fsync it, then publish it with `link` (exclusive: fails with
 * EEXIST if the name exists, with no check-then-write window, across
 * processes) or `rename` (replace), then fsync the directory so the new name
 * survives a power loss. A crash at any instant leaves the old file or the new
 * one, never a torn one; temp files start with `.tmp-` and are never read as data.
 */
import { constants } from 'node:fs'
import { join } from 'node:path'
import { type FsOps, type OpenFile, errnoCode } from './fs-ops.js'
import { FreshCallsPerFs } from './fresh-calls.js'
import { tempName } from './temp-files.js'

/**
 * Content written in pieces: calls `write` for each piece in order (each
 * write a turn of the event loop), so a large file is never one buffer.
 */
export type PiecewiseContent = (write: (piece: Buffer) => Promise<void>) => Promise<void>

/**
 * Writes `data` (or the pieces it writes) to a fresh temp file in `dir`
 * (named by this process, see temp-files.ts) and fsyncs it; returns its path.
 */
export async function writeTemp(fs: FsOps, dir: string, data: Buffer | PiecewiseContent): Promise<string> {
  const path = join(dir, tempName())
  const handle = await fs.open(
    path,
    constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW,
    0o600,
  )
  try {
    try {
      // writeFile on a handle writes from its position: pieces follow one another.
      if (typeof data === 'function') await data((piece) => handle.writeFile(piece))
      else await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (err) {
    await fs.unlink(path).catch(() => {})
    throw err
  }
  return path
}

/** Fsyncs directory `dir` so that names created or removed in it are durable. */
export async function syncDir(fs: FsOps, dir: string): Promise<void> {
  const handle = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

const dirSyncs = new FreshCallsPerFs<void>()

/**
 * `syncDir`, shared by the callers who ask for the same directory at once:
 * a caller joins only an fsync that begins after it asked (see FreshCalls),
 * so every entry it made before asking is durable when it returns. Eight
 * writers of one stack then pay two or three directory fsyncs, not eight.
 */
export function syncDirShared(fs: FsOps, dir: string): Promise<void> {
  return dirSyncs.run(fs, dir, () => syncDir(fs, dir))
}

/**
 * Publishes `data` as `dir/name` only if that name does not exist yet.
 * Returns false (and leaves nothing behind) when the name is taken. When the
 * directory cannot be fsynced after the link, the name is removed again and
 * the error thrown, so a caller that gets an error has created nothing (a
 * lock marker is never left behind for a caller told it failed).
 */
export async function createExclusive(fs: FsOps, dir: string, name: string, data: Buffer): Promise<boolean> {
  const temp = await writeTemp(fs, dir, data)
  try {
    await fs.link(temp, join(dir, name))
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false
    throw err
  } finally {
    await fs.unlink(temp).catch(() => {})
  }
  try {
    await syncDir(fs, dir)
  } catch (err) {
    await fs.unlink(join(dir, name)).catch(() => {})
    throw err
  }
  return true
}

/** Errors of `replaceAtomic` after which the new file stays in place (the fsync failed and so did the undo). */
const afterRename = new WeakSet<object>()

/**
 * True when `err` came from `replaceAtomic` and the new content is in place
 * after all: the directory fsync failed and the old file could not be put
 * back, so readers see the change, which may not survive a power loss.
 */
export function isRenamed(err: unknown): boolean {
  return typeof err === 'object' && err !== null && afterRename.has(err)
}

/**
 * Publishes `data` (or the pieces it writes) as `dir/name`, atomically
 * replacing any file of that name.
 * The replaced file is kept under a temp name (a hard link) until the
 * directory fsync succeeds: when that fsync fails, the old file is renamed
 * back (or the new name removed, when there was none), so an error means
 * readers see what they saw before. Only when that undo fails too is the
 * error marked (`isRenamed(err)`): the new content is in place but may not
 * be durable.
 */
export async function replaceAtomic(
  fs: FsOps,
  dir: string,
  name: string,
  data: Buffer | PiecewiseContent,
): Promise<void> {
  const target = join(dir, name)
  const temp = await writeTemp(fs, dir, data)
  const kept = join(dir, tempName('kept'))
  let hasOld = true
  try {
    await fs.link(target, kept)
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') {
      await fs.unlink(temp).catch(() => {})
      throw err
    }
    hasOld = false
  }
  try {
    await fs.rename(temp, target)
  } catch (err) {
    await fs.unlink(temp).catch(() => {})
    if (hasOld) await fs.unlink(kept).catch(() => {})
    throw err
  }
  try {
    await syncDir(fs, dir)
  } catch (err) {
    try {
      if (hasOld) await fs.rename(kept, target)
      else await fs.unlink(target)
    } catch {
      if (hasOld) await fs.unlink(kept).catch(() => {})
      if (typeof err === 'object' && err !== null) afterRename.add(err)
      throw err
    }
    await syncDir(fs, dir).catch(() => {}) // the old name is what readers see; its durability is what it was
    throw err
  }
  if (hasOld) await fs.unlink(kept).catch(() => {}) // a leftover is a temp file: swept later
}

/** Opens `path` for reading without following a symlink at its last component; undefined when absent. */
export async function openNoFollow(fs: FsOps, path: string): Promise<OpenFile | undefined> {
  try {
    return await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw err
  }
}

/** Reads `path` without following a symlink at its last component; undefined when absent. */
export async function readNoFollow(fs: FsOps, path: string): Promise<Buffer | undefined> {
  const handle = await openNoFollow(fs, path)
  if (handle === undefined) return undefined
  try {
    return await handle.readFile()
  } finally {
    await handle.close()
  }
}
