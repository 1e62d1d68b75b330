/**
 * The problem's `detail` says what happened and what to do next: the store
 * names the stack, the rev and the reason, and the HTTP layer adds the route,
 * header or flag that helps, by error code.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { UNOBIN_PAYLOAD } from '../../src/store/envelope.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { sampleSnapshot } from '../helpers/store.js'

const URL = stackUrl('f1', 's1')
const STATE = { payloadType: UNOBIN_PAYLOAD }
const MISSING = '2026-07-10T12:00:00Z'

interface Problem {
  code: string
  detail: string
}

t.test('rev-not-found names the rev and the stack, and says how to list the revs', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: `${URL}/snapshots/${MISSING}` })
  t.equal(res.statusCode, 404)
  const problem = res.json<Problem>()
  t.equal(problem.code, 'rev-not-found')
  t.match(problem.detail, MISSING)
  t.match(problem.detail, 'f1/s1')
  t.match(problem.detail, 'GET …/snapshots')
})

t.test('a restore of a rev the trash does not hold says how to list the trash', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'POST', url: `${URL}/snapshots:restore`, payload: { rev: MISSING } })
  t.equal(res.statusCode, 404)
  const problem = res.json<Problem>()
  t.equal(problem.code, 'rev-not-found')
  t.match(problem.detail, 'trash of f1/s1')
  t.match(problem.detail, 'GET …/trash')
  t.notMatch(problem.detail, 'GET …/snapshots', 'not the history listing')
})

t.test('locked names the holder and says how to wait or force-unlock', async (t) => {
  const { app, root } = await buildTestApp(t)
  const holder = await root.stack('f1', 's1').lock({ who: 'ci-job' }, {})
  const res = await app.inject({
    method: 'POST',
    url: `${URL}/snapshots`,
    headers: { 'content-type': 'application/json' },
    payload: sampleSnapshot(1),
  })
  t.equal(res.statusCode, 423)
  const problem = res.json<Problem>()
  t.equal(problem.code, 'locked')
  t.match(problem.detail, 'ci-job')
  t.match(problem.detail, holder.id)
  t.match(problem.detail, 'DELETE …/lock?force=true')
  t.match(problem.detail, '?wait=')
})

t.test('lock-required says to send the lock id in the Lock-Id header', async (t) => {
  const { app } = await buildTestApp(t, { requireLock: true })
  const res = await app.inject({
    method: 'POST',
    url: `${URL}/snapshots`,
    headers: { 'content-type': 'application/json' },
    payload: sampleSnapshot(1),
  })
  t.equal(res.statusCode, 428)
  const problem = res.json<Problem>()
  t.equal(problem.code, 'lock-required')
  t.match(problem.detail, 'f1/s1')
  t.match(problem.detail, 'Lock-Id')
})

t.test('factory-not-found says where the factories are listed', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/v1/factories/nowhere/stacks' })
  t.equal(res.statusCode, 404)
  const problem = res.json<Problem>()
  t.equal(problem.code, 'factory-not-found')
  t.match(problem.detail, 'nowhere')
  t.match(problem.detail, 'GET /v1/factories')
})

t.test('dangling-current names the missing rev and says how to point current elsewhere', async (t) => {
  const { app, root, dir } = await buildTestApp(t)
  const { rev } = await root.stack('f1', 's1').write(sampleSnapshot(1), { ...STATE, makeCurrent: true })
  rmSync(join(dir, 'f1', 's1', 'snapshots', `${rev}.json.enc`))
  const res = await app.inject({ method: 'GET', url: `${URL}/current` })
  t.equal(res.statusCode, 500)
  const problem = res.json<Problem>()
  t.equal(problem.code, 'dangling-current')
  t.match(problem.detail, rev)
  t.match(problem.detail, 'PUT …/current')
})

t.test('an error without a next step keeps the store message as its detail', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: `${URL}/current` })
  t.equal(res.statusCode, 404)
  const problem = res.json<Problem>()
  t.equal(problem.code, 'no-current')
  t.equal(problem.detail, 'f1/s1 has no current rev')
})
