/**
 * The `lock` marker's content. We write the holder as JSON; the Go tool writes
 * `<pid>\n`, which reads as a legacy holder with that pid and unknown identity.
 * A marker that is neither (say, empty after a crash between create and
 * write) is still a lock: it reads as a legacy holder without a pid, so only
 * a force-unlock removes it — never "free".
 */
import type { LockHolder, ReleasedLock } from './store.js'

/** Serialises a holder for the marker file. */
export function encodeHolder(holder: LockHolder): Buffer {
  const { legacy: _legacy, ...fields } = holder
  return Buffer.from(`${JSON.stringify(fields, null, 2)}\n`)
}

/** Reads a marker's bytes as a holder; never throws. */
export function decodeHolder(bytes: Buffer): LockHolder {
  const text = bytes.toString('utf8')
  const legacyPid = /^\s*(\d{1,10})\s*$/.exec(text)
  if (legacyPid !== null) return legacyHolder(Number(legacyPid[1]))
  try {
    const doc = JSON.parse(text) as Record<string, unknown>
    if (typeof doc === 'object' && doc !== null && typeof doc.id === 'string' && doc.id !== '') {
      return {
        id: doc.id,
        generation: typeof doc.generation === 'number' && Number.isSafeInteger(doc.generation) ? doc.generation : 0,
        who: str(doc.who) ?? '',
        operation: str(doc.operation) ?? '',
        info: str(doc.info) ?? '',
        principal: str(doc.principal),
        remote: str(doc.remote),
        created: str(doc.created),
        expires: str(doc.expires),
        pid: typeof doc.pid === 'number' ? doc.pid : null,
        host: str(doc.host),
        client: typeof doc.client === 'object' && doc.client !== null ? (doc.client as Record<string, unknown>) : null,
        legacy: false,
      }
    }
  } catch {
    // fall through: an unreadable marker is still a lock
  }
  return legacyHolder(null)
}

function legacyHolder(pid: number | null): LockHolder {
  return {
    id: pid === null ? 'unknown-holder' : `legacy-pid-${pid}`,
    generation: 0,
    who: pid === null ? 'unknown (unreadable lock marker)' : `pid ${pid} (lock taken by the unobin Go tool)`,
    operation: '',
    info: '',
    principal: null,
    remote: null,
    created: null,
    expires: null,
    pid,
    host: null,
    client: null,
    legacy: true,
  }
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null
}

/** Serialises a release record. */
export function encodeRelease(release: ReleasedLock): Buffer {
  return Buffer.from(`${JSON.stringify({ ...release, holder: { ...release.holder, legacy: undefined } }, null, 2)}\n`)
}

/** Reads a release record; undefined when unreadable. */
export function decodeRelease(bytes: Buffer): ReleasedLock | undefined {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>
    // An unlock renames the marker itself into place: a bare holder is a release by unlock.
    if (doc.event === undefined && typeof doc.id === 'string') {
      const holder = decodeHolder(bytes)
      return { event: 'unlock', holder, generation: holder.generation, at: '' }
    }
    if (typeof doc.generation !== 'number' || typeof doc.holder !== 'object' || doc.holder === null) return undefined
    const event = doc.event
    if (event !== 'unlock' && event !== 'force-unlock' && event !== 'expired') return undefined
    return {
      event,
      holder: decodeHolder(Buffer.from(JSON.stringify(doc.holder))),
      generation: doc.generation,
      at: typeof doc.at === 'string' ? doc.at : '',
      by: typeof doc.by === 'string' ? doc.by : null,
      reason: typeof doc.reason === 'string' ? doc.reason : null,
    }
  } catch {
    return undefined
  }
}
