/**
 * An unlock with a caller of this process waiting for the lock grants it in
 * its own critical section: the stack is never free in between, the waiter
 * gets what its own attempt would have given, and the release stands
 * whatever happens to the grant.
 */
import t from 'tap'
import { basename } from 'node:path'
import { isStateError } from '../../../src/errors.js'
import { setup, until } from '../../helpers/local-store.js'

// Waiters stay queued until an unlock takes them: the fallback poll never fires during a test.
const QUIET = { pollMs: 60_000 }
const WAIT = { waitMs: 30_000 }

/** What `promise` gives, with its failure caught at once (an unlock may settle a waiter before the test looks). */
function outcome<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  )
}

t.test(
  'the waiter holds the lock as soon as the unlock returns, taken without a mutex round trip of its own',
  async (t) => {
    const ctx = setup(t, QUIET)
    const holder = await ctx.store.lock({ who: 'first' }, {})
    const waiter = ctx.store.lock({ who: 'second' }, {}, WAIT)
    await until(() => ctx.store.waiting === 1)
    const calls = ctx.fs.calls.length
    const released = await ctx.store.unlock(holder.id)
    t.equal(released.id, holder.id)
    const during = ctx.fs.calls.slice(calls)
    // Before the waiter's own code runs again, the lock is already its own.
    const now = await ctx.store.inspectLock()
    t.equal(now?.who, 'second', 'the stack was never free in between')
    const got = await waiter
    t.equal(got.id, now?.id)
    t.equal(got.generation, holder.generation + 1, 'the next generation')
    t.equal((await ctx.store.lastRelease())?.holder.id, holder.id, 'the release is recorded')
    const links = during.filter((c) => c.method === 'link' && basename(c.path).includes('-mutex-')).length
    // At most one: the mutex may even be handed on from the waiter's own first attempt (see fs/mutex.ts).
    t.ok(links <= 1, 'one mutex acquisition for the release and the grant')
    const dirSyncs = during.filter((c) => c.method === 'sync' && c.path === ctx.stackDir).length
    t.equal(dirSyncs, 1, 'one fsync of the stack directory makes both durable')
  },
)

t.test('waiters are granted in the order they came, one per unlock', async (t) => {
  const ctx = setup(t, QUIET)
  const holder = await ctx.store.lock({ who: 'first' }, {})
  const second = ctx.store.lock({ who: 'second' }, {}, WAIT)
  await until(() => ctx.store.waiting === 1)
  const third = ctx.store.lock({ who: 'third' }, {}, WAIT)
  await until(() => ctx.store.waiting === 2)
  await ctx.store.unlock(holder.id)
  const got2 = await second
  t.equal(got2.who, 'second')
  t.equal((await ctx.store.inspectLock())?.id, got2.id, 'the third still waits')
  await ctx.store.unlock(got2.id)
  const got3 = await third
  t.equal(got3.who, 'third')
  t.equal(got3.generation, holder.generation + 2)
})

t.test(
  'a waiter whose id was granted before hears lock-id-reused; the unlock stands and the stack is free',
  async (t) => {
    const ctx = setup(t, QUIET)
    const used = await ctx.store.lock({ who: 'ci', id: 'job-1' }, {})
    await ctx.store.unlock(used.id)
    const holder = await ctx.store.lock({ who: 'first' }, {})
    const waiter = outcome(ctx.store.lock({ who: 'ci', id: 'job-1' }, {}, WAIT))
    await until(() => ctx.store.waiting === 1)
    await ctx.store.unlock(holder.id)
    const got = await waiter
    t.ok('error' in got && isStateError(got.error, 'lock-id-reused'), 'the waiter hears lock-id-reused')
    t.equal(await ctx.store.inspectLock(), undefined, 'nobody holds the lock')
    t.equal((await ctx.store.lastRelease())?.holder.id, holder.id, 'the release is recorded')
  },
)

t.test('a waiter that gave up before the unlock is not granted', async (t) => {
  const ctx = setup(t, QUIET)
  const holder = await ctx.store.lock({ who: 'first' }, {})
  const gone = new AbortController()
  const waiter = ctx.store.lock({ who: 'gone' }, {}, { ...WAIT, signal: gone.signal })
  await until(() => ctx.store.waiting === 1)
  gone.abort(new Error('client went away'))
  await t.rejects(waiter, { message: 'client went away' })
  await ctx.store.unlock(holder.id)
  t.equal(await ctx.store.inspectLock(), undefined, 'nobody holds the lock')
})

for (const errno of ['ENOSPC', 'EIO'] as const) {
  t.test(
    `a grant failing with ${errno} answers the waiter with it; the release is durable and the next lock works`,
    async (t) => {
      const ctx = setup(t, QUIET)
      const holder = await ctx.store.lock({ who: 'first' }, {})
      const waiter = outcome(ctx.store.lock({ who: 'second' }, {}, WAIT))
      await until(() => ctx.store.waiting === 1)
      // The waiter's marker is the next temp file written in the stack directory.
      ctx.fs.failNth(
        'writeFile',
        1,
        errno,
        (path) => path.startsWith(`${ctx.stackDir}/.tmp-`) && !path.includes('mutex'),
      )
      await ctx.store.unlock(holder.id)
      const got = await waiter
      const err = 'error' in got ? got.error : undefined
      t.ok(ctx.fs.fired, 'the fault was injected')
      t.ok(isStateError(err), 'the waiter hears a store error')
      t.equal((err as { code?: string }).code, errno === 'ENOSPC' ? 'no-space' : 'storage-failure')
      t.equal(await ctx.store.inspectLock(), undefined, 'nobody holds the lock')
      const dirSyncs = ctx.fs.calls.filter((c) => c.method === 'sync' && c.path === ctx.stackDir).length
      t.ok(dirSyncs >= 1, 'the release was made durable')
      ctx.fs.clear()
      const next = await ctx.store.lock({ who: 'second' }, {})
      t.equal(next.generation, holder.generation + 1)
    },
  )
}
