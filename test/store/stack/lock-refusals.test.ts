/**
 * A lock attempt that is refused changes nothing, even when the stack's
 * lock has expired: reaping the expired lock (recording it lost, removing
 * its marker) happens only for an attempt that will be granted.
 */
import t from 'tap'
import { isStateError } from '../../../src/errors.js'
import { fileTree, setup } from '../../helpers/local-store.js'

for (const reused of ['released', 'expired'] as const) {
  t.test(
    `a lock with a ${reused} id on a stack whose lock expired is refused and leaves the stack as it was`,
    async (t) => {
      const ctx = setup(t)
      const released = await ctx.store.lock({ who: 'ci', id: 'job-1' }, {})
      await ctx.store.unlock(released.id)
      const expired = await ctx.store.lock({ who: 'ci', id: 'job-2' }, {}, { ttlMs: 1_000 })
      ctx.clock.advanceMs(5_000)
      const before = fileTree(ctx.stackDir)
      const id = reused === 'released' ? 'job-1' : 'job-2'
      const err = await ctx.store.lock({ who: 'ci', id }, {}).then(
        () => undefined,
        (e: unknown) => e,
      )
      t.ok(isStateError(err, 'lock-id-reused'), 'refused: lock-id-reused')
      t.same(fileTree(ctx.stackDir), before, 'the expired lock is still there, not recorded lost')
      // A new id is granted, and only then is the expired lock reaped.
      const next = await ctx.store.lock({ who: 'ci', id: 'job-3' }, {})
      t.equal(next.generation, expired.generation + 1)
      t.equal((await ctx.store.lastRelease())?.event, 'expired')
      t.equal((await ctx.store.lastRelease())?.holder.id, expired.id)
    },
  )
}
