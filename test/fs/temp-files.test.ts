/**
 * Temp names carry their writer, and the sweep judges a temp file by it: a
 * dead writer's on this machine goes at once, a live writer's or another
 * host's only past the age bound, and nothing but `.tmp-` names is touched.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { nodeFs } from '../../src/fs/fs-ops.js'
import {
  HostProbe,
  type Liveness,
  type OwnerProbe,
  type OwnerRecord,
  type ProcessIdentity,
  parseProcStat,
} from '../../src/fs/owner.js'
import { sweepTemps, tempName, tempWriter } from '../../src/fs/temp-files.js'

const SELF: ProcessIdentity = { host: 'node-a', pid: 100, start: '5000', boot: 'boot-1', pidns: 'pid:[1]' }

/** A probe with a fixed self and a fixed verdict per pid: the sweep's rules without real processes. */
class TableProbe implements OwnerProbe {
  readonly self = SELF
  readonly asked: number[] = []
  readonly #verdicts: Map<number, Liveness>
  constructor(verdicts: Record<number, Liveness>) {
    this.#verdicts = new Map(Object.entries(verdicts).map(([pid, v]) => [Number(pid), v]))
  }
  async liveness(record: OwnerRecord): Promise<Liveness> {
    this.asked.push(record.pid)
    return this.#verdicts.get(record.pid) ?? 'unknown'
  }
}

t.test('a temp name tells this process, another process of this machine, and anything else apart', async (t) => {
  const mine = tempName(undefined, SELF)
  t.match(mine, /^\.tmp-[0-9a-f]{16}-100-5000-[0-9a-f-]{36}$/)
  t.same(tempWriter(mine, SELF), { kind: 'self' })
  t.same(tempWriter(tempName('removed', { ...SELF, pid: 7, start: '42' }), SELF), {
    kind: 'local',
    owner: { ...SELF, pid: 7, start: '42' },
  })
  t.same(
    tempWriter(tempName('kept', { ...SELF, start: '6000' }), SELF),
    { kind: 'local', owner: { ...SELF, start: '6000' } },
    'the same pid started at another time is another process',
  )
  t.same(tempWriter(tempName(undefined, { ...SELF, start: null }), SELF).kind, 'local', 'no start time: x')
  for (const other of [{ host: 'node-b' }, { boot: 'boot-2' }, { pidns: 'pid:[2]' }])
    t.same(tempWriter(tempName(undefined, { ...SELF, ...other }), SELF), { kind: 'foreign' }, JSON.stringify(other))
  for (const name of ['.tmp-0b7e4c1a-1f2e-4d3c-9a8b-7c6d5e4f3a2b', '.tmp-mutex-x', '.tmp-crashed'])
    t.same(tempWriter(name, SELF), { kind: 'foreign' }, `${name}: an older server's name carries no writer`)
})

t.test('a dead writer’s temp goes at once; live, unknown and foreign ones wait for the age bound', async (t) => {
  const dir = t.testdir()
  const now = Date.now()
  const young = new Date(now - 1_000)
  const old = new Date(now - 120_000)
  const files: Record<string, Date> = {
    [tempName('dead-young', { ...SELF, pid: 7 })]: young,
    [tempName('live-young', { ...SELF, pid: 8 })]: young,
    [tempName('live-old', { ...SELF, pid: 8 })]: old,
    [tempName('unknown-young', { ...SELF, pid: 9 })]: young,
    [tempName('self-young', SELF)]: young,
    [tempName('self-old', SELF)]: old,
    [tempName('foreign-young', { ...SELF, host: 'node-b', pid: 7 })]: young,
    [tempName('foreign-old', { ...SELF, host: 'node-b', pid: 7 })]: old,
    '.tmp-0b7e4c1a-1f2e-4d3c-9a8b-7c6d5e4f3a2b': young,
    '.tmp-crashed': old,
    // Never temp files of ours, however old: revs, the Go tool's temps, other dot files.
    '2026-07-10T12:00:00Z.json.enc': old,
    '.current.tmp': old,
    '.2026-07-10T12:00:00Z.json.enc.tmp': old,
    '.mutex': old,
  }
  for (const [name, mtime] of Object.entries(files)) {
    writeFileSync(join(dir, name), name)
    utimesSync(join(dir, name), mtime, mtime)
  }
  const probe = new TableProbe({ 7: 'dead', 8: 'alive', 9: 'unknown' })
  const removed = await sweepTemps(nodeFs, dir, { probe, maxAgeMs: 60_000, nowMs: now })
  const left = readdirSync(dir)
  const kept = (label: string) => left.some((n) => n.includes(`-${label}-`))
  t.notOk(kept('dead-young'), 'a dead writer’s young temp is removed')
  t.ok(kept('live-young'), 'a live writer’s young temp stays')
  t.notOk(kept('live-old'), 'a live writer’s temp past the bound is removed (a leaked one)')
  t.ok(kept('unknown-young'), 'a writer that cannot be judged is given the age bound')
  t.ok(kept('self-young'), 'this process’s temps in flight stay')
  t.notOk(kept('self-old'))
  t.ok(kept('foreign-young'), 'another host’s young temp stays, whatever its pid')
  t.notOk(kept('foreign-old'))
  t.ok(left.includes('.tmp-0b7e4c1a-1f2e-4d3c-9a8b-7c6d5e4f3a2b'), 'an older server’s young temp stays')
  t.notOk(left.includes('.tmp-crashed'), 'an older server’s old temp goes')
  for (const name of ['2026-07-10T12:00:00Z.json.enc', '.current.tmp', '.2026-07-10T12:00:00Z.json.enc.tmp', '.mutex'])
    t.ok(left.includes(name), `${name} is never swept`)
  t.equal(removed, 5)
  t.same(
    probe.asked.sort((a, b) => a - b),
    [7, 8, 9],
    'each writer of this machine is judged once; this process and other hosts are not asked about',
  )
})

t.test(
  'the sweep of a change leaves this process’s temps unlooked at; the periodic sweep still ages them',
  async (t) => {
    const dir = t.testdir()
    const now = Date.now()
    const old = new Date(now - 120_000)
    const own = tempName('self-old', SELF)
    const dead = tempName('dead', { ...SELF, pid: 7 })
    for (const name of [own, dead]) {
      writeFileSync(join(dir, name), name)
      utimesSync(join(dir, name), old, old)
    }
    const calls: string[] = []
    const counting = {
      ...nodeFs,
      lstat: ((path: string) => {
        calls.push(path)
        return nodeFs.lstat(path)
      }) as typeof nodeFs.lstat,
    }
    const probe = new TableProbe({ 7: 'dead' })
    t.equal(await sweepTemps(counting, dir, { probe, maxAgeMs: 60_000, nowMs: now, skipOwn: true }), 1)
    t.same(readdirSync(dir), [own], 'a dead writer’s temp goes, this process’s stays')
    t.same(calls, [], 'no lstat for a temp of this process')
    t.equal(await sweepTemps(counting, dir, { probe, maxAgeMs: 60_000, nowMs: now }), 1)
    t.same(readdirSync(dir), [], 'without skipOwn, a temp of this process past the bound is a leak, removed')
  },
)

t.test(
  'a temp that cannot be removed does not keep the sweep from the others; its error is thrown at the end',
  async (t) => {
    const dir = t.testdir()
    const names = [tempName('first', { ...SELF, pid: 7 }), tempName('second', { ...SELF, pid: 7 })].sort()
    for (const name of names) writeFileSync(join(dir, name), name)
    const failing = {
      ...nodeFs,
      unlink: ((path: string) =>
        path.endsWith(names[0]!)
          ? Promise.reject(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }))
          : nodeFs.unlink(path)) as typeof nodeFs.unlink,
    }
    const probe = new TableProbe({ 7: 'dead' })
    await t.rejects(sweepTemps(failing, dir, { probe, maxAgeMs: 60_000, nowMs: Date.now(), names }), { code: 'EACCES' })
    t.same(readdirSync(dir), [names[0]], 'the other dead writer’s temp was removed')
  },
)

t.test('a sweep of an absent directory removes nothing, and names read by the caller save the readdir', async (t) => {
  const dir = t.testdir()
  const probe = new TableProbe({ 7: 'dead' })
  t.equal(await sweepTemps(nodeFs, join(dir, 'absent'), { probe, maxAgeMs: 60_000, nowMs: Date.now() }), 0)
  const dead = tempName(undefined, { ...SELF, pid: 7 })
  writeFileSync(join(dir, dead), 'x')
  const listed = tempName(undefined, { ...SELF, pid: 7 })
  writeFileSync(join(dir, listed), 'x')
  await sweepTemps(nodeFs, dir, { probe, maxAgeMs: 60_000, nowMs: Date.now(), names: [listed] })
  t.same(readdirSync(dir), [dead], 'only the names given are judged')
})

t.test('on this host, a temp of an exited process goes and one of a running process stays', async (t) => {
  const dir = t.testdir()
  const probe = new HostProbe()
  t.ok(probe.self.start !== null, 'this host tells process start times (Linux)')
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' })
  t.teardown(() => child.kill('SIGKILL'))
  const pid = child.pid!
  const start = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))!.start
  const running = tempName('running', { ...probe.self, pid, start })
  const reused = tempName('reused', { ...probe.self, pid, start: String(Number(start) + 1) })
  writeFileSync(join(dir, running), 'x')
  writeFileSync(join(dir, reused), 'x')
  await sweepTemps(nodeFs, dir, { probe, maxAgeMs: 60_000, nowMs: Date.now() })
  t.same(readdirSync(dir), [running], 'a pid now naming a process started at another time is a dead writer')

  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
  await sweepTemps(nodeFs, dir, { probe, maxAgeMs: 60_000, nowMs: Date.now() })
  t.same(readdirSync(dir), [], 'once the writer was killed and reaped, its temp goes at once')
})
