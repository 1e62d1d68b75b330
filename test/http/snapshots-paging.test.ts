/**
 * Paging the rev list with `?after=` across revs that share an instant and
 * differ only by their `_N` suffix: the page after `…Z_1` starts at `…Z_2`.
 * The suffix order is the rev order's tie-breaker, so a reversed suffix
 * comparison would make `?after=…Z_1` skip `…Z_2`.
 */
import t, { type Test } from 'tap'
import { ManualClock } from '../helpers/clock.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { sampleSnapshot } from '../helpers/store.js'

const T0 = '2026-07-10T12:00:00Z'

/** Writes `count` revs through the store with the clock frozen: T0, T0_1, T0_2, … */
async function frozenRevs(t: Test, count: number) {
  const built = await buildTestApp(t, { clock: new ManualClock(T0) })
  const store = built.root.stack('f1', 's1')
  const revs: string[] = []
  for (let i = 0; i < count; i++) revs.push((await store.write(sampleSnapshot(i), { payloadType: 'state' })).rev)
  return { ...built, revs }
}

t.test('revs written at one frozen instant are numbered by suffix in write order', async (t) => {
  const { revs } = await frozenRevs(t, 4)
  t.same(revs, [T0, `${T0}_1`, `${T0}_2`, `${T0}_3`])
})

t.test('the page after a suffixed rev starts at the next suffix', async (t) => {
  const { app } = await frozenRevs(t, 4)
  const res = await app.inject({ method: 'GET', url: `${stackUrl()}/snapshots?limit=1&after=${T0}_1` })
  t.equal(res.statusCode, 200)
  t.same(res.json().revs, [`${T0}_2`])
})

t.test('the page after the unsuffixed rev starts at its first suffix', async (t) => {
  const { app } = await frozenRevs(t, 3)
  const res = await app.inject({ method: 'GET', url: `${stackUrl()}/snapshots?after=${T0}` })
  t.same(res.json().revs, [`${T0}_1`, `${T0}_2`])
})

t.test('paging one rev at a time across suffixes visits every rev once, in order', async (t) => {
  const { app, revs } = await frozenRevs(t, 5)
  const seen: string[] = []
  let after: string | null = null
  for (let page = 0; page < 10; page++) {
    const res = await app.inject({
      method: 'GET',
      url: `${stackUrl()}/snapshots?limit=1${after === null ? '' : `&after=${after}`}`,
    })
    t.equal(res.statusCode, 200, `page ${page} answers 200`)
    const body = res.json() as { revs: string[]; next: string | null }
    seen.push(...body.revs)
    after = body.next
    if (after === null) break
  }
  t.same(seen, revs)
})
