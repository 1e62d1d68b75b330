/** The filesystem calls of the fault sweep: naming them for the report, copying a seed, and which ones a server may survive failing. */
import { linkSync, mkdirSync, readdirSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { FsCall } from '../../helpers/faulty-fs.js'

/** A call as `method name`, the name relative to the stack with uuids and revs generalised, to tell kinds of calls apart. */
export function describeCall(call: FsCall, dir: string): string {
  const parts = call.path.startsWith(`${dir}/`) ? call.path.slice(dir.length + 1).split('/') : []
  const name =
    call.path === dir
      ? '<data dir>'
      : parts.length === 1
        ? '<factory dir>'
        : parts.length === 2
          ? '<stack dir>'
          : parts.length === 0
            ? call.path
            : parts.slice(2).join('/')
  return `${call.method} ${name.replace(/\.tmp-[0-9a-z-]+/, '.tmp-*').replace(/\d{4}-\d\d-\d\dT[0-9:.]+Z(_\d+)?/g, '<rev>')}`
}

/**
 * Copies a seeded stack by hard links: cheaper than copying, and as good,
 * because the store never writes a file in place (it writes a temp file and
 * renames or links it), so no case can change the seed's files.
 */
export function cloneTree(from: string, to: string): void {
  mkdirSync(to)
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory()) cloneTree(join(from, entry.name), join(to, entry.name))
    else linkSync(join(from, entry.name), join(to, entry.name))
  }
}

/** File names a server reads (never directories: opening one is the first half of a directory fsync). */
export const isDataFile = (name: string): boolean =>
  name === 'current' ||
  name === 'lock' ||
  name === '.lock-released' ||
  name === '.lock-lost' ||
  name.endsWith('.json.enc')

/**
 * The calls a server may survive failing and still answer success: removing
 * its own temp files (best-effort cleanup), and reads it can do without.
 * Never a write, an fsync, a rename, a link, a mkdir, the removal of data,
 * or a directory open (the first half of a directory fsync): swallowing one
 * of those would lose durability without changing anything a read can see.
 */
export function mayTolerate(call: FsCall): boolean {
  const name = basename(call.path)
  switch (call.method) {
    // Its own temp files, and the release of the internal mutex (retried once; the change it guarded is done).
    case 'unlink':
      return name.startsWith('.tmp-') || name === '.mutex'
    case 'readFile':
    case 'lstat':
    case 'readdir':
      return true
    case 'open':
      return isDataFile(name)
    default:
      return false
  }
}
