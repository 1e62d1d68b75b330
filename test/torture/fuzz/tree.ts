/** Digests of a data tree (a refused request must leave it unchanged) and path checks on what the store touched. */
import { createHash } from 'node:crypto'
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import { HELD_LOCKS_DIR } from '../../../src/store/held-locks.js'
import { isRev } from '../../../src/store/rev.js'
import { LOCK_FILE } from '../../../src/store/stack/layout.js'

// --- the data tree -------------------------------------------------------------

export interface Digest {
  readonly text: string
  readonly entries: ReadonlyMap<string, string>
  /** The content of each file of the lock cap's index (`.held-locks/…`), to judge what a request removed there. */
  readonly held: ReadonlyMap<string, string>
}

/** Every entry under `root`: relative path → kind (dir, link target, or file size and SHA-1). */
export function digestTree(root: string): Digest {
  const entries = new Map<string, string>()
  const held = new Map<string, string>()
  const walk = (rel: string): void => {
    for (const name of readdirSync(rel === '' ? root : join(root, rel)).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`
      const abs = join(root, path)
      const st = lstatSync(abs)
      if (st.isSymbolicLink()) entries.set(path, `link:${readlinkSync(abs)}`)
      else if (st.isDirectory()) {
        entries.set(path, 'dir')
        walk(path)
      } else {
        const bytes = readFileSync(abs)
        entries.set(path, `file:${st.size}:${createHash('sha1').update(bytes).digest('hex')}`)
        if (path.startsWith(`${HELD_LOCKS_DIR}/`)) held.set(path, bytes.toString('utf8'))
      }
    }
  }
  walk('')
  return { text: [...entries].map(([k, v]) => `${k}=${v}`).join('\n'), entries, held }
}

/**
 * The differences between two digests that are not a change of state: the
 * lock cap's index is derived bookkeeping (rebuilt from the lock markers at
 * start), and any request that counts a caller's locks drops the caller's
 * entries that no longer count (the stack's lock does not name the caller,
 * and the entry is not pending), with the caller's directory once empty,
 * and sweeps dead writers' temp files there. Returns the differences that
 * are not such a removal (none: the state is as it was).
 */
export function stateChanges(root: string, before: Digest, after: Digest): string[] {
  const changed: string[] = []
  for (const k of new Set([...before.entries.keys(), ...after.entries.keys()])) {
    const a = before.entries.get(k)
    const b = after.entries.get(k)
    if (a === b) continue
    if (
      b === undefined &&
      k.startsWith(`${HELD_LOCKS_DIR}/`) &&
      (a === 'dir' || isTemp(k) || isStale(root, k, before.held.get(k)))
    )
      continue
    changed.push(k)
  }
  return changed
}

function isTemp(path: string): boolean {
  return (path.split('/').pop() ?? '').startsWith('.tmp-')
}

/** True when the index entry at `path` (content `text`) no longer counts: not pending, and its stack's lock names someone else or no one, or its lease is over. */
function isStale(root: string, path: string, text: string | undefined): boolean {
  const [factory, stack] = (path.split('/').pop() ?? '').split('+')
  if (text === undefined || factory === undefined || stack === undefined) return false
  let entry: { principal?: unknown; pendingUntil?: unknown }
  try {
    entry = JSON.parse(text) as typeof entry
  } catch {
    return false
  }
  if (typeof entry.pendingUntil !== 'number' || entry.pendingUntil > Date.now()) return false
  const marker = readMarker(join(root, factory, stack, LOCK_FILE))
  const leaseOver = typeof marker?.expires === 'string' && Date.parse(marker.expires) <= Date.now()
  return leaseOver || marker?.principal !== entry.principal
}

/** A lock marker's holder fields; null when there is none (or not one this test can read: nobody holds the lock). */
function readMarker(path: string): { principal?: unknown; expires?: unknown } | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { principal?: unknown; expires?: unknown }
  } catch {
    return null
  }
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
