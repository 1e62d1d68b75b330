/**
 * A case-insensitive, case-preserving view of the real filesystem under one
 * directory, as macOS (APFS), Windows (NTFS) and Docker Desktop's bind mounts
 * behave: a name is stored as first written, and any spelling of it in
 * another case reaches the same file. Linux test machines tell case apart,
 * so the store's and the server's behaviour on such volumes is tested
 * through this FsOps.
 */
import { readdirSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { SystemClock } from '../../src/clock.js'
import { NoopEncrypter } from '../../src/crypto/noop.js'
import { type FsOps, nodeFs } from '../../src/fs/fs-ops.js'
import { StoreRoot } from '../../src/store/store-root.js'

/** The FsOps that folds the case of every path under `root` (paths elsewhere pass unchanged). */
export function caseFoldingFs(root: string): FsOps {
  const fold = <P>(path: P): P => (typeof path === 'string' ? (resolveFolded(root, path) as P) : path)
  return {
    open: ((path, ...rest) => nodeFs.open(fold(path), ...rest)) as FsOps['open'],
    readFile: ((path, ...rest) => nodeFs.readFile(fold(path), ...rest)) as FsOps['readFile'],
    readdir: ((path: string, ...rest: unknown[]) =>
      (nodeFs.readdir as (...args: unknown[]) => unknown)(fold(path), ...rest)) as FsOps['readdir'],
    rename: (from, to) => nodeFs.rename(fold(from), fold(to)),
    link: (from, to) => nodeFs.link(fold(from), fold(to)),
    unlink: (path) => nodeFs.unlink(fold(path)),
    mkdir: ((path, ...rest) => nodeFs.mkdir(fold(path), ...rest)) as FsOps['mkdir'],
    lstat: ((path, ...rest) => nodeFs.lstat(fold(path), ...rest)) as FsOps['lstat'],
    utimes: (path, atime, mtime) => nodeFs.utimes(fold(path), atime, mtime),
    rmdir: (path, ...rest) => nodeFs.rmdir(fold(path), ...rest),
    watch: ((path: string, ...rest: unknown[]) =>
      (nodeFs.watch as (...args: unknown[]) => unknown)(fold(path), ...rest)) as FsOps['watch'],
  }
}

/** `path` with each component under `root` replaced by the existing entry of the same name in any case. */
function resolveFolded(root: string, path: string): string {
  const rel = relative(root, path)
  if (rel === '' || rel.startsWith('..')) return path
  let at = root
  for (const part of rel.split(sep)) {
    let entries: string[] = []
    try {
      entries = readdirSync(at)
    } catch {
      // not a directory (yet): the rest is spelled as given
    }
    const found = entries.includes(part) ? part : entries.find((e) => e.toLowerCase() === part.toLowerCase())
    at = join(at, found ?? part)
  }
  return at
}

/**
 * A store root over `dir` on a case-folding volume (`foldsCase` false: the
 * same root on the plain filesystem, which tells case apart), sealing
 * nothing, on the system clock.
 */
export function caseFoldingRoot(dir: string, foldsCase = true): StoreRoot {
  return new StoreRoot({
    root: dir,
    encrypter: new NoopEncrypter(),
    clock: new SystemClock(),
    identity: { pid: process.pid, host: 'test-host' },
    ...(foldsCase ? { fs: caseFoldingFs(dir), foldsCase } : {}),
  })
}
