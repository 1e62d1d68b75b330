/** The Store contract's harness: what an implementation gives the suite for one fresh stack, and the helpers its tests share. */
import { waitFor } from '../../helpers/wait.js'
import { isStateError } from '../../../src/errors.js'
import type { ManualClock } from '../../helpers/clock.js'
import { sampleSnapshot } from '../../helpers/store.js'
import type { ManagedStore, Store } from '../../../src/store/store.js'
import type { Test } from 'tap'

/** The instant a harness's clock shows when its stack is opened. */
export const CONTRACT_START = '2026-07-10T12:00:00Z'

/** What the suite needs of an implementation, for one fresh stack. */
export interface ContractHarness {
  readonly store: ManagedStore
  /** The store's clock, at CONTRACT_START: leases and waits elapse when the suite advances it. */
  readonly clock: ManualClock
  /** Lock waiters blocked right now (each after at least one attempt). */
  waiting(): number
  /** The same stack opened afresh, as a restarted server would open it. */
  reopen(): ManagedStore
}

/** Opens a fresh stack for one test (anything it builds is closed with `t`). */
export type OpenStack = (t: Test) => ContractHarness

/** What a client sees of a stack: revs, current (or its error code) and the lock holder's id. */
export async function visible(store: Store): Promise<{ list: string[]; current: string; lock: string | null }> {
  const current = await store.currentRev().catch((err: unknown) => `<${isStateError(err) ? err.code : String(err)}>`)
  return { list: await store.list(), current, lock: (await store.inspectLock())?.id ?? null }
}

/** Writes `count` revs; returns them in write order. */
export async function writeRevs(store: Store, count: number): Promise<string[]> {
  const revs: string[] = []
  for (let i = 0; i < count; i++) revs.push((await store.write(sampleSnapshot(i), STATE)).rev)
  return revs
}

/** Waits until `condition` holds; fails after a generous guard (not a timing claim). */
export async function until(condition: () => boolean): Promise<void> {
  await waitFor(condition, 30_000, 'the condition')
}

export const STATE = { payloadType: 'state' } as const
