/**
 * `GET …/snapshots?detail=true`: each rev with who wrote it (native write,
 * Terraform write), under which lock, its size, digest and kind; null for a
 * rev another tool wrote. `?order=desc` pages newest first.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { authFromText, bearer, newToken, tokensFileText } from '../helpers/auth.js'
import { ManualClock } from '../helpers/clock.js'
import { sampleSnapshot } from '../helpers/store.js'

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')
const JSON_TYPE = { 'content-type': 'application/json' }

interface Entry {
  rev: string
  current: boolean
  metadata: null | {
    principal: string | null
    remote: string | null
    requestId: string | null
    lock: null | { id: string; who: string; operation: string; principal: string | null }
    bytes: number
    sha256: string
    kind: string
    serial: number | null
    lineage: string | null
  }
}

t.test('detail names the writer, the lock held, size, digest and kind of each rev', async (t) => {
  const token = newToken()
  const { app } = await buildTestApp(t, {
    auth: authFromText(tokensFileText([{ name: 'ci-deploy', token, grants: [{ scope: '*/*', allow: ['*'] }] }])),
  })
  const auth = bearer(token)
  const url = stackUrl()
  const snapshot = sampleSnapshot('one')
  const w1 = await app.inject({
    method: 'POST',
    url: `${url}/snapshots`, // not current: the Terraform writes below need a stack without unobin current
    headers: { ...auth, ...JSON_TYPE, 'x-request-id': 'req-native' },
    payload: snapshot,
  })
  t.equal(w1.statusCode, 201)
  const lock = await app.inject({
    method: 'POST',
    url: `${url}/lock`,
    headers: { ...auth, ...JSON_TYPE },
    payload: { who: 'tf@runner', operation: 'OperationTypeApply' },
  })
  t.equal(lock.statusCode, 201, lock.body)
  const lockId = lock.json<{ id: string }>().id
  const state = JSON.stringify({ version: 4, serial: 7, lineage: 'lin-1', resources: [], outputs: {} })
  const w2 = await app.inject({
    method: 'POST',
    url: `${url}/terraform?ID=${lockId}`,
    headers: { ...auth, ...JSON_TYPE },
    payload: state,
  })
  t.equal(w2.statusCode, 200, w2.body)
  const encrypted = JSON.stringify({ serial: 8, lineage: 'lin-1', encrypted_data: 'AAAA', encryption_version: 'v0' })
  const w3 = await app.inject({
    method: 'POST',
    url: `${url}/terraform?ID=${lockId}`,
    headers: { ...auth, ...JSON_TYPE },
    payload: encrypted,
  })
  t.equal(w3.statusCode, 200, w3.body)

  const res = await app.inject({ method: 'GET', url: `${url}/snapshots?detail=true`, headers: auth })
  t.equal(res.statusCode, 200)
  const body = res.json<{ revs: string[]; current: string; history: Entry[] }>()
  t.equal(body.history.length, 3)
  t.same(
    body.history.map((e) => e.rev),
    body.revs,
  )
  t.same(
    body.history.map((e) => e.current),
    [false, false, true],
  )
  const [native, tf, opaque] = body.history.map((e) => e.metadata!)
  t.same(native, {
    principal: 'ci-deploy',
    remote: '127.0.0.1',
    requestId: 'req-native',
    lock: null,
    bytes: snapshot.length,
    sha256: sha256(snapshot),
    kind: 'unobin',
    serial: null,
    lineage: null,
  })
  t.match(tf, { kind: 'terraform', serial: 7, lineage: 'lin-1', bytes: state.length, sha256: sha256(state) })
  t.same(tf!.lock, { id: lockId, who: 'tf@runner', operation: 'OperationTypeApply', principal: 'ci-deploy' })
  t.match(opaque, { kind: 'opaque', serial: 8, lineage: 'lin-1', sha256: sha256(encrypted) })
})

t.test('a rev another tool wrote has null metadata, and the listing without detail is unchanged', async (t) => {
  const { app, root } = await buildTestApp(t)
  const store = root.stack('f1', 's1')
  const foreign = (await store.write(sampleSnapshot('go'), { payloadType: 'state' })).rev
  const res = await app.inject({ method: 'GET', url: `${stackUrl()}/snapshots?detail=true` })
  t.same(res.json<{ history: Entry[] }>().history, [{ rev: foreign, current: false, metadata: null }])
  const plain = await app.inject({ method: 'GET', url: `${stackUrl()}/snapshots` })
  t.same(plain.json(), { revs: [foreign], current: null, next: null })
})

t.test('order=desc pages newest first, ?after= continuing towards older revs', async (t) => {
  const clock = new ManualClock('2026-07-10T12:00:00Z')
  const { app, root } = await buildTestApp(t, { clock })
  const store = root.stack('f1', 's1')
  const revs: string[] = []
  for (let i = 0; i < 5; i++) {
    clock.advanceMs(i % 2 === 0 ? 0 : 1000) // some share an instant: suffixes page in order too
    revs.push((await store.write(sampleSnapshot(i), { payloadType: 'state' })).rev)
  }
  const seen: string[] = []
  let after: string | null = null
  for (let page = 0; page < 10; page++) {
    const res: { statusCode: number; json: <T>() => T } = await app.inject({
      method: 'GET',
      url: `${stackUrl()}/snapshots?order=desc&detail=true&limit=2${after === null ? '' : `&after=${after}`}`,
    })
    t.equal(res.statusCode, 200)
    const body = res.json<{ revs: string[]; next: string | null; history: Entry[] }>()
    t.same(
      body.history.map((e) => e.rev),
      body.revs,
    )
    seen.push(...body.revs)
    after = body.next
    if (after === null) break
  }
  t.same(seen, [...revs].reverse())
})

t.test('an unknown order or a non-boolean detail is refused with 400', async (t) => {
  const { app } = await buildTestApp(t)
  for (const query of ['order=newest', 'detail=maybe']) {
    const res = await app.inject({ method: 'GET', url: `${stackUrl()}/snapshots?${query}` })
    t.equal(res.statusCode, 400, query)
    t.equal(res.json<{ code: string }>().code, 'invalid-request')
  }
})
