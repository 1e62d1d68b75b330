/**
 * Opened snapshots kept in memory, least recently used first out, bounded by
 * plaintext bytes. Revs are immutable, so an entry is the snapshot of a file
 * under its stamp (inode, size, mtime): a rev re-sealed by key rotation (a
 * new file renamed over the old) no longer matches, and the next read opens
 * the new file and takes the entry's place. Reading a cached rev costs one
 * lstat instead of reading, parsing and decrypting the envelope.
 * Shared by every stack of a StoreRoot; holds plaintext only in this process.
 */
import type { Snapshot } from './store.js'

/** What tells one file's content from another's under one path: the inode (a rename brings a new one), size and mtime. */
export interface FileStamp {
  readonly ino: number
  readonly size: number
  readonly mtimeMs: number
}

interface Entry extends FileStamp {
  readonly snapshot: Snapshot
}

/** An LRU of opened snapshots by file path, bounded by total body bytes. */
export class SnapshotCache {
  readonly #maxBytes: number
  readonly #entries = new Map<string, Entry>()
  /** The path last used (the Map's last key): a hit on it needs no reordering, as when one stack's current is read in a loop. */
  #newest: string | undefined
  #bytes = 0

  /** `maxBytes` 0 disables caching. Bodies larger than a quarter of it are never cached. */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  /** The snapshot cached for the file at `path` with this `stamp`, refreshed as most recently used. */
  get(path: string, stamp: FileStamp): Snapshot | undefined {
    const hit = this.#entries.get(path)
    if (hit === undefined) return undefined
    if (hit.ino !== stamp.ino || hit.size !== stamp.size || hit.mtimeMs !== stamp.mtimeMs) {
      this.#drop(path, hit) // another file under the name now: the entry can never match again
      return undefined
    }
    if (path !== this.#newest) {
      this.#entries.delete(path)
      this.#entries.set(path, hit)
      this.#newest = path
    }
    return hit.snapshot
  }

  /** Keeps `snapshot` as the content of the file at `path` with this `stamp`, evicting the least recently used beyond the bound. */
  set(path: string, stamp: FileStamp, snapshot: Snapshot): void {
    const size = snapshot.body.length
    if (this.#maxBytes === 0 || size > this.#maxBytes / 4) return
    const old = this.#entries.get(path)
    if (old !== undefined) this.#drop(path, old)
    this.#entries.set(path, { ino: stamp.ino, size: stamp.size, mtimeMs: stamp.mtimeMs, snapshot })
    this.#newest = path
    this.#bytes += size
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break
      this.#drop(oldest, entry)
    }
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes
  }

  #drop(path: string, entry: Entry): void {
    this.#entries.delete(path)
    this.#bytes -= entry.snapshot.body.length
    if (this.#newest === path) this.#newest = undefined
  }
}
