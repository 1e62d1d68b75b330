/**
 * Opened snapshots kept in memory, least recently used first out, bounded by
 * plaintext bytes. Revs are immutable, so an entry is keyed by the file's
 * identity (path, inode, size, mtime): a rev re-sealed by key rotation (a new
 * file renamed over the old) misses and is read again. Reading a cached rev
 * costs one lstat instead of reading, parsing and decrypting the envelope.
 * Shared by every stack of a StoreRoot; holds plaintext only in this process.
 */
import type { Snapshot } from './store.js'

/** An LRU of opened snapshots bounded by total body bytes. */
export class SnapshotCache {
  readonly #maxBytes: number
  readonly #entries = new Map<string, Snapshot>()
  #bytes = 0

  /** `maxBytes` 0 disables caching. Bodies larger than a quarter of it are never cached. */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  /** The cached snapshot for `key`, refreshed as most recently used. */
  get(key: string): Snapshot | undefined {
    const hit = this.#entries.get(key)
    if (hit !== undefined) {
      this.#entries.delete(key)
      this.#entries.set(key, hit)
    }
    return hit
  }

  /** Keeps `snapshot` under `key`, evicting the least recently used entries beyond the bound. */
  set(key: string, snapshot: Snapshot): void {
    const size = snapshot.body.length
    if (size > this.#maxBytes / 4 || this.#entries.has(key)) return
    this.#entries.set(key, snapshot)
    this.#bytes += size
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break
      this.#entries.delete(oldest)
      this.#bytes -= entry.body.length
    }
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes
  }
}
