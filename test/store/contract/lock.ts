/**
 * The Store contract, part two: the lock with its holder, renew, unlock and
 * force-unlock, fencing by lock id, leases on the store's clock, and lock waits.
 */
import { codeOf, sampleSnapshot } from '../../helpers/store.js'
import type { Test } from 'tap'
import { CONTRACT_START, type OpenStack, STATE, until, visible, writeRevs } from './harness.js'

/** The lock promises of the Store contract, against the stacks `open` gives. */
export function lockContract(t: Test, open: OpenStack): void {
  t.test('lock excludes a second holder', async (t) => {
    const { store } = open(t)
    const holder = await store.lock(
      { who: 'ci-42', operation: 'apply', info: 'run 7' },
      { principal: 'token:ci', remote: '10.0.0.7' },
    )
    t.match(holder, {
      who: 'ci-42',
      operation: 'apply',
      info: 'run 7',
      principal: 'token:ci',
      remote: '10.0.0.7',
      created: CONTRACT_START,
      expires: null,
      pid: process.pid,
      host: 'test-host',
      generation: 1,
      legacy: false,
    })
    t.type(holder.id, 'string')
    await t.rejects(store.lock({ who: 'other' }, {}), {
      code: 'locked',
      details: {
        ...store.stack(),
        holder: { id: holder.id, who: 'ci-42', operation: 'apply', created: CONTRACT_START, generation: 1 },
      },
    })
    t.same(await store.inspectLock(), holder)
  })

  t.test('a holder keeps the client facts it claimed', async (t) => {
    const { store } = open(t)
    const client = {
      ID: 'tf-1',
      Operation: 'OperationTypeApply',
      Who: 'me@host',
      Version: '1.9.0',
      Created: '2026-07-10T12:00:00Z',
      Path: '',
    }
    const holder = await store.lock({ id: 'tf-1', client }, {})
    t.equal(holder.id, 'tf-1')
    t.same((await store.inspectLock())?.client, client)
  })

  t.test('unlock releases the lock and returns the holder', async (t) => {
    const { store } = open(t)
    const holder = await store.lock({ who: 'a' }, {})
    t.same(await store.unlock(holder.id), holder)
    t.equal(await store.inspectLock(), undefined)
    t.match(await store.lastRelease(), { event: 'unlock', holder: { id: holder.id }, generation: 1 })
  })

  t.test('unlock by the wrong id is locked and keeps the holder', async (t) => {
    const { store } = open(t)
    const holder = await store.lock({ who: 'a' }, {})
    await t.rejects(store.unlock('not-the-id'), { code: 'locked', details: { holder: { id: holder.id } } })
    t.equal((await store.inspectLock())?.id, holder.id)
  })

  t.test('a retried unlock of a lock just released by the same id succeeds', async (t) => {
    const { store } = open(t)
    const holder = await store.lock({ who: 'a' }, {})
    await store.unlock(holder.id)
    t.same(await store.unlock(holder.id), holder)
    t.equal(await store.inspectLock(), undefined)
  })

  t.test('unlock of an unknown id on a free stack is lock-not-held', async (t) => {
    const { store } = open(t)
    t.equal(await codeOf(store.unlock('nobody')), 'lock-not-held', 'on a fresh stack')
    await store.write(sampleSnapshot(), STATE)
    t.equal(await codeOf(store.unlock('nobody')), 'lock-not-held')
    const holder = await store.lock({}, {})
    await store.unlock(holder.id)
    t.equal(await codeOf(store.unlock('somebody-else')), 'lock-not-held', 'after another id unlocked')
  })

  t.test('generation grows at every acquisition and force-unlock and survives a reopen', async (t) => {
    const { store, clock, reopen } = open(t)
    t.equal(await store.generation(), 0)
    const first = await store.lock({}, {})
    t.equal(first.generation, 1)
    await store.unlock(first.id)
    t.equal(await store.generation(), 1, 'unlock does not bump it')
    const second = await store.lock({}, {})
    t.equal(second.generation, 2)
    await store.forceUnlock({ principal: 'ops' })
    t.equal(await store.generation(), 3)
    t.equal(await store.forceUnlock(), undefined, 'force-unlocking a free stack removes nobody')
    t.equal(await store.generation(), 3, 'and does not bump it')
    const third = await store.lock({}, {}, { ttlMs: 1000 })
    t.equal(third.generation, 4)
    clock.advanceMs(2000)
    const fourth = await store.lock({}, {})
    t.equal(fourth.generation, 5, 'taking over an expired lease is an acquisition')
    const again = reopen()
    t.equal(await again.generation(), 5)
    await again.unlock(fourth.id)
    t.equal((await again.lock({}, {})).generation, 6)
  })

  t.test('relocking with the same client id while held returns the same holder', async (t) => {
    const { store, clock } = open(t)
    const holder = await store.lock({ id: 'tf-lock-1', who: 'terraform' }, {})
    clock.advanceMs(1000)
    t.same(await store.lock({ id: 'tf-lock-1', who: 'terraform' }, {}), holder)
    t.equal(await store.generation(), 1, 'not a second acquisition')
    t.equal(await codeOf(store.lock({ id: 'tf-lock-2' }, {})), 'locked', 'another id is still refused')
  })

  t.test('while locked, every mutation must present the holder lock id', async (t) => {
    const { store } = open(t)
    const [a, b] = await writeRevs(store, 2)
    await store.setCurrent(a!)
    const holder = await store.lock({ who: 'a' }, {})
    for (const fence of [undefined, { lockId: 'wrong' }]) {
      t.equal(
        await codeOf(store.write(sampleSnapshot(), { ...STATE, fence })),
        'locked',
        `write ${JSON.stringify(fence)}`,
      )
      t.equal(await codeOf(store.setCurrent(b!, { fence })), 'locked', 'setCurrent')
      t.equal(await codeOf(store.delete(b!, { fence })), 'locked', 'delete')
      t.equal(await codeOf(store.gc({ keep: 0, fence })), 'locked', 'gc')
    }
    t.same(await store.list(), [a, b])
    const fence = { lockId: holder.id }
    const c = (await store.write(sampleSnapshot(3), { ...STATE, fence, makeCurrent: true })).rev
    t.same(await store.setCurrent(b!, { fence }), { previous: c })
    t.same(await store.delete(a!, { fence }), { deleted: true, clearedCurrent: false })
    t.same(await store.gc({ keep: 0, fence }), { deleted: [c], kept: [b] })
  })

  t.test('requireLock refuses a mutation of an unlocked stack as lock-required', async (t) => {
    const { store } = open(t)
    const rev = (await store.write(sampleSnapshot(), STATE)).rev
    const fence = { requireLock: true }
    t.equal(await codeOf(store.write(sampleSnapshot(), { ...STATE, fence })), 'lock-required')
    t.equal(await codeOf(store.setCurrent(rev, { fence })), 'lock-required')
    t.equal(await codeOf(store.delete(rev, { fence })), 'lock-required')
    t.equal(await codeOf(store.gc({ keep: 0, fence })), 'lock-required')
    t.same(await store.list(), [rev])
    const holder = await store.lock({}, {})
    t.type(
      (await store.write(sampleSnapshot(), { ...STATE, fence: { requireLock: true, lockId: holder.id } })).rev,
      'string',
    )
  })

  t.test('a lock id on an unlocked stack that never held it is lock-not-held', async (t) => {
    const { store } = open(t)
    t.equal(await codeOf(store.write(sampleSnapshot(), { ...STATE, fence: { lockId: 'made-up' } })), 'lock-not-held')
    t.same(await store.list(), [])
  })

  t.test('an expired lease frees the stack and fences out its old holder', async (t) => {
    const { store, clock } = open(t)
    await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })
    const old = await store.lock({ who: 'old' }, {}, { ttlMs: 60_000 })
    t.equal(old.expires, '2026-07-10T12:01:00Z')
    clock.advanceMs(60_001)
    t.equal(await store.inspectLock(), undefined)
    const next = await store.lock({ who: 'next' }, {})
    t.equal(next.generation, old.generation + 1)
    const before = await visible(store)
    t.equal(await codeOf(store.write(sampleSnapshot(2), { ...STATE, fence: { lockId: old.id } })), 'lock-lost')
    t.equal(await codeOf(store.setCurrent(before.list[0]!, { fence: { lockId: old.id } })), 'lock-lost')
    t.equal(await codeOf(store.renew(old.id, 60_000)), 'lock-lost')
    t.same(await visible(store), before, 'nothing changed')
    t.equal((await store.inspectLock())?.id, next.id)
  })

  t.test('a lost lock is still reported lost after later holders came and went', async (t) => {
    const { store, clock } = open(t)
    const old = await store.lock({ who: 'old' }, {}, { ttlMs: 1_000 })
    clock.advanceMs(1_001)
    const next = await store.lock({ who: 'next' }, {})
    await store.unlock(next.id) // the last release is now an ordinary unlock
    const forced = await store.lock({ who: 'forced' }, {})
    await store.forceUnlock({ principal: 'ops', reason: 'stuck runner' })
    await store.unlock((await store.lock({ who: 'later' }, {})).id)
    t.equal(
      await codeOf(store.write(sampleSnapshot(2), { ...STATE, fence: { lockId: old.id } })),
      'lock-lost',
      'the expired holder writes',
    )
    t.equal(await codeOf(store.renew(old.id, 1_000)), 'lock-lost', 'and renews')
    t.equal(await codeOf(store.unlock(forced.id)), 'lock-lost', 'the force-unlocked holder unlocks')
    t.equal(
      await codeOf(store.write(sampleSnapshot(2), { ...STATE, fence: { lockId: next.id } })),
      'lock-not-held',
      'a holder that unlocked itself is simply not holding',
    )
    t.same(await store.list(), [], 'nothing was written')
  })

  t.test('an expired lease nobody took over still fences out its old holder', async (t) => {
    const { store, clock } = open(t)
    await store.write(sampleSnapshot(), STATE)
    const old = await store.lock({ who: 'old' }, {}, { ttlMs: 1000 })
    clock.advanceMs(1000)
    t.equal(await store.inspectLock(), undefined)
    t.equal(await codeOf(store.write(sampleSnapshot(2), { ...STATE, fence: { lockId: old.id } })), 'lock-lost')
    t.equal(await codeOf(store.renew(old.id, 1000)), 'lock-lost')
    t.equal((await store.list()).length, 1)
    t.type((await store.write(sampleSnapshot(3), STATE)).rev, 'string', 'the stack is free for unfenced writes')
  })

  t.test('renew extends a lease from now', async (t) => {
    const { store, clock } = open(t)
    const holder = await store.lock({}, {}, { ttlMs: 1000 })
    clock.advanceMs(800)
    const renewed = await store.renew(holder.id, 1000)
    t.equal(renewed.expires, '2026-07-10T12:00:01.8Z')
    t.equal(renewed.generation, holder.generation)
    clock.advanceMs(800)
    t.equal((await store.inspectLock())?.id, holder.id, 'still held past the first expiry')
    t.same(
      await store.renew(holder.id, undefined),
      { ...renewed, expires: null },
      'a renew without ttl drops the lease',
    )
  })

  t.test('renew by an id that does not hold the lock is refused', async (t) => {
    const { store } = open(t)
    t.equal(await codeOf(store.renew('nobody', 1000)), 'lock-not-held', 'on a fresh stack')
    const holder = await store.lock({}, {})
    t.equal(await codeOf(store.renew('nobody', 1000)), 'locked')
    await store.unlock(holder.id)
    t.equal(await codeOf(store.renew(holder.id, 1000)), 'lock-not-held', 'after the holder unlocked')
  })

  t.test('after force-unlock the old holder is lock-lost', async (t) => {
    const { store } = open(t)
    const rev = (await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })).rev
    const old = await store.lock({ who: 'stuck' }, {})
    const removed = await store.forceUnlock({ principal: 'ops', reason: 'runner died' })
    t.same(removed, old)
    t.match(await store.lastRelease(), {
      event: 'force-unlock',
      by: 'ops',
      reason: 'runner died',
      generation: old.generation + 1,
      holder: { id: old.id },
    })

    const fence = { lockId: old.id }
    await t.rejects(store.write(sampleSnapshot(2), { ...STATE, fence }), {
      code: 'lock-lost',
      details: { lockId: old.id, event: 'force-unlock' },
    })
    t.equal(await codeOf(store.delete(rev, { fence, force: true })), 'lock-lost')
    t.equal(await codeOf(store.renew(old.id, 1000)), 'lock-lost')
    t.equal(await codeOf(store.unlock(old.id)), 'lock-lost')
    t.same(await store.list(), [rev])
    const next = await store.lock({ who: 'next' }, {})
    t.equal(
      await codeOf(store.write(sampleSnapshot(3), { ...STATE, fence })),
      'lock-lost',
      'also once someone else holds the lock',
    )
    t.equal(next.generation, old.generation + 2)
  })

  t.test('a waiting lock is granted when the holder unlocks', async (t) => {
    const { store, waiting } = open(t)
    const holder = await store.lock({ who: 'a' }, {})
    const events: string[] = []
    const waiter = store.lock({ who: 'b' }, {}, { waitMs: 5000 }).then((h) => {
      events.push('granted')
      return h
    })
    await until(() => waiting() > 0)
    t.same(events, [], 'the waiter is blocked while the lock is held')
    events.push('unlock')
    await store.unlock(holder.id)
    const granted = await waiter
    t.same(events, ['unlock', 'granted'])
    t.match(granted, { who: 'b', generation: holder.generation + 1 })
    t.equal((await store.inspectLock())?.id, granted.id)
  })

  t.test('a wait that elapses on the store clock is wait-timeout with the holder', async (t) => {
    const { store, clock, waiting } = open(t)
    const holder = await store.lock({ who: 'a' }, {})
    const waiter = store.lock({ who: 'b' }, {}, { waitMs: 30 })
    await until(() => waiting() > 0)
    clock.advanceMs(31)
    await t.rejects(waiter, { code: 'wait-timeout', details: { holder: { id: holder.id } } })
    t.equal((await store.inspectLock())?.id, holder.id)
  })

  t.test('aborting a wait rejects and leaves no lock behind', async (t) => {
    const { store, waiting } = open(t)
    const holder = await store.lock({ who: 'a' }, {})
    const controller = new AbortController()
    const waiter = store.lock({ who: 'b' }, {}, { waitMs: 5000, signal: controller.signal })
    await until(() => waiting() > 0)
    controller.abort()
    await t.rejects(waiter, { name: 'AbortError' })
    t.equal((await store.inspectLock())?.id, holder.id)
    await store.unlock(holder.id)
    t.equal(await store.inspectLock(), undefined, 'the aborted waiter did not take the lock')
    t.equal(await store.generation(), holder.generation)
  })

  t.test('a lock with an already aborted signal rejects without locking', async (t) => {
    const { store } = open(t)
    await t.rejects(store.lock({}, {}, { signal: AbortSignal.abort() }), { name: 'AbortError' })
    t.equal(await store.inspectLock(), undefined)
    t.equal(await store.generation(), 0)
  })
}
