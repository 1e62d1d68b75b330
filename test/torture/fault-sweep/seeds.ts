/** The fault sweep's seeded stacks: the constants, the request shapes, and the seeds every mutation path starts from. */
import type { LightMyRequestResponse } from 'fastify'
import { Keyring } from '../../../src/crypto/keyring.js'
import { keyFromEnv } from '../../../src/crypto/keys.js'
import type { App } from '../../../src/http/app-type.js'
import { stackUrl } from '../../helpers/app.js'
import type { ManualClock } from '../../helpers/clock.js'
import type { FaultCode, FaultyFs } from '../../helpers/faulty-fs.js'
import { stateFile } from '../../helpers/go/backend.js'
import { makeRoot, sampleSnapshot } from '../../helpers/store.js'
import { SEED, sized } from '../../helpers/torture.js'

export const FACTORY = 'f'
export const JSON_TYPE = { 'content-type': 'application/json' }
export const OLD = keyFromEnv({ SWEEP_KEY_OLD: Buffer.alloc(32, 'o').toString('base64') }, 'SWEEP_KEY_OLD')
export const NEW = keyFromEnv({ SWEEP_KEY_NEW: Buffer.alloc(32, 'n').toString('base64') }, 'SWEEP_KEY_NEW')
export const LINEAGE = 'sweep-lineage'
/** The LockInfo ID Terraform sends on the seeded Terraform lock (and on the LOCK paths). */
export const TF_LOCK_ID = '5d3c1a7e-0b7a-4c43-9f0e-2f4b1e7c9a10'

/** The errnos the sweep injects: a full volume and a failing disk. */
export type SweptCode = Extract<FaultCode, 'ENOSPC' | 'EIO'>

/** What each errno must answer. */
export const EXPECTED: Record<SweptCode, { status: number; code: string }> = {
  ENOSPC: { status: 507, code: 'no-space' },
  EIO: { status: 500, code: 'storage-failure' },
}
export const CODES: readonly SweptCode[] = ['ENOSPC', 'EIO']

/** The codes tried at fault N: both in long mode; in short mode one, alternating by N (the seed picks the first). */
export function codesFor(n: number): readonly SweptCode[] {
  return sized([CODES[(n + SEED) % 2]!], CODES)
}

/** A Terraform LockInfo as the clients send it. */
export function lockInfo(): Buffer {
  return Buffer.from(
    JSON.stringify({
      ID: TF_LOCK_ID,
      Operation: 'OperationTypeApply',
      Info: '',
      Who: 'ci@runner',
      Version: '1.9.0',
      Created: '2026-07-10T12:00:00Z',
      Path: '',
    }),
  )
}

/** What one sweep works with: the app, its faulty filesystem, its frozen clock and its data dir. */
export interface Ctx {
  readonly app: App
  readonly fs: FaultyFs
  readonly clock: ManualClock
  readonly dir: string
}

// --- seeds -------------------------------------------------------------------

/** The seeded stacks the paths start from. */
export type Shape = 'history' | 'locked' | 'expired' | 'pruned' | 'terraform' | 'terraform-locked' | 'sealed-old'

/** What a seed knows about its stack: its revs in order with their bytes, and the id of a held lock. */
export interface Facts {
  readonly revs: readonly string[]
  readonly bodies: ReadonlyMap<string, Buffer>
  readonly lockId?: string
}

/** One request, relative to the stack's base path; `writes` is the snapshot body it stores. */
export interface Call {
  readonly method: string
  readonly path: string
  readonly headers?: Record<string, string>
  readonly payload?: Buffer | Record<string, unknown>
  readonly writes?: Buffer
}

/** The answer of a seeding request, which must succeed. */
export async function ok(
  res: LightMyRequestResponse | Promise<LightMyRequestResponse>,
  what: string,
): Promise<LightMyRequestResponse> {
  const r = await res
  if (r.statusCode >= 300) throw new Error(`seeding: ${what} answered ${r.statusCode}: ${r.body}`)
  return r
}

/**
 * Builds stack `stack` in shape `shape` through the app (fault off), advancing
 * the clock a second per write so revs carry distinct instants.
 */
export async function seed(ctx: Ctx, shape: Shape, stack: string): Promise<Facts> {
  const { app, clock } = ctx
  const base = stackUrl(FACTORY, stack)
  const revs: string[] = []
  const bodies = new Map<string, Buffer>()
  const write = async (body: Buffer, current: boolean) => {
    clock.advanceMs(1000)
    const res = await ok(
      app.inject({
        method: 'POST',
        url: `${base}/snapshots${current ? '?current=true' : ''}`,
        headers: JSON_TYPE,
        payload: body,
      }),
      'a seed write',
    )
    const rev = res.json<{ rev: string }>().rev
    revs.push(rev)
    bodies.set(rev, body)
  }
  const tfWrite = async (serial: number) => {
    clock.advanceMs(1000)
    const body = stateFile(serial, LINEAGE)
    const res = await ok(
      app.inject({ method: 'POST', url: `${base}/terraform`, headers: JSON_TYPE, payload: body }),
      'a seed Terraform write',
    )
    const rev = res.json<{ rev: string }>().rev
    revs.push(rev)
    bodies.set(rev, body)
  }
  const lock = async (body: Record<string, unknown>) =>
    (await ok(app.inject({ method: 'POST', url: `${base}/lock`, payload: body }), 'a seed lock')).json<{ id: string }>()
      .id
  switch (shape) {
    case 'history':
    case 'locked':
    case 'expired': {
      for (let i = 0; i < 3; i++) await write(sampleSnapshot(`${stack}-${i}`), true)
      if (shape === 'locked')
        return { revs, bodies, lockId: await lock({ who: 'holder', operation: 'apply', info: 'seeded' }) }
      // The lease runs out when the clock jumps after seeding (at the end of this file).
      if (shape === 'expired') return { revs, bodies, lockId: await lock({ who: 'gone', operation: 'apply', ttl: 1 }) }
      return { revs, bodies }
    }
    case 'pruned': {
      // Four revs, the two oldest pruned to the trash: they are past the trash window once the clock jumps.
      for (let i = 0; i < 4; i++) await write(sampleSnapshot(`${stack}-${i}`), true)
      await ok(app.inject({ method: 'POST', url: `${base}/snapshots:prune`, payload: { keep: 2 } }), 'a seed prune')
      return { revs, bodies }
    }
    case 'terraform':
    case 'terraform-locked': {
      await tfWrite(1)
      await tfWrite(2)
      if (shape === 'terraform') return { revs, bodies }
      await ok(
        app.inject({ method: 'LOCK', url: `${base}/terraform`, headers: JSON_TYPE, payload: lockInfo() }),
        'a seed Terraform LOCK',
      )
      return { revs, bodies, lockId: TF_LOCK_ID }
    }
    case 'sealed-old': {
      // Revs sealed with the old key by a root that knows only it: the re-seal path's input.
      const old = makeRoot(ctx.dir, { encrypter: new Keyring(OLD), clock })
      for (let i = 0; i < 3; i++) {
        clock.advanceMs(1000)
        const body = sampleSnapshot(`${stack}-${i}`)
        const rev = (await old.stack(FACTORY, stack).write(body, { payloadType: 'state', makeCurrent: true })).rev
        revs.push(rev)
        bodies.set(rev, body)
      }
      old.close()
      return { revs, bodies }
    }
  }
}
