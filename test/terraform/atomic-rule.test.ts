/**
 * Terraform's lineage rule is checked in the same critical section as the
 * write it guards: clients racing to write the first state of a stack with
 * different lineages cannot all pass it (with check-then-write, each saw an
 * empty stack and every one was stored).
 */
import t from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'

const URL = `${stackUrl('f1', 's1')}/terraform`

function state(lineage: string, serial: number): string {
  return JSON.stringify({ version: 4, terraform_version: '1.9.0', serial, lineage, outputs: {}, resources: [] })
}

t.test(
  'racing first writes of different lineages: exactly one is stored, the others are 409 state-conflict',
  async (t) => {
    const { app, root } = await buildTestApp(t)
    const lineages = ['lin-a', 'lin-b', 'lin-c', 'lin-d', 'lin-e', 'lin-f']
    const answers = await Promise.all(
      lineages.map((lineage) =>
        app.inject({
          method: 'POST',
          url: URL,
          headers: { 'content-type': 'application/json' },
          payload: state(lineage, 1),
        }),
      ),
    )
    const statuses = answers.map((a) => a.statusCode)
    t.equal(statuses.filter((s) => s === 200).length, 1, `one write passes (${statuses.join(', ')})`)
    for (const a of answers.filter((x) => x.statusCode !== 200)) {
      t.equal(a.statusCode, 409)
      t.equal(a.json<{ code: string }>().code, 'state-conflict')
    }
    t.equal((await root.stack('f1', 's1').list()).length, 1, 'one rev is stored')
  },
)

t.test('racing writes from the same serial: a lower serial never lands after a higher one', async (t) => {
  const { app, root } = await buildTestApp(t)
  const first = await app.inject({
    method: 'POST',
    url: URL,
    headers: { 'content-type': 'application/json' },
    payload: state('lin', 1),
  })
  t.equal(first.statusCode, 200)
  const serials = [9, 2, 8, 3, 7, 4]
  const answers = await Promise.all(
    serials.map((serial) =>
      app.inject({
        method: 'POST',
        url: URL,
        headers: { 'content-type': 'application/json' },
        payload: state('lin', serial),
      }),
    ),
  )
  const store = root.stack('f1', 's1')
  const stored: number[] = []
  for (const rev of await store.list())
    stored.push((JSON.parse((await store.get(rev)).body.toString('utf8')) as { serial: number }).serial)
  for (let i = 1; i < stored.length; i++)
    t.ok(stored[i]! >= stored[i - 1]!, `serial ${stored[i]} was stored after ${stored[i - 1]}`)
  t.ok(
    answers.some((a) => a.statusCode === 200),
    'some writes passed',
  )
  t.equal(answers.filter((a) => a.statusCode === 200).length + 1, stored.length, 'every 200 stored one rev')
})
