/**
 * The errors the stack lock answers with, built in one place so every
 * refusal names the stack, the lock id and the holder the same way.
 */
import { StateError } from '../../errors.js'
import type { LockHolder, ReleasedLock } from '../store.js'
import type { StackDir } from './stack-dir.js'

/** One line saying who holds a lock and since when, for messages. */
export function describeHolder(holder: LockHolder): string {
  if (holder.legacy) return `held by ${holder.who}`
  const who = holder.who !== '' ? holder.who : (holder.principal ?? 'an unnamed client')
  const parts = [`held by ${who}`]
  if (holder.operation !== '') parts.push(`for ${holder.operation}`)
  if (holder.created !== null) parts.push(`since ${holder.created}`)
  parts.push(
    `(lock id ${holder.id}, generation ${holder.generation}${holder.expires !== null ? `, lease until ${holder.expires}` : ''})`,
  )
  return parts.join(' ')
}

/** `lock-not-held`: the stack is not locked with `id`. */
export function notHeld(dir: StackDir, id: string): StateError {
  return new StateError('lock-not-held', `${dir.name} is not locked with id ${id}`, { ...dir.where(), lockId: id })
}

/** `locked`: another holder has the lock (the holder goes into the details). */
export function locked(dir: StackDir, holder: LockHolder): StateError {
  return new StateError('locked', `${dir.name} is locked: ${describeHolder(holder)}`, { ...dir.where(), holder })
}

/** `lock-lost`: the caller's lock expired or was force-unlocked (and `holder` holds it now, if anyone). */
export function lost(dir: StackDir, release: ReleasedLock, holder?: LockHolder): StateError {
  const how =
    release.event === 'expired'
      ? `its lease expired at ${release.holder.expires ?? release.at}`
      : `it was force-unlocked at ${release.at}${release.by ? ` by ${release.by}` : ''}${release.reason ? ` (${release.reason})` : ''}`
  return new StateError(
    'lock-lost',
    `lock ${release.holder.id} on ${dir.name} is no longer held: ${how}. Nothing was changed; take the lock again and re-read the state before writing`,
    { ...dir.where(), lockId: release.holder.id, event: release.event, ...(holder ? { holder } : {}) },
  )
}

/** `wait-timeout`: the lock stayed held for the whole wait. */
export function waitTimeout(dir: StackDir, waitMs: number, holder: LockHolder): StateError {
  return new StateError(
    'wait-timeout',
    `${dir.name} stayed locked for the whole wait of ${Math.round(waitMs / 1000)} s: ${describeHolder(holder)}`,
    { ...dir.where(), holder },
  )
}

/** `lock-not-held` for a fenced change: the id presented does not hold the lock. */
export function fenceNotHeld(dir: StackDir, lockId: string): StateError {
  return new StateError(
    'lock-not-held',
    `${dir.name} is not locked with id ${lockId}: take the lock again before writing`,
    { ...dir.where(), lockId },
  )
}

/** `lock-required`: the server requires the lock for every change and none was presented. */
export function lockRequired(dir: StackDir): StateError {
  return new StateError(
    'lock-required',
    `this server requires holding the lock of ${dir.name} for every change, and no lock id was presented`,
    dir.where(),
  )
}

/** `lock-id-reused`: a client-chosen lock id that this stack granted before (released, expired or force-unlocked since). */
export function idReused(dir: StackDir, id: string, event: string | null): StateError {
  return new StateError(
    'lock-id-reused',
    `lock id ${id} was already granted on ${dir.name}${event === null ? '' : ` and ended (${event})`}: a lock id is granted once, so an old holder's writes cannot come back. Lock again with a new id`,
    { ...dir.where(), lockId: id, ...(event === null ? {} : { event }) },
  )
}
