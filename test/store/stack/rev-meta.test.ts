import t from 'tap'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { WriteRecord } from '../../../src/store/store.js'
import { ManualClock } from '../../helpers/clock.js'
import { FIXTURES, makeRoot, sampleSnapshot } from '../../helpers/store.js'

const FACTORY = 'cluster-deploy'
const RECORD: WriteRecord = {
  principal: 'ci-deployer',
  remote: '10.0.0.7',
  requestId: 'req-1',
  kind: 'unobin',
  serial: null,
  lineage: null,
}
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

t.test('a write with a record stores who wrote it, its size, digest and kind', async (t) => {
  const store = makeRoot(t.testdir()).stack(FACTORY, 'dev')
  const body = sampleSnapshot('a')
  const { rev } = await store.write(body, { payloadType: 'state', makeCurrent: true, record: RECORD })
  t.same(await store.describe([rev]), [{ rev, ...RECORD, lock: null, bytes: body.length, sha256: sha256(body) }])
})

t.test('the metadata names the lock the writer held and what its holder claimed', async (t) => {
  const store = makeRoot(t.testdir()).stack(FACTORY, 'dev')
  const holder = await store.lock({ who: 'alice@ci', operation: 'apply' }, { principal: 'alice' })
  const { rev } = await store.write(sampleSnapshot('b'), {
    payloadType: 'state',
    fence: { lockId: holder.id },
    record: RECORD,
  })
  const [meta] = await store.describe([rev])
  t.same(meta?.lock, { id: holder.id, who: 'alice@ci', operation: 'apply', principal: 'alice' })
})

t.test('a rev written without a record, or by the Go tool, has no metadata (null, never an error)', async (t) => {
  const dir = t.testdir()
  cpSync(FIXTURES, dir, { recursive: true })
  const root = makeRoot(dir)
  for (const factory of await root.factories()) {
    for (const stack of await root.stacks(factory)) {
      const store = root.stack(factory, stack)
      const revs = await store.list()
      t.same(
        await store.describe(revs),
        revs.map(() => null),
        `${factory}/${stack}`,
      )
    }
  }
  const store = root.stack(FACTORY, 'fresh')
  const { rev } = await store.write(sampleSnapshot('c'), { payloadType: 'state' })
  t.same(await store.describe([rev, '2020-01-01T00:00:00Z']), [null, null])
})

t.test('metadata that does not parse, or names another rev, is not shown for the rev', async (t) => {
  const dir = t.testdir()
  const store = makeRoot(dir).stack(FACTORY, 'dev')
  const a = (await store.write(sampleSnapshot('a'), { payloadType: 'state', record: RECORD })).rev
  const b = (await store.write(sampleSnapshot('b'), { payloadType: 'state', record: RECORD })).rev
  const metaDir = join(dir, FACTORY, 'dev', '.meta')
  writeFileSync(join(metaDir, `${b}.json`), readFileSync(join(metaDir, `${a}.json`))) // a's metadata under b's name
  writeFileSync(join(metaDir, `${a}.json`), '{"version":1,')
  t.same(await store.describe([a, b]), [null, null])
})

t.test('metadata left under a name that a new write claims is replaced, never inherited', async (t) => {
  const dir = t.testdir()
  const clock = new ManualClock('2026-07-10T12:00:00Z')
  const store = makeRoot(dir, { clock }).stack(FACTORY, 'dev')
  const first = (await store.write(sampleSnapshot('a'), { payloadType: 'state', record: RECORD })).rev
  // The clock stands still, so the next write claims `<first>_1`: leave metadata of another document there.
  const next = `${first}_1`
  const stray = { ...RECORD, version: 1, rev: next, lock: null, bytes: 1, sha256: 'f'.repeat(64), principal: 'mallory' }
  writeFileSync(join(dir, FACTORY, 'dev', '.meta', `${next}.json`), JSON.stringify(stray))
  const body = sampleSnapshot('b')
  const { rev } = await store.write(body, { payloadType: 'state', record: RECORD })
  t.equal(rev, next)
  const [meta] = await store.describe([rev])
  t.equal(meta?.principal, 'ci-deployer')
  t.equal(meta?.sha256, sha256(body))
})

t.test('the first recorded write sweeps metadata whose rev is gone', async (t) => {
  const dir = t.testdir()
  const writer = makeRoot(dir).stack(FACTORY, 'dev')
  const { rev } = await writer.write(sampleSnapshot('a'), { payloadType: 'state', record: RECORD })
  const metaDir = join(dir, FACTORY, 'dev', '.meta')
  const orphan = '2020-01-01T00:00:00Z'
  writeFileSync(join(metaDir, `${orphan}.json`), readFileSync(join(metaDir, `${rev}.json`)))
  // A new process (a new root) sweeps once, under the mutex, before its first recorded write.
  const later = makeRoot(dir).stack(FACTORY, 'dev')
  const second = (await later.write(sampleSnapshot('b'), { payloadType: 'state', record: RECORD })).rev
  t.same(readdirSync(metaDir).sort(), [`${rev}.json`, `${second}.json`])
})

t.test('delete and gc take a rev metadata with it', async (t) => {
  const dir = t.testdir()
  const store = makeRoot(dir).stack(FACTORY, 'dev')
  const revs: string[] = []
  for (const m of ['a', 'b', 'c', 'd'])
    revs.push((await store.write(sampleSnapshot(m), { payloadType: 'state', makeCurrent: true, record: RECORD })).rev)
  const metaDir = join(dir, FACTORY, 'dev', '.meta')
  await store.delete(revs[0]!)
  t.notOk(existsSync(join(metaDir, `${revs[0]}.json`)))
  await store.gc({ keep: 1 })
  t.same(readdirSync(metaDir), [`${revs[3]}.json`])
  t.same(
    (await store.describe(revs)).map((m) => m?.rev ?? null),
    [null, null, null, revs[3]],
  )
})

t.test('prune moves a rev metadata into the trash, restore brings it back, purge removes it', async (t) => {
  const dir = t.testdir()
  const clock = new ManualClock('2026-07-10T12:00:00Z')
  const store = makeRoot(dir, { clock }).stack(FACTORY, 'dev')
  const revs: string[] = []
  for (const m of ['a', 'b', 'c']) {
    clock.advanceMs(1000)
    revs.push((await store.write(sampleSnapshot(m), { payloadType: 'state', makeCurrent: true, record: RECORD })).rev)
  }
  const before = await store.describe(revs)
  const pruned = await store.prune({ policy: { keep: 1, maxAgeMs: null } })
  t.same(pruned.trashed, revs.slice(0, 2))
  t.same(await store.describe(revs), [null, null, before[2]])
  const trashDir = join(dir, FACTORY, 'dev', '.trash')
  t.equal(readdirSync(trashDir).filter((n) => n.endsWith('.meta.json')).length, 2)
  await store.restore(revs[0]!)
  t.same(await store.describe(revs), [before[0], null, before[2]], 'restored with its own metadata')
  clock.advanceMs(60_000)
  const purged = await store.purgeTrash(1000)
  t.same(
    purged.map((e) => e.rev),
    [revs[1]],
  )
  t.same(
    readdirSync(trashDir).filter((n) => !n.startsWith('.tmp-')),
    [],
  )
})
