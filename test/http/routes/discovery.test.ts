/** Discovery through app.inject: factories and stacks with their current rev, rev count and lock holder. */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { buildTestApp, stackUrl } from '../../helpers/app.js'
import { sampleSnapshot } from '../../helpers/store.js'
import { type Holder, assertProblem, ownStack, takeLock, writeRev } from '../../helpers/api.js'

t.test('discovery lists factories with their stack counts, paged by limit and after', async (t) => {
  const { app } = await buildTestApp(t)
  await writeRev(app, stackUrl('f1', 's1'), 1)
  await writeRev(app, stackUrl('f1', 's2'), 2)
  await writeRev(app, stackUrl('f2', 's1'), 3)

  const all = await app.inject({ method: 'GET', url: '/v1/factories' })
  t.equal(all.statusCode, 200)
  t.strictSame(all.json(), {
    factories: [
      { name: 'f1', stacks: 2 },
      { name: 'f2', stacks: 1 },
    ],
    next: null,
  })

  const first = await app.inject({ method: 'GET', url: '/v1/factories?limit=1' })
  t.strictSame(first.json(), { factories: [{ name: 'f1', stacks: 2 }], next: 'f1' })
  const second = await app.inject({ method: 'GET', url: '/v1/factories?limit=1&after=f1' })
  t.strictSame(second.json(), { factories: [{ name: 'f2', stacks: 1 }], next: null })
})

t.test('discovery of an empty data directory lists no factories', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/v1/factories' })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { factories: [], next: null })
})

t.test('discovery lists each stack with its current rev, rev count and lock holder', async (t) => {
  // A factory of its own on the shared app.
  const { app } = await ownStack()
  await writeRev(app, stackUrl('disco', 'a'), 1)
  const currentA = await writeRev(app, stackUrl('disco', 'a'), 2, { query: '?current=true' })
  await writeRev(app, stackUrl('disco', 'b'), 3)
  const holder = await takeLock(app, stackUrl('disco', 'b'), { who: 'ci' })

  const res = await app.inject({ method: 'GET', url: '/v1/factories/disco/stacks' })
  t.equal(res.statusCode, 200)
  const body = res.json() as {
    factory: string
    stacks: Array<{ name: string; current: string | null; revs: number; lock: Holder | null }>
    next: string | null
  }
  t.equal(body.factory, 'disco')
  t.equal(body.next, null)
  t.strictSame(
    body.stacks.map((s) => s.name),
    ['a', 'b'],
  )
  t.strictSame(body.stacks[0], { name: 'a', current: currentA, revs: 2, lock: null, error: null })
  t.equal(body.stacks[1]?.current, null)
  t.equal(body.stacks[1]?.revs, 1)
  t.equal(body.stacks[1]?.lock?.id, holder.id)
  t.equal(body.stacks[1]?.lock?.who, 'ci')

  const page1 = await app.inject({ method: 'GET', url: '/v1/factories/disco/stacks?limit=1' })
  const p1 = page1.json() as { stacks: Array<{ name: string }>; next: string | null }
  t.strictSame(
    p1.stacks.map((s) => s.name),
    ['a'],
  )
  t.equal(p1.next, 'a')
  const page2 = await app.inject({ method: 'GET', url: `/v1/factories/disco/stacks?limit=1&after=${p1.next}` })
  const p2 = page2.json() as { stacks: Array<{ name: string }>; next: string | null }
  t.strictSame(
    p2.stacks.map((s) => s.name),
    ['b'],
  )
  t.equal(p2.next, null)
})

t.test('discovery of an unknown factory answers 404 factory-not-found', async (t) => {
  const { app, url } = await ownStack()
  await writeRev(app, url, 1)
  const res = await app.inject({ method: 'GET', url: '/v1/factories/nope/stacks' })
  assertProblem(t, res, 404, 'factory-not-found')
})
t.test('discovery reports a broken stack with its error code instead of failing the whole list', async (t) => {
  const { app, dir } = await buildTestApp(t)
  const good = await app.inject({
    method: 'POST',
    url: `${stackUrl('disc', 'good')}/snapshots?current=true`,
    payload: sampleSnapshot(1),
  })
  t.equal(good.statusCode, 201)
  const bad = await app.inject({
    method: 'POST',
    url: `${stackUrl('disc', 'bad')}/snapshots?current=true`,
    payload: sampleSnapshot(2),
  })
  t.equal(bad.statusCode, 201)
  await writeFile(join(dir, 'disc', 'bad', 'current'), 'not a rev\n')
  const res = await app.inject({ method: 'GET', url: '/v1/factories/disc/stacks' })
  t.equal(res.statusCode, 200)
  const stacks = (res.json() as { stacks: Array<{ name: string; error: string | null; current: string | null }> })
    .stacks
  t.same(
    stacks.map((s) => [s.name, s.error]),
    [
      ['bad', 'unreadable-snapshot'],
      ['good', null],
    ],
  )
})
