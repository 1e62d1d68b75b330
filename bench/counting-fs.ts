/**
 * A counting filesystem for `npm run bench`: the real filesystem's calls
 * through the store's injectable FsOps, each counted by name, and the
 * file handles it opens counted too (fsync, writes, closes), so the bench can
 * say what one write, lock or unlock costs in filesystem round-trips. Calls
 * on the stack mutex's files (`isMutex`) are counted apart, as `mutex-*`.
 */
import { type FsOps, type OpenFile, nodeFs } from '../src/fs/fs-ops.js'

/** Counts of filesystem calls by kind, and under `HELD` how many of them ran while the stack mutex was held. */
export type Counts = Record<string, number>

/** The key of the calls made while the stack mutex was held (counted in their own kinds too). */
export const HELD = 'held'

/** The stack mutex's file name (see src/store/stack/layout.ts). */
const MUTEX = '/.mutex'

/** A FsOps over the real filesystem that counts every call; `take()` returns the counts so far and resets them. */
export function countingFs(isMutex: (path: string) => boolean): { fs: FsOps; take: () => Counts } {
  let counts: Counts = {}
  // Whether the stack mutex is held (between its link and its unlink): calls then also count as `held`.
  let held = false
  const bump = (name: string) => {
    counts[name] = (counts[name] ?? 0) + 1
    if (held && !name.startsWith('mutex-')) counts[HELD] = (counts[HELD] ?? 0) + 1
  }
  const wrapHandle = (handle: OpenFile, prefix: string): OpenFile =>
    new Proxy(handle, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          if (prop === 'sync' || prop === 'datasync') bump(`${prefix}fsync`)
          else if (prop === 'writeFile' || prop === 'write') bump(`${prefix}write`)
          else if (prop === 'readFile' || prop === 'read') bump(`${prefix}read`)
          else if (prop === 'close') bump(`${prefix}close`)
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    })
  const fs: FsOps = {
    ...nodeFs,
    open: async (path, flags, mode) => {
      const prefix = isMutex(path) ? 'mutex-' : ''
      bump(`${prefix}open`)
      return wrapHandle(await nodeFs.open(path, flags, mode), prefix)
    },
    readFile: ((...args: Parameters<FsOps['readFile']>) => {
      bump('readFile')
      return nodeFs.readFile(...args)
    }) as FsOps['readFile'],
    readdir: ((...args: Parameters<FsOps['readdir']>) => {
      bump('readdir')
      return (nodeFs.readdir as (...a: unknown[]) => unknown)(...args)
    }) as FsOps['readdir'],
    rename: (...args) => {
      bump('rename')
      return nodeFs.rename(...args)
    },
    link: async (existing, path) => {
      bump(isMutex(String(path)) ? 'mutex-link' : 'link')
      await nodeFs.link(existing, path)
      if (String(path).endsWith(MUTEX)) held = true
    },
    unlink: (path) => {
      bump(isMutex(String(path)) ? 'mutex-unlink' : 'unlink')
      if (String(path).endsWith(MUTEX)) held = false
      return nodeFs.unlink(path)
    },
    mkdir: ((...args: Parameters<FsOps['mkdir']>) => {
      bump('mkdir')
      return nodeFs.mkdir(...args)
    }) as FsOps['mkdir'],
    lstat: ((...args: Parameters<FsOps['lstat']>) => {
      bump(isMutex(String(args[0])) ? 'mutex-lstat' : 'lstat')
      return nodeFs.lstat(...args)
    }) as FsOps['lstat'],
    utimes: (...args) => {
      bump(isMutex(String(args[0])) ? 'mutex-utimes' : 'utimes')
      return nodeFs.utimes(...args)
    },
    rmdir: (...args) => {
      bump('rmdir')
      return nodeFs.rmdir(...args)
    },
  }
  return {
    fs,
    take: () => {
      const out = counts
      counts = {}
      return out
    },
  }
}
