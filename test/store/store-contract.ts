/**
 * The contract every Store keeps, as one suite an implementation runs with
 * its own harness (`storeContract(t, open)`): rev order and reads, current
 * and its conditions, idempotent delete, gc, the lock with its holder,
 * renew, unlock and force-unlock, fencing of mutations by lock id, leases
 * on the store's clock, lock waits, and the error codes of each refusal.
 * Nothing here knows how a store keeps its data: LocalStore runs it over a
 * testdir (test/store/stack/local-store-contract.test.ts), and a second
 * implementation runs it unchanged.
 */
import type { Test } from 'tap'
import type { OpenStack } from './contract/harness.js'
import { historyContract } from './contract/history.js'
import { lockContract } from './contract/lock.js'

export { CONTRACT_START, type ContractHarness, type OpenStack } from './contract/harness.js'

/** Runs every promise of the Store contract against the stacks `open` gives. */
export function storeContract(t: Test, open: OpenStack): void {
  historyContract(t, open)
  lockContract(t, open)
}
