/**
 * Whether a directory's volume folds the case of names: on macOS (APFS,
 * HFS+ by default), Windows (NTFS), and the bind mounts Docker Desktop makes
 * of them, `Prod` and `prod` name one directory. The server must know, since
 * names that differ only in case would otherwise reach one stack while
 * authorization tells them apart.
 *
 * The probe creates a file whose name has both cases, looks its case-swapped
 * name up, and removes it; every call goes through the injected FsOps. The
 * file is a temp file naming this process (temp-files.ts), so one left by a
 * kill is swept like any other leftover.
 */
import { join } from 'node:path'
import { type FsOps, errnoCode } from './fs-ops.js'
import { tempName } from './temp-files.js'

/**
 * True when `dir` (created if absent) folds case. Throws the filesystem's
 * error when the probe cannot be created (a read-only or full volume: the
 * server cannot start on it anyway).
 */
export async function foldsCase(fs: FsOps, dir: string): Promise<boolean> {
  await fs.mkdir(dir, { recursive: true })
  const name = tempName('case-probe-Aa')
  const probe = join(dir, name)
  const handle = await fs.open(probe, 'wx', 0o600)
  await handle.close()
  try {
    const swapped = join(dir, swapCase(name))
    let other
    try {
      other = await fs.lstat(swapped)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false
      throw err
    }
    const mine = await fs.lstat(probe)
    return other.ino === mine.ino && other.dev === mine.dev
  } finally {
    await fs.unlink(probe).catch(() => {})
  }
}

/** `name` with upper and lower case swapped (ASCII). */
function swapCase(name: string): string {
  return name.replace(/[A-Za-z]/g, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()))
}
