/** Digests of a data tree (a refused request must leave it unchanged) and path checks on what the store touched. */
import { createHash } from 'node:crypto'
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import { isRev } from '../../../src/store/rev.js'

// --- the data tree -------------------------------------------------------------

export interface Digest {
  readonly text: string
  readonly entries: ReadonlyMap<string, string>
}

/** Every entry under `root`: relative path → kind (dir, link target, or file size and SHA-1). */
export function digestTree(root: string): Digest {
  const entries = new Map<string, string>()
  const walk = (rel: string): void => {
    for (const name of readdirSync(rel === '' ? root : join(root, rel)).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`
      const abs = join(root, path)
      const st = lstatSync(abs)
      if (st.isSymbolicLink()) entries.set(path, `link:${readlinkSync(abs)}`)
      else if (st.isDirectory()) {
        entries.set(path, 'dir')
        walk(path)
      } else entries.set(path, `file:${st.size}:${createHash('sha1').update(readFileSync(abs)).digest('hex')}`)
    }
  }
  walk('')
  return { text: [...entries].map(([k, v]) => `${k}=${v}`).join('\n'), entries }
}

/** What differs between two digests, for a failure message. */
export function describeChange(before: Digest, after: Digest): string {
  const keys = new Set([...before.entries.keys(), ...after.entries.keys()])
  const out: string[] = []
  for (const k of [...keys].sort()) {
    const a = before.entries.get(k)
    const b = after.entries.get(k)
    if (a !== b) out.push(`${k}: ${a ?? 'absent'} -> ${b ?? 'absent'}`)
  }
  return out.slice(0, 12).join('; ')
}

/** True when `url` has an `after` query parameter that is not a canonical rev. */
export function badAfter(url: string): boolean {
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : ''
  let after: string | null
  try {
    after = new URLSearchParams(query).get('after')
  } catch {
    return false
  }
  return after !== null && !isRev(after)
}

/** True when `path` is `root` or below it (lexically, after resolving `..`). */
export function inside(root: string, path: string): boolean {
  const rel = relative(root, resolve(path))
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))
}
