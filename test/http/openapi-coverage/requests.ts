/** Fresh stacks and the setup requests the scenarios build on (writes, locks, Terraform state). */
import { join } from 'node:path'
import { UNOBIN_PAYLOAD } from '../../../src/store/envelope.js'
import { stackUrl } from '../../helpers/app.js'
import { lockInfo, terraformState } from '../../helpers/auth.js'
import { sampleSnapshot } from '../../helpers/store.js'
import type { Built, Method, Response } from './scenario.js'

// --- stacks and requests --------------------------------------------------------

export const JSON_TYPE = { 'content-type': 'application/json' }
export const SOME_REV = '2026-07-10T12:00:00Z'

/** A stack no other scenario touches. */
export interface Stack {
  readonly factory: string
  readonly stack: string
  readonly url: string
  /** Its directory in `b`'s data directory. */
  readonly dir: string
}

let stacks = 0
/** A stack name no other scenario uses. */
export const nextStackName = (): string => `s${++stacks}`
/** A fresh stack of `b`. */
export function fresh(b: Built): Stack {
  const stack = `s${++stacks}`
  return { factory: 'cov', stack, url: stackUrl('cov', stack), dir: join(b.dir, 'cov', stack) }
}

export interface RequestOptions {
  /** A JSON body (sent with application/json). */
  readonly json?: unknown
  /** A body sent as is. */
  readonly raw?: string | Buffer
  readonly headers?: Record<string, string>
}

export function send(b: Built, method: Method, url: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {
    ...(options.json !== undefined || options.raw !== undefined ? JSON_TYPE : {}),
    ...options.headers,
  }
  const payload = options.json !== undefined ? JSON.stringify(options.json) : options.raw
  return b.app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) })
}

/** Awaits a setup request and throws (failing the scenario) unless it answered `status`. */
export async function expectSetup(pending: Promise<Response>, status: number, what: string): Promise<Response> {
  const res = await pending
  if (res.statusCode !== status)
    throw new Error(`setup step "${what}" answered ${res.statusCode}, not ${status}: ${res.body.slice(0, 300)}`)
  return res
}

let markers = 0
/** A marker no other snapshot carries. */
export const nextMarker = (): number => ++markers
/** Writes a unobin snapshot through the API; returns its rev. */
export async function writeRev(
  b: Built,
  s: Stack,
  options: { current?: boolean; lockId?: string } = {},
): Promise<string> {
  const query = options.current === false ? '' : '?current=true'
  const res = await expectSetup(
    send(b, 'POST', `${s.url}/snapshots${query}`, {
      raw: sampleSnapshot(++markers),
      headers: options.lockId === undefined ? {} : { 'lock-id': options.lockId },
    }),
    201,
    'writing a rev',
  )
  return (res.json() as { rev: string }).rev
}

/** Writes a rev straight through the store (no fence): seeds the requireLock app. */
export async function seedRev(b: Built, s: Stack): Promise<string> {
  return (
    await b.root
      .stack(s.factory, s.stack)
      .write(sampleSnapshot(++markers), { payloadType: UNOBIN_PAYLOAD, makeCurrent: true })
  ).rev
}

/** Takes the lock of a stack; returns its id. */
export async function takeLock(b: Built, s: Stack, body: Record<string, unknown> = {}): Promise<string> {
  const res = await expectSetup(send(b, 'POST', `${s.url}/lock`, { json: body }), 201, 'taking the lock')
  return (res.json() as { id: string }).id
}

export async function forceUnlock(b: Built, s: Stack): Promise<void> {
  await expectSetup(send(b, 'DELETE', `${s.url}/lock?force=true&reason=coverage`), 200, 'force-unlocking')
}

/** Writes Terraform state through the Terraform route. */
export async function writeState(b: Built, s: Stack, serial = 1): Promise<void> {
  await expectSetup(
    send(b, 'POST', `${s.url}/terraform`, { raw: terraformState(serial) }),
    200,
    'writing Terraform state',
  )
}

/** Takes the lock the Terraform way (POST …/terraform/lock with a LockInfo). */
export async function terraformLock(b: Built, s: Stack, id: string): Promise<void> {
  await expectSetup(
    send(b, 'POST', `${s.url}/terraform/lock`, { raw: lockInfo(id) }),
    200,
    'taking the lock with a LockInfo',
  )
}

let lockIds = 0
export const newLockId = (): string => `0c0ffee0-0000-4000-8000-${String(++lockIds).padStart(12, '0')}`
