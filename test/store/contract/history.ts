/** The Store contract, part one: revs and their order, reads, current and its conditions, delete and gc. */
import { codeOf, sampleSnapshot } from '../../helpers/store.js'
import type { Test } from 'tap'
import { CONTRACT_START, type OpenStack, STATE, writeRevs } from './harness.js'

/** The history promises of the Store contract, against the stacks `open` gives. */
export function historyContract(t: Test, open: OpenStack): void {
  t.test('write stores a new rev without moving current', async (t) => {
    const { store } = open(t)
    const first = (await store.write(sampleSnapshot(1), STATE)).rev
    t.equal(await codeOf(store.currentRev()), 'no-current')
    await store.setCurrent(first)
    const second = (await store.write(sampleSnapshot(2), STATE)).rev
    t.same(await store.list(), [first, second])
    t.equal(await store.currentRev(), first)
    t.ok((await store.get(second)).body.equals(sampleSnapshot(2)))
  })

  t.test('setCurrent moves current and reports the previous rev', async (t) => {
    const { store } = open(t)
    const [a, b] = await writeRevs(store, 2)
    t.same(await store.setCurrent(a!), { previous: null })
    t.same(await store.setCurrent(b!), { previous: a })
    t.same(await store.setCurrent(a!), { previous: b }, 'rolling back to an older rev')
    t.equal(await store.currentRev(), a)
  })

  t.test('write stores a terraform-state body byte-exact without unobin validation', async (t) => {
    const { store } = open(t)
    const body = Buffer.from('{"version":4,"serial":1,"lineage":"x"}  \n')
    const rev = (await store.write(body, { payloadType: 'terraform-state' })).rev
    const snapshot = await store.get(rev)
    t.equal(snapshot.payloadType, 'terraform-state')
    t.ok(snapshot.body.equals(body))
  })

  t.test('get of a rev that is not stored is rev-not-found', async (t) => {
    const { store } = open(t)
    t.equal(await codeOf(store.get(CONTRACT_START)), 'rev-not-found', 'on a fresh stack')
    await store.write(sampleSnapshot(), STATE)
    t.equal(await codeOf(store.get('2026-07-10T12:00:00Z_9')), 'rev-not-found')
  })

  // --- no current, dangling, unreadable ---------------------------------------

  t.test('a fresh stack has no current', async (t) => {
    const { store } = open(t)
    t.equal(await codeOf(store.currentRev()), 'no-current')
    t.equal(await codeOf(store.current()), 'no-current')
    t.same(await store.list(), [])
  })

  t.test('after a forced delete of the current rev the stack has no current', async (t) => {
    const { store } = open(t)
    const rev = (await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })).rev
    t.same(await store.delete(rev, { force: true }), { deleted: true, clearedCurrent: true })
    t.equal(await codeOf(store.current()), 'no-current')
    t.equal(await codeOf(store.currentRev()), 'no-current')
  })

  t.test('setCurrent refuses a rev that is not stored and leaves current', async (t) => {
    const { store } = open(t)
    const rev = (await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })).rev
    t.equal(await codeOf(store.setCurrent('2026-07-10T13:00:00Z')), 'rev-not-found')
    t.equal(await store.currentRev(), rev)
    const fresh = open(t).store
    t.equal(await codeOf(fresh.setCurrent(CONTRACT_START)), 'rev-not-found', 'on a fresh stack')
  })

  t.test('setCurrent with a mismatching ifMatch is current-mismatch and leaves current', async (t) => {
    const { store } = open(t)
    const [a, b, c] = await writeRevs(store, 3)
    t.equal(
      await codeOf(store.setCurrent(a!, { ifMatch: b! })),
      'current-mismatch',
      'expects a current on a stack without one',
    )
    t.same(await store.setCurrent(a!, { ifMatch: null }), { previous: null }, 'null matches a stack without current')
    t.equal(await codeOf(store.setCurrent(b!, { ifMatch: c! })), 'current-mismatch')
    t.equal(await codeOf(store.setCurrent(b!, { ifMatch: null })), 'current-mismatch')
    await t.rejects(store.setCurrent(b!, { ifMatch: c! }), { code: 'current-mismatch', details: { current: a } })
    t.equal(await store.currentRev(), a)
    t.same(await store.setCurrent(b!, { ifMatch: a! }), { previous: a })
  })

  t.test('deleting an absent rev is not an error', async (t) => {
    const { store } = open(t)
    t.same(await store.delete(CONTRACT_START), { deleted: false, clearedCurrent: false }, 'on a fresh stack')
    await store.write(sampleSnapshot(), STATE)
    t.same(await store.delete('2026-07-10T13:00:00Z'), { deleted: false, clearedCurrent: false })
  })

  t.test('delete removes a rev that is not current', async (t) => {
    const { store } = open(t)
    const [a, b] = await writeRevs(store, 2)
    await store.setCurrent(b!)
    t.same(await store.delete(a!), { deleted: true, clearedCurrent: false })
    t.same(await store.list(), [b])
    t.same(await store.delete(a!), { deleted: false, clearedCurrent: false }, 'a retry is not an error')
  })

  t.test('delete refuses the current rev unless forced', async (t) => {
    const { store } = open(t)
    const rev = (await store.write(sampleSnapshot(), { ...STATE, makeCurrent: true })).rev
    t.equal(await codeOf(store.delete(rev)), 'rev-is-current')
    await t.rejects(store.delete(rev), { code: 'rev-is-current', details: { rev } })
    t.same(await store.list(), [rev])
    t.equal(await store.currentRev(), rev)
    t.same(await store.delete(rev, { force: true }), { deleted: true, clearedCurrent: true })
    t.same(await store.list(), [])
  })

  t.test('gc keeps the newest N revs plus current', async (t) => {
    const { store } = open(t)
    const revs = await writeRevs(store, 5)
    await store.setCurrent(revs[0]!)
    const result = await store.gc({ keep: 2 })
    t.same(result, { deleted: [revs[1], revs[2]], kept: [revs[0], revs[3], revs[4]] })
    t.same(await store.list(), [revs[0], revs[3], revs[4]])
    t.equal(await store.currentRev(), revs[0])
  })

  t.test('gc with keep 0 keeps only current', async (t) => {
    const { store } = open(t)
    const revs = await writeRevs(store, 3)
    await store.setCurrent(revs[1]!)
    t.same(await store.gc({ keep: 0 }), { deleted: [revs[0], revs[2]], kept: [revs[1]] })
    t.same(await store.list(), [revs[1]])
  })

  t.test('gc of a fresh stack deletes nothing', async (t) => {
    const { store } = open(t)
    t.same(await store.gc({ keep: 1 }), { deleted: [], kept: [] })
  })

  // --- revs and the clock ------------------------------------------------------

  t.test('five writes with a frozen clock give T, T_1 … T_4 in order', async (t) => {
    const { store } = open(t)
    const revs = await writeRevs(store, 5)
    t.same(revs, [
      CONTRACT_START,
      `${CONTRACT_START}_1`,
      `${CONTRACT_START}_2`,
      `${CONTRACT_START}_3`,
      `${CONTRACT_START}_4`,
    ])
    t.same(await store.list(), revs)
    for (const [i, rev] of revs.entries()) t.ok((await store.get(rev)).body.equals(sampleSnapshot(i)), rev)
  })

  t.test('a write after the clock stepped back an hour still sorts last', async (t) => {
    const { store, clock } = open(t)
    const written = [(await store.write(sampleSnapshot(1), STATE)).rev]
    clock.advanceMs(1500)
    written.push((await store.write(sampleSnapshot(2), STATE)).rev)
    t.equal(written[1], '2026-07-10T12:00:01.5Z')
    clock.advanceMs(-3_600_000)
    written.push((await store.write(sampleSnapshot(3), STATE)).rev)
    written.push((await store.write(sampleSnapshot(4), STATE)).rev)
    t.same(written.slice(2), ['2026-07-10T12:00:01.5Z_1', '2026-07-10T12:00:01.5Z_2'])
    clock.advanceMs(7_200_000)
    written.push((await store.write(sampleSnapshot(5), STATE)).rev)
    t.equal(written[4], '2026-07-10T13:00:01.5Z')
    t.same(await store.list(), written, 'list order equals write order')
  })
}
