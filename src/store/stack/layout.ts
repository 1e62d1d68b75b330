/**
 * The names of a stack's files on disk, in the Go tool's layout plus our
 * additions:
 *
 * ```
 * <root>/<factory>/<stack>/
 *   current                  rev + "\n"
 *   lock                     present while locked (JSON holder; the Go tool writes "<pid>\n")
 *   snapshots/<rev>.json.enc envelopes
 *   .lock-released           how the lock was last released (our addition; the Go tool ignores it)
 *   .lock-lost               the last locks lost to an expired lease or a force-unlock (our addition)
 *   .mutex                   the short internal mutex: its owner's host, pid, start time, boot id (our addition)
 *   .trash/<rev>@<deleted>.json.enc  revs a prune removed, restorable until purged (our addition)
 *   .trash/<rev>@<deleted>.meta.json the history metadata of a trashed rev (our addition)
 *   .meta/<rev>.json         who wrote each rev, under which lock, its size, digest and kind (our addition)
 * ```
 */

/** The file name suffix of a stored rev (and of a trash entry). */
export const SNAPSHOT_SUFFIX = '.json.enc'
/** The directory of stored revs. */
export const SNAPSHOTS_DIR = 'snapshots'
/** The pointer naming the current rev. */
export const CURRENT_FILE = 'current'
/** The lock marker, present while the stack is locked. */
export const LOCK_FILE = 'lock'
/** How the lock was last released. */
export const RELEASE_FILE = '.lock-released'
/**
 * The last locks lost to an expired lease or a force-unlock (a JSON array,
 * newest last), so their holders keep hearing `lock-lost` after later holders
 * came and went; written only at those (rare) events, read only on refusal.
 */
export const LOST_FILE = '.lock-lost'
/**
 * Every client-chosen lock id the stack ever granted, one empty-ish file per
 * id (named by its SHA-256), created exclusively: an id that was released,
 * expired or force-unlocked is never granted again.
 */
export const LOCK_IDS_DIR = '.lock-ids'
/** How many lost locks `LOST_FILE` remembers. */
export const LOST_KEPT = 32
/** Where prune moves revs: inside the stack but outside `snapshots/`, so neither the Go tool nor list sees them. */
export const TRASH_DIR = '.trash'
/** The internal mutex's file (see fs/mutex.ts; a directory there is an older server's proper-lockfile mutex). */
export const MUTEX_FILE = '.mutex'

/**
 * The history metadata of revs written by this server, one JSON file per
 * rev named after it (`<rev>.json`), outside `snapshots/` so the Go tool
 * neither lists nor reads it.
 */
export const META_DIR = '.meta'
/** The file name suffix of a rev's metadata in `META_DIR`. */
export const META_SUFFIX = '.json'
/** The file name suffix of a trashed rev's metadata in `TRASH_DIR`. */
export const TRASH_META_SUFFIX = '.meta.json'

/** The file name of a rev's metadata in `.meta/`. */
export function metaFile(rev: string): string {
  return rev + META_SUFFIX
}

/** The file name of a trashed rev's metadata: `<rev>@<deletedAt>.meta.json`, next to its entry. */
export function trashMetaName(rev: string, deletedAt: string): string {
  return `${rev}@${deletedAt}${TRASH_META_SUFFIX}`
}

/** The file name of a rev in `snapshots/`. */
export function revFile(rev: string): string {
  return rev + SNAPSHOT_SUFFIX
}

/** The file name of a trash entry: `<rev>@<deletedAt>.json.enc` (both RFC 3339, neither holds an @). */
export function trashName(rev: string, deletedAt: string): string {
  return `${rev}@${deletedAt}${SNAPSHOT_SUFFIX}`
}
