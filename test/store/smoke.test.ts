import t from 'tap'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { FIXTURES, fixture, fixtureKeyring, makeRoot, sampleSnapshot } from '../helpers/store.js'

t.test('reads the env-key fixture', async (t) => {
  const dir = t.testdir()
  cpSync(join(FIXTURES, 'env-key/store'), dir, { recursive: true })
  const root = makeRoot(dir, { encrypter: fixtureKeyring() })
  const store = root.stack('cluster-deploy', 'prod-east')
  const cur = await store.current()
  t.equal(cur.rev, '2026-07-10T12:00:01.00012Z')
  t.same(cur.body, fixture('env-key/plaintext/cluster-deploy/prod-east/2026-07-10T12:00:01.00012Z.json'))
  t.same(await store.list(), ['2026-07-10T12:00:00Z', '2026-07-10T12:00:00Z_1', '2026-07-10T12:00:00.1Z', '2026-07-10T12:00:01.00012Z', '2026-07-10T12:00:02.000000005Z'])
  const rev = await store.write(sampleSnapshot(), { payloadType: 'state', makeCurrent: true })
  t.equal(await store.currentRev(), rev)
  const h = await store.lock({ who: 'me' }, {})
  await t.rejects(store.write(sampleSnapshot(), { payloadType: 'state' }), { code: 'locked' })
  await store.write(sampleSnapshot(), { payloadType: 'state', fence: { lockId: h.id } })
  await store.unlock(h.id)
  await store.unlock(h.id)
  t.equal(await store.generation(), 1)
})
t.test('noop fixture legacy lock', async (t) => {
  const dir = t.testdir()
  cpSync(join(FIXTURES, 'noop/store'), dir, { recursive: true })
  const store = makeRoot(dir).stack('cluster-deploy', 'dev')
  const h = await store.inspectLock()
  t.equal(h?.pid, 4242)
  t.equal(h?.legacy, true)
  await t.rejects(store.lock({}, {}), { code: 'locked' })
  const removed = await store.forceUnlock({ reason: 'x' })
  t.equal(removed?.pid, 4242)
  const l = await store.lock({}, {})
  t.equal(l.generation, 2)
})
