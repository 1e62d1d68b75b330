import t from 'tap'
import { type FsOps, nodeFs } from '../../src/fs/fs-ops.js'
import { StoreRoot } from '../../src/store/store-root.js'
import { NoopEncrypter } from '../../src/crypto/noop.js'
import { SystemClock } from '../../src/clock.js'
import { UNOBIN_PAYLOAD } from '../../src/store/envelope.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'
import { waitFor } from '../helpers/wait.js'

/** The real filesystem without directory watches: a lock waiter is then woken only by this process's release (or its poll). */
const noWatchFs: FsOps = {
  ...nodeFs,
  watch: (() => {
    throw new Error('watch disabled by the test')
  }) as unknown as FsOps['watch'],
}

function rootOf(dir: string, options: { maxIdleStacks?: number; pollMs?: number; fs?: FsOps } = {}): StoreRoot {
  return new StoreRoot({
    root: dir,
    encrypter: new NoopEncrypter(),
    clock: new SystemClock(),
    identity: { pid: process.pid, host: 'test-host' },
    ...options,
  })
}

t.test('reading stacks that do not exist leaves no handle behind', async (t) => {
  const root = makeRoot(t.testdir())
  for (let i = 0; i < 50; i++) {
    const store = root.stack('f', `missing-${i}`)
    t.same(await store.list(), [])
    await t.rejects(store.currentRev(), { code: 'no-current' })
  }
  t.equal(root.handles(), 0)
})

t.test('idle handles of existing stacks are bounded by maxIdleStacks, least recently used dropped first', async (t) => {
  const root = rootOf(t.testdir(), { maxIdleStacks: 3 })
  const revs = new Map<string, string>()
  for (const name of ['a', 'b', 'c'])
    revs.set(name, (await root.stack('f', name).write(sampleSnapshot(name), { payloadType: UNOBIN_PAYLOAD })).rev)
  const a = root.stack('f', 'a') // a is now the most recently used
  const b = root.stack('f', 'b')
  await root.stack('f', 'd').write(sampleSnapshot('d'), { payloadType: UNOBIN_PAYLOAD }) // drops c
  t.equal(root.handles(), 3)
  t.equal(root.stack('f', 'a'), a, 'a recently used handle is kept')
  t.equal(root.stack('f', 'b'), b)
  t.same(await root.stack('f', 'c').list(), [revs.get('c')], 'a dropped handle comes back with the same disk state')
  t.ok(root.handles() <= 3)
})

t.test('a handle made afresh reads what another handle wrote after it memoized current', async (t) => {
  const dir = t.testdir()
  const root = rootOf(dir, { maxIdleStacks: 1 })
  const first = root.stack('f', 's')
  const { rev: one } = await first.write(sampleSnapshot(1), { payloadType: UNOBIN_PAYLOAD, makeCurrent: true })
  t.equal(await first.currentRev(), one)
  await root.stack('f', 'other').write(sampleSnapshot(2), { payloadType: UNOBIN_PAYLOAD }) // drops f/s
  const elsewhere = makeRoot(dir) // another process on the volume
  const { rev: three } = await elsewhere
    .stack('f', 's')
    .write(sampleSnapshot(3), { payloadType: UNOBIN_PAYLOAD, makeCurrent: true })
  const again = root.stack('f', 's')
  t.not(again, first, 'the idle handle was dropped')
  t.equal(await again.currentRev(), three)
  t.equal((await again.current()).body.toString(), sampleSnapshot(3).toString())
  t.equal(await first.currentRev(), three, 'the dropped handle still reads the disk too')
})

t.test('a lock waiter keeps its handle and is woken by a release through a handle made afresh', async (t) => {
  const root = rootOf(t.testdir(), { maxIdleStacks: 1, pollMs: 600_000, fs: noWatchFs })
  const holder = root.stack('f', 's')
  const held = await holder.lock({ who: 'first' }, {})
  await root.stack('f', 'x').lock({ who: 'x' }, {}) // drops the idle holder's handle
  const waiterStore = root.stack('f', 's')
  t.not(waiterStore, holder)
  const waiter = waiterStore.lock({ who: 'second' }, {}, { waitMs: 600_000 })
  await waitFor(() => root.waiting() === 1, 30_000, 'the lock request to wait')
  for (const name of ['y', 'z']) await root.stack('f', name).lock({ who: name }, {}) // would drop f/s if idle
  t.equal(root.stack('f', 's'), waiterStore, 'a handle with a waiter is never dropped')
  t.equal(root.waiting(), 1)
  await holder.unlock(held.id) // through the dropped handle: the waiter must still hear it
  const guard = new Promise<'missed'>((resolve) => setTimeout(resolve, 60_000, 'missed').unref())
  const outcome = await Promise.race([waiter, guard])
  t.not(outcome, 'missed', 'the waiter was woken by the release, not by a poll 10 minutes later')
  t.equal(root.waiting(), 0)
})
