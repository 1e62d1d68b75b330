/** The three-replica torture's model: its sizes, the request record, the counter document, and their helpers. */
import type { Answer } from '../../helpers/http-call.js'
import { sized } from '../../helpers/torture.js'

export const SERVERS = 3
export const STACKS = ['alpha', 'beta'] as const
export const LOCKERS_PER_SERVER = sized(1, 2) // per stack
export const CYCLES = sized(8, 40) // per locker
export const READERS_PER_SERVER = 1 // per stack
export const FACTORY = 'replicas'
/** The longest a locker's lock request waits before it is asked again (423 wait-timeout). */
export const WAIT_S = 30
/** The lease of the cycles that take one: long enough never to lapse during a cycle. */
export const TTL_S = 120

export type Stack = (typeof STACKS)[number]
export type Op = 'lock' | 'read' | 'renew' | 'intrude' | 'write' | 'unlock' | 'get-current' | 'get-lock'

/** One request as the test saw it. */
export interface Rec {
  readonly client: string
  readonly server: number
  readonly stack: Stack
  readonly op: Op
  /** performance.now() just before the request was sent, and once its whole answer was read. */
  readonly inv: number
  readonly comp: number
  readonly status: number
  readonly code: string | undefined
  /** Facts of the answer: rev (write, ETag of current), generation and lock id (lock answers), value (current). */
  readonly rev?: string | undefined
  readonly generation?: number | undefined
  readonly lockId?: string | undefined
  readonly who?: string | undefined
  readonly value?: number | undefined
  readonly writer?: string | undefined
}

/** One lock cycle of a locker: its requests, in order. */
export interface Cycle {
  readonly stack: Stack
  readonly client: string
  readonly lock: Rec
  readonly read: Rec
  readonly write: Rec
  readonly unlock: Rec
  /** The value written (the value read plus one). */
  readonly value: number
}

export function stackPath(stack: Stack): string {
  return `/v1/factories/${FACTORY}/stacks/${stack}`
}

/** The counter document: a valid unobin snapshot carrying `value` and who wrote it under which lock. */
export function counterDoc(stack: Stack, value: number, writer: string, lockId: string): Buffer {
  const doc = {
    'format-version': 1,
    factory: { name: FACTORY, version: '1.0.0', 'content-revision': 'sha256:torture' },
    stack,
    'generated-at': '2026-07-10T12:00:00Z',
    entries: [
      {
        address: 'counter.value',
        'entry-kind': 'leaf',
        category: 'resource',
        binding: { alias: 'local', kind: 'counter' },
        outputs: { value: String(value) },
      },
    ],
    outputs: { value: String(value), writer, 'lock-id': lockId },
  }
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`)
}

/** The value and writer of a counter document (value 0 = no current). */
export function counterOf(answer: Answer): { value: number | undefined; writer: string | undefined } {
  const value = Number(answer.body?.outputs?.value)
  return { value: Number.isInteger(value) ? value : undefined, writer: answer.body?.outputs?.writer }
}

/** The largest index i with key(items[i]) < bound, or -1 (items sorted by key). */
export function lastBefore<T>(items: readonly T[], key: (item: T) => number, bound: number): number {
  let lo = 0
  let hi = items.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (key(items[mid]!) < bound) lo = mid + 1
    else hi = mid
  }
  return lo - 1
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
