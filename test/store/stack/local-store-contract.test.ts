/** LocalStore keeps the Store contract: the shared suite over a fresh testdir per test. */
import t from 'tap'
import { ManualClock } from '../../helpers/clock.js'
import { makeRoot } from '../../helpers/store.js'
import { CONTRACT_START, storeContract } from '../store-contract.js'

storeContract(t, (t) => {
  const dir = t.testdir()
  const clock = new ManualClock(CONTRACT_START)
  const root = makeRoot(dir, { clock })
  t.teardown(() => root.close())
  return {
    store: root.stack('cluster-deploy', 'dev'),
    clock,
    waiting: () => root.waiting(),
    reopen: () => {
      const again = makeRoot(dir, { clock })
      t.teardown(() => again.close())
      return again.stack('cluster-deploy', 'dev')
    },
  }
})
