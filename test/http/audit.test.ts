/** The audit trail of the v1 API: every mutation with principal, remote and request id, and nothing for refusals. */
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { sampleSnapshot } from '../helpers/store.js'
import { type Holder, assertProblem, ownStack, postSnapshot, takeLock } from '../helpers/api.js'

t.test('every mutation is audited with principal, remote and request id', async (t) => {
  const { app, url, events } = await ownStack()
  const responses: LightMyRequestResponse[] = []
  const record = async (p: Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> => {
    const res = await p
    if (res.statusCode >= 300) throw new Error(`unexpected ${res.statusCode}: ${res.body}`)
    responses.push(res)
    return res
  }
  const r1 = ((await record(postSnapshot(app, url, sampleSnapshot(1)))).json() as { rev: string }).rev
  const r2 = ((await record(postSnapshot(app, url, sampleSnapshot(2)))).json() as { rev: string }).rev
  await record(app.inject({ method: 'PUT', url: `${url}/current`, payload: { rev: r2 } }))
  const holder = (
    await record(app.inject({ method: 'POST', url: `${url}/lock`, payload: { ttl: 60 } }))
  ).json() as Holder
  await record(app.inject({ method: 'PUT', url: `${url}/lock`, payload: { id: holder.id, ttl: 120 } }))
  await record(app.inject({ method: 'DELETE', url: `${url}/snapshots/${r1}`, headers: { 'lock-id': holder.id } }))
  await record(
    app.inject({ method: 'POST', url: `${url}/snapshots:gc`, headers: { 'lock-id': holder.id }, payload: { keep: 5 } }),
  )
  await record(app.inject({ method: 'DELETE', url: `${url}/lock?id=${holder.id}` }))
  await record(app.inject({ method: 'POST', url: `${url}/lock` }))
  await record(app.inject({ method: 'DELETE', url: `${url}/lock?force=true&reason=audit` }))

  t.strictSame(
    events().map((e) => e.action),
    [
      'snapshot.write',
      'snapshot.write',
      'current.set',
      'lock.acquire',
      'lock.renew',
      'snapshot.delete',
      'snapshot.gc',
      'lock.release',
      'lock.acquire',
      'lock.force-unlock',
    ],
  )
  t.equal(events().length, responses.length)
  events().forEach((event, i) => {
    t.equal(event.principal, 'anonymous', `${event.action} principal`)
    t.equal(event.remote, '127.0.0.1', `${event.action} remote`)
    t.equal(event.requestId, responses[i]?.headers['x-request-id'], `${event.action} request id`)
    t.equal(event.factory, 'f1')
    t.equal(`/v1/factories/${event.factory}/stacks/${event.stack}`, url)
  })
  t.equal(events()[0]?.rev, r1)
  t.equal(events()[2]?.rev, r2)
  t.equal(events()[5]?.lockId, holder.id)
})

t.test('refused mutations are not audited as done', async (t) => {
  const { app, url, events } = await ownStack()
  await takeLock(app, url)
  const before = events().length
  assertProblem(t, await postSnapshot(app, url, sampleSnapshot(1)), 423, 'locked')
  assertProblem(
    t,
    await postSnapshot(app, url, Buffer.from('{"format-version":2}'), { headers: {} }),
    422,
    'invalid-snapshot',
  )
  t.equal(events().length, before)
})
