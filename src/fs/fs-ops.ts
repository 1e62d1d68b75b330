/**
 * The filesystem calls the store makes, as one injectable object. Production
 * uses `node:fs/promises` (and `lstat` through the callback API, see below);
 * fault-injection tests pass a wrapper that fails a chosen call with ENOSPC,
 * EIO or EACCES to prove no path tears data.
 */
import { type Stats, lstat as lstatCallback, watch } from 'node:fs'
import * as fsp from 'node:fs/promises'

/** The subset of `node:fs/promises` the store and its mutex use, and the directory watch of lock waiters. */
export interface FsOps {
  open: typeof fsp.open
  readFile: typeof fsp.readFile
  readdir: typeof fsp.readdir
  rename: typeof fsp.rename
  link: typeof fsp.link
  unlink: typeof fsp.unlink
  mkdir: typeof fsp.mkdir
  lstat: typeof fsp.lstat
  utimes: typeof fsp.utimes
  rmdir: typeof fsp.rmdir
  /** `node:fs` `watch` (synchronous: it throws when the directory cannot be watched). */
  watch: typeof watch
}

/**
 * `fs.promises.lstat` with the same answers and errors, through the callback
 * API: every small GET stats `current` and its rev, and the callback request
 * costs the event loop's thread less than the promise API's (measured: 14-18
 * against 18-24 µs of main-thread CPU per call on this host; see BENCHMARKS.md).
 */
const lstat = ((path: string, options?: { bigint?: boolean }) =>
  new Promise((resolve, reject) => {
    lstatCallback(path, { bigint: options?.bigint === true }, (err, st) => (err === null ? resolve(st) : reject(err)))
  })) as typeof fsp.lstat

/** The real filesystem. */
export const nodeFs: FsOps = {
  open: fsp.open,
  readFile: fsp.readFile,
  readdir: fsp.readdir,
  rename: fsp.rename,
  link: fsp.link,
  unlink: fsp.unlink,
  mkdir: fsp.mkdir,
  lstat,
  utimes: fsp.utimes,
  rmdir: fsp.rmdir,
  watch,
}

/** The `lstat` of `path`, or undefined when nothing is there (any other error is thrown). */
export async function lstatIfPresent(fs: FsOps, path: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(path)
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw err
  }
}

/** The errno code of a Node fs error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    ? (err as { code: string }).code
    : undefined
}
