/** GET /v1/factories/{f}/stacks?match=: the name filter the console uses, applied before paging. */
import t, { type Test } from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { sampleSnapshot } from '../helpers/store.js'

async function appWithStacks(t: Test, names: string[]) {
  const built = await buildTestApp(t)
  for (const name of names) {
    const res = await built.app.inject({
      method: 'POST',
      url: `${stackUrl('f', name)}/snapshots?current=true`,
      payload: sampleSnapshot(1, name),
      headers: { 'content-type': 'application/json' },
    })
    t.equal(res.statusCode, 201)
  }
  return built
}

t.test('match keeps the stacks whose name contains the text, ignoring case', async (t) => {
  const { app } = await appWithStacks(t, ['api-prod', 'api-dev', 'web-prod', 'API-staging'])
  const res = await app.inject({ url: '/v1/factories/f/stacks?match=api' })
  t.equal(res.statusCode, 200)
  t.same(
    res.json().stacks.map((s: { name: string }) => s.name),
    ['API-staging', 'api-dev', 'api-prod'],
  )
  t.equal(res.json().next, null)
})

t.test('paging with after runs over the matching names only', async (t) => {
  const { app } = await appWithStacks(t, ['a-prod', 'b-dev', 'c-prod', 'd-dev', 'e-prod'])
  const first = (await app.inject({ url: '/v1/factories/f/stacks?match=prod&limit=2' })).json()
  t.same(
    first.stacks.map((s: { name: string }) => s.name),
    ['a-prod', 'c-prod'],
  )
  t.equal(first.next, 'c-prod')
  const second = (await app.inject({ url: `/v1/factories/f/stacks?match=prod&limit=2&after=${first.next}` })).json()
  t.same(
    second.stacks.map((s: { name: string }) => s.name),
    ['e-prod'],
  )
  t.equal(second.next, null)
})

t.test('a match that fits no stack answers an empty page; an empty match is refused', async (t) => {
  const { app } = await appWithStacks(t, ['one'])
  const none = await app.inject({ url: '/v1/factories/f/stacks?match=zzz' })
  t.equal(none.statusCode, 200)
  t.same(none.json().stacks, [])
  const empty = await app.inject({ url: '/v1/factories/f/stacks?match=' })
  t.equal(empty.statusCode, 400)
  t.equal(empty.json().code, 'invalid-request')
})
