/**
 * Leftovers outside the stacks and the whole-tree sweep: the data
 * directory's own temp files and the held-locks index's are swept by the
 * owner rule of every sweep (a dead writer's on this host at once, a live
 * one's, another host's or an unnamed one only past the age bound); a
 * reservation sweeps its principal's directory and never counts a temp
 * file; the start-up sweep visits every stack, counts what it removed,
 * reports what it could not sweep without failing, and stops when told;
 * the retention job sweeps outside the stacks and in locked stacks too.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SystemClock } from '../../src/clock.js'
import { NoopEncrypter } from '../../src/crypto/noop.js'
import type { Liveness, OwnerProbe, OwnerRecord, ProcessIdentity } from '../../src/fs/owner.js'
import { tempName } from '../../src/fs/temp-files.js'
import { RetentionJob } from '../../src/retention-job.js'
import { HELD_LOCKS_DIR } from '../../src/store/held-locks.js'
import { StoreRoot } from '../../src/store/store-root.js'
import { sweepTree } from '../../src/store/tree-sweep.js'
import { MemoryAudit } from '../helpers/app.js'
import { FaultyFs } from '../helpers/faulty-fs.js'
import { sampleSnapshot } from '../helpers/store.js'

const SELF: ProcessIdentity = { host: 'node-a', pid: process.pid, start: '5000', boot: 'boot-1', pidns: 'pid:[1]' }
const DEAD: ProcessIdentity = { ...SELF, pid: 7, start: '42' }
const LIVE: ProcessIdentity = { ...SELF, pid: 8, start: '43' }
const OTHER_HOST: ProcessIdentity = { ...SELF, host: 'node-b' }
const STATE = { payloadType: 'state' } as const
const quiet = { info() {}, warn() {}, error() {} }

/** A probe with a fixed self and verdicts per pid: the owner rule without real processes. */
class TableProbe implements OwnerProbe {
  readonly self = SELF
  async liveness(record: OwnerRecord): Promise<Liveness> {
    return record.pid === DEAD.pid ? 'dead' : record.pid === LIVE.pid ? 'alive' : 'unknown'
  }
}

/** A store root that judges temp files with the table probe (60 s age bound). */
function rootAt(dir: string, fs?: FaultyFs): StoreRoot {
  return new StoreRoot({
    root: dir,
    encrypter: new NoopEncrypter(),
    clock: new SystemClock(),
    identity: { pid: process.pid, host: 'node-a' },
    probe: new TableProbe(),
    tempMaxAgeMs: 60_000,
    ...(fs === undefined ? {} : { fs }),
  })
}

/** The held-locks directory of `principal`. */
function principalDir(dir: string, principal: string): string {
  return join(dir, HELD_LOCKS_DIR, createHash('sha256').update(principal).digest('hex').slice(0, 32))
}

/** Writes a file at `path`, dated `ageMs` ago. */
function place(path: string, ageMs = 0): string {
  writeFileSync(path, 'left behind')
  const when = new Date(Date.now() - ageMs)
  utimesSync(path, when, when)
  return path
}

const temps = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('.tmp-')) : [])

t.test('leftovers in the data directory and the held-locks index are swept by the owner rule', async (t) => {
  const dir = t.testdir()
  const held = principalDir(dir, 'ci@runner')
  mkdirSync(held, { recursive: true })
  const gone: string[] = []
  const kept: string[] = []
  for (const d of [dir, held]) {
    gone.push(place(join(d, tempName(undefined, DEAD))), place(join(d, tempName(undefined, OTHER_HOST)), 120_000))
    kept.push(
      place(join(d, tempName(undefined, LIVE))), // a live writer's, young
      place(join(d, tempName(undefined, OTHER_HOST)), 1_000), // another host's, younger than the bound
      place(join(d, tempName(undefined, SELF))), // this process's own, young
    )
  }
  kept.push(place(join(dir, '.current.tmp'), 120_000), place(join(held, 'cluster-deploy+prod')))
  // An older server's case probe (a name without its writer): gone once past the age bound, as any unnamed temp.
  gone.push(place(join(dir, '.case-probe-0123456789ab-Aa'), 120_000))
  kept.push(place(join(dir, '.case-probe-ba9876543210-Aa'), 1_000), place(join(dir, '.case-probe-notes'), 120_000))

  t.equal(await rootAt(dir).sweepLeftovers(), gone.length, 'it counts what it removed')
  t.same(
    gone.filter((p) => existsSync(p)),
    [],
    'a dead writer’s (at once) and another host’s old one are gone',
  )
  t.same(
    kept.filter((p) => !existsSync(p)),
    [],
    'live, young foreign, own, non-temp files and entries stay',
  )
  t.equal(await rootAt(t.testdir()).sweepLeftovers(), 0, 'an empty data directory holds nothing to sweep')
})

t.test('a reservation sweeps its principal’s directory and never counts a temp file', async (t) => {
  const dir = t.testdir()
  const root = rootAt(dir)
  await root.stack('cluster-deploy', 'prod').write(sampleSnapshot(1), STATE)
  const held = principalDir(dir, 'ci@runner')
  mkdirSync(held, { recursive: true })
  const dead = place(join(held, tempName(undefined, DEAD)))
  const live = place(join(held, tempName(undefined, LIVE)))
  const unnamed = place(join(held, '.tmp-0b7e4c1a-1f2e-4d3c-9a8b-7c6d5e4f3a2b'))

  const reservation = await root.heldLocks.reserve('ci@runner', 'cluster-deploy', 'prod', 1, 60_000)
  t.same(reservation, { granted: true, held: 0 }, 'three temp files count for nothing against a cap of 1')
  t.notOk(existsSync(dead), 'the dead writer’s temp went')
  t.ok(existsSync(live) && existsSync(unnamed), 'a live writer’s and an unnamed young one stay')
  t.ok(existsSync(join(held, 'cluster-deploy+prod')), 'the entry was made')
})

t.test('the whole-tree sweep visits every stack and counts what it removed', async (t) => {
  const dir = t.testdir()
  const seed = rootAt(dir)
  const stacks = ['a', 'b', 'c', 'd', 'e', 'f']
  const placed: string[] = []
  for (const name of stacks) {
    const store = seed.stack('cluster-deploy', name)
    await store.write(sampleSnapshot(1), STATE)
    await store.write(sampleSnapshot(2), STATE)
    await store.prune({ policy: { keep: 1, maxAgeMs: null }, purgeWindowMs: undefined })
    const stackDir = join(dir, 'cluster-deploy', name)
    for (const sub of ['', 'snapshots', '.trash']) placed.push(place(join(stackDir, sub, tempName('removed', DEAD))))
  }
  placed.push(place(join(dir, tempName(undefined, DEAD))))

  const errors: string[] = []
  const result = await sweepTree(rootAt(dir), { onError: (where) => errors.push(where), concurrency: 4 })
  t.same(result, { stacks: stacks.length, removed: placed.length, failed: 0, stopped: false })
  t.same(errors, [])
  t.same(
    placed.filter((p) => existsSync(p)),
    [],
    'every leftover is gone',
  )
  t.same((await rootAt(dir).stack('cluster-deploy', 'a').list()).length, 1, 'the stacks are intact')
})

t.test('a stack that cannot be swept is reported and the others are still swept', async (t) => {
  const dir = t.testdir()
  const seed = rootAt(dir)
  for (const name of ['a', 'b', 'c']) {
    await seed.stack('cluster-deploy', name).write(sampleSnapshot(1), STATE)
    place(join(dir, 'cluster-deploy', name, 'snapshots', tempName(undefined, DEAD)))
  }
  const fs = new FaultyFs().failNth('readdir', 1, 'EIO', (path) => path.endsWith('/b/snapshots'))
  const errors: Array<{ where: string; code: unknown }> = []
  const result = await sweepTree(rootAt(dir, fs), {
    onError: (where, err) => errors.push({ where, code: (err as { code?: unknown }).code }),
  })
  t.ok(fs.fired, 'the fault was injected')
  t.same(errors, [{ where: 'cluster-deploy/b', code: 'storage-failure' }], 'the failed stack is named, as a disk fault')
  t.equal(result.failed, 1)
  t.equal(result.stacks, 3)
  t.same(
    ['a', 'c'].map((s) => temps(join(dir, 'cluster-deploy', s, 'snapshots'))),
    [[], []],
    'the other stacks were swept',
  )
})

t.test('a stopped whole-tree sweep ends between stacks and says so', async (t) => {
  const dir = t.testdir()
  const seed = rootAt(dir)
  for (const name of ['a', 'b', 'c']) await seed.stack('cluster-deploy', name).write(sampleSnapshot(1), STATE)
  const stop = new AbortController()
  stop.abort()
  const result = await sweepTree(rootAt(dir), { onError: () => {}, signal: stop.signal })
  t.same(result, { stacks: 0, removed: 0, failed: 0, stopped: true })
})

t.test('a retention run sweeps outside the stacks and in a locked stack it skips', async (t) => {
  const dir = t.testdir()
  const root = rootAt(dir)
  const store = root.stack('cluster-deploy', 'prod')
  await store.write(sampleSnapshot(1), STATE)
  await store.lock({ who: 'ci' }, {})
  const inStack = place(join(dir, 'cluster-deploy', 'prod', 'snapshots', tempName(undefined, DEAD)))
  mkdirSync(principalDir(dir, 'ci@runner'), { recursive: true })
  const outside = [
    place(join(dir, tempName(undefined, DEAD))),
    place(join(principalDir(dir, 'ci@runner'), tempName(undefined, DEAD))),
  ]
  const job = new RetentionJob(
    rootAt(dir),
    { policy: { keep: 1, maxAgeMs: null }, trashWindowMs: 86_400_000 },
    60_000,
    new MemoryAudit(),
    quiet,
  )
  const results = await job.runOnce()
  t.same(
    results.map((r) => r.skipped),
    ['locked'],
    'the locked stack was skipped by the prune',
  )
  t.notOk(existsSync(inStack), 'but swept')
  t.same(
    outside.filter((p) => existsSync(p)),
    [],
    'and the leftovers outside the stacks are gone',
  )
  t.ok(await store.inspectLock(), 'the lock is untouched')
})
