/** The fault sweep's mutation paths: every route that changes a stack, with the stack it starts from. */
import { stateFile } from '../../helpers/go/backend.js'
import { sampleSnapshot } from '../../helpers/store.js'
import { type Call, type Facts, JSON_TYPE, LINEAGE, type Shape, lockInfo } from './seeds.js'

// --- the mutation paths ------------------------------------------------------

/** A mutation route: the stack it starts from, the request, and the status it answers without faults. */
export interface MutationPath {
  readonly name: string
  readonly shape: Shape
  readonly request: (facts: Facts) => Call
  readonly success: number
}

export const lockIdOf = (f: Facts): string => {
  if (f.lockId === undefined) throw new Error('this path needs a seeded lock')
  return f.lockId
}
export const rev = (f: Facts, i: number): string => f.revs.at(i)!
export const snapshotWrite = (path: string, body: Buffer, headers: Record<string, string> = {}): Call => ({
  method: 'POST',
  path,
  headers: { ...JSON_TYPE, ...headers },
  payload: body,
  writes: body,
})
export const tfWrite = (path: string, serial: number): Call => {
  const body = stateFile(serial, LINEAGE)
  return { method: 'POST', path, headers: JSON_TYPE, payload: body, writes: body }
}

export const PATHS: readonly MutationPath[] = [
  // Writes: a new rev (leaving current), a new current, and the holder's fenced write.
  {
    name: 'POST snapshots',
    shape: 'history',
    success: 201,
    request: () => snapshotWrite('/snapshots', sampleSnapshot('sweep')),
  },
  {
    name: 'POST snapshots?current=true',
    shape: 'history',
    success: 201,
    request: () => snapshotWrite('/snapshots?current=true', sampleSnapshot('sweep')),
  },
  {
    name: 'POST snapshots?current=true fenced by Lock-Id',
    shape: 'locked',
    success: 201,
    request: (f) => snapshotWrite('/snapshots?current=true', sampleSnapshot('sweep'), { 'lock-id': lockIdOf(f) }),
  },
  // The current pointer: rollback, and a CAS rollback by the holder.
  {
    name: 'PUT current (rollback)',
    shape: 'history',
    success: 200,
    request: (f) => ({ method: 'PUT', path: '/current', payload: { rev: rev(f, 0) } }),
  },
  {
    name: 'PUT current (If-Match, fenced by Lock-Id)',
    shape: 'locked',
    success: 200,
    request: (f) => ({
      method: 'PUT',
      path: '/current',
      headers: { 'if-match': `"${rev(f, -1)}"`, 'lock-id': lockIdOf(f) },
      payload: { rev: rev(f, 1) },
    }),
  },
  // History: delete an old rev, force-delete the current one, gc, prune (with a purge), restore.
  {
    name: 'DELETE snapshots/{rev}',
    shape: 'history',
    success: 200,
    request: (f) => ({ method: 'DELETE', path: `/snapshots/${rev(f, 0)}` }),
  },
  {
    name: 'DELETE snapshots/{rev} fenced by Lock-Id',
    shape: 'locked',
    success: 200,
    request: (f) => ({ method: 'DELETE', path: `/snapshots/${rev(f, 1)}`, headers: { 'lock-id': lockIdOf(f) } }),
  },
  {
    name: 'DELETE snapshots/{current}?force=true',
    shape: 'history',
    success: 200,
    request: (f) => ({ method: 'DELETE', path: `/snapshots/${rev(f, -1)}?force=true` }),
  },
  {
    name: 'POST snapshots:gc',
    shape: 'history',
    success: 200,
    request: () => ({ method: 'POST', path: '/snapshots:gc', payload: { keep: 1 } }),
  },
  {
    name: 'POST snapshots:gc fenced by Lock-Id',
    shape: 'locked',
    success: 200,
    request: (f) => ({
      method: 'POST',
      path: '/snapshots:gc',
      headers: { 'lock-id': lockIdOf(f) },
      payload: { keep: 1 },
    }),
  },
  {
    name: 'POST snapshots:prune (and purge)',
    shape: 'pruned',
    success: 200,
    request: () => ({ method: 'POST', path: '/snapshots:prune', payload: { keep: 1 } }),
  },
  {
    name: 'POST snapshots:restore',
    shape: 'pruned',
    success: 200,
    request: (f) => ({ method: 'POST', path: '/snapshots:restore', payload: { rev: rev(f, 1) } }),
  },
  // The lock: take (free, and over an expired lease), renew, unlock, force-unlock.
  {
    name: 'POST lock',
    shape: 'history',
    success: 201,
    request: () => ({ method: 'POST', path: '/lock', payload: { who: 'sweep', operation: 'apply' } }),
  },
  {
    name: 'POST lock over an expired lease',
    shape: 'expired',
    success: 201,
    request: () => ({ method: 'POST', path: '/lock', payload: { who: 'sweep', operation: 'apply' } }),
  },
  {
    name: 'PUT lock (renew)',
    shape: 'locked',
    success: 200,
    request: (f) => ({ method: 'PUT', path: '/lock', payload: { id: lockIdOf(f), ttl: 600 } }),
  },
  {
    name: 'DELETE lock?id=',
    shape: 'locked',
    success: 200,
    request: (f) => ({ method: 'DELETE', path: `/lock?id=${lockIdOf(f)}` }),
  },
  {
    name: 'DELETE lock?force=true',
    shape: 'locked',
    success: 200,
    request: () => ({ method: 'DELETE', path: '/lock?force=true&reason=sweep' }),
  },
  // Terraform: writes (free and fenced by ?ID=), LOCK/UNLOCK on both addresses, force-unlock, DELETE.
  { name: 'Terraform POST state', shape: 'terraform', success: 200, request: () => tfWrite('/terraform', 3) },
  {
    name: 'Terraform POST state?ID=',
    shape: 'terraform-locked',
    success: 200,
    request: (f) => tfWrite(`/terraform?ID=${lockIdOf(f)}`, 3),
  },
  {
    name: 'Terraform LOCK',
    shape: 'terraform',
    success: 200,
    request: () => ({ method: 'LOCK', path: '/terraform', headers: JSON_TYPE, payload: lockInfo() }),
  },
  {
    name: 'Terraform POST terraform/lock',
    shape: 'terraform',
    success: 200,
    request: () => ({ method: 'POST', path: '/terraform/lock', headers: JSON_TYPE, payload: lockInfo() }),
  },
  {
    name: 'Terraform UNLOCK',
    shape: 'terraform-locked',
    success: 200,
    request: () => ({ method: 'UNLOCK', path: '/terraform', headers: JSON_TYPE, payload: lockInfo() }),
  },
  {
    name: 'Terraform DELETE terraform/lock',
    shape: 'terraform-locked',
    success: 200,
    request: () => ({ method: 'DELETE', path: '/terraform/lock', headers: JSON_TYPE, payload: lockInfo() }),
  },
  {
    name: 'Terraform force-unlock (UNLOCK, empty body)',
    shape: 'terraform-locked',
    success: 200,
    request: () => ({ method: 'UNLOCK', path: '/terraform' }),
  },
  {
    name: 'Terraform DELETE state',
    shape: 'terraform',
    success: 200,
    request: () => ({ method: 'DELETE', path: '/terraform' }),
  },
  // Key rotation: re-seal every rev (no client sees a change; the envelopes on disk name the new key).
  {
    name: 'POST snapshots:reseal',
    shape: 'sealed-old',
    success: 200,
    request: () => ({ method: 'POST', path: '/snapshots:reseal' }),
  },
]
