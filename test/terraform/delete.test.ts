import t from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'

const state = Buffer.from(
  `${JSON.stringify({ version: 4, terraform_version: '1.9.0', serial: 1, lineage: 'l-1', outputs: {}, resources: [] }, null, 2)}\n`,
)

t.test(
  'DELETE of the Terraform state is fenced: refused without the lock id, accepted with ?ID= of the holder, history kept',
  async (t) => {
    const { app } = await buildTestApp(t)
    const url = `${stackUrl('tfdel', 's')}/terraform`
    t.equal(
      (await app.inject({ method: 'POST', url, payload: state, headers: { 'content-type': 'application/json' } }))
        .statusCode,
      200,
    )
    const lock = await app.inject({ method: 'POST', url: `${stackUrl('tfdel', 's')}/lock`, payload: { who: 'ops' } })
    const id = (lock.json() as { id: string }).id
    const refused = await app.inject({ method: 'DELETE', url })
    t.equal(refused.statusCode, 423)
    t.equal(refused.json().code, 'locked')
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 200, 'the state is still there')
    const deleted = await app.inject({ method: 'DELETE', url: `${url}?ID=${id}` })
    t.equal(deleted.statusCode, 200)
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 204, 'no state after delete')
    const list = await app.inject({ method: 'GET', url: `${stackUrl('tfdel', 's')}/snapshots` })
    t.equal((list.json() as { revs: string[] }).revs.length, 1, 'the history keeps the rev')
  },
)
