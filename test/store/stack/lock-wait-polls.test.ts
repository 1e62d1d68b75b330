/** LocalStore's lock wait polls on the store clock: a wait does not elapse while that clock stands still. */
import t from 'tap'
import { join } from 'node:path'
import { setup, until } from '../../helpers/local-store.js'

t.test('a wait does not elapse while the store clock stands still', async (t) => {
  // With the deadline on the wall clock, 20 polls of 5 ms would outlast the 30 ms wait.
  const { store, stackDir, fs } = setup(t, { pollMs: 5 })
  const holder = await store.lock({ who: 'a' }, {})
  const markerReads = () => fs.calls.filter((c) => c.method === 'open' && c.path === join(stackDir, 'lock')).length
  const seen = markerReads()
  let settled = false
  const waiter = store.lock({ who: 'b' }, {}, { waitMs: 30 }).finally(() => {
    settled = true
  })
  await until(() => markerReads() > seen + 20)
  t.notOk(settled, 'the waiter still waits after 20 polls')
  await store.unlock(holder.id)
  t.match(await waiter, { who: 'b' }, 'and gets the lock once it is released')
})
