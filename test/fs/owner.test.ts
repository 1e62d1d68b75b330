/**
 * Owner records of the mutex: what tells a live owner from a dead one on
 * this host (pid, process start time, boot id, pid namespace), and what is
 * left to the stale time (another host, boot or namespace).
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  HostProbe,
  type OwnerRecord,
  decodeRecord,
  encodeRecord,
  isSelf,
  newRecord,
  parseProcStat,
} from '../../src/fs/owner.js'

/** A /proc stat line; `comm` may hold spaces and parentheses, as a process may name itself anything. */
function statLine(pid: number, comm: string, state: string, start: string): string {
  const fields = [
    state,
    '1',
    String(pid),
    String(pid),
    '0',
    '-1',
    '4194560',
    '100',
    '0',
    '0',
    '0',
    '3',
    '1',
    '0',
    '0',
    '20',
    '0',
    '1',
    '0',
    start,
    '1000',
    '100',
  ]
  return `${pid} (${comm}) ${fields.join(' ')}\n`
}

t.test('a stat line is read after the last parenthesis, whatever the command name holds', async (t) => {
  t.same(parseProcStat(statLine(42, 'node', 'S', '12345')), { state: 'S', start: '12345' })
  t.same(
    parseProcStat(statLine(42, 'a) (b) S 1 2 3', 'R', '987')),
    { state: 'R', start: '987' },
    'a name that mimics fields does not shift them',
  )
  t.equal(parseProcStat('garbage'), undefined)
  t.equal(parseProcStat('1 (x) S 1 2'), undefined, 'a short line has no start time')
})

t.test('a record reads back as written, and anything else is no record', async (t) => {
  const probe = new HostProbe()
  const record = newRecord(probe.self)
  t.same(decodeRecord(encodeRecord(record)), record)
  t.ok(isSelf(record, probe.self), 'a record of this process is recognised as its own')
  t.notOk(isSelf({ ...record, start: '1' }, probe.self), 'the same pid with another start time is another process')
  for (const bad of [
    '',
    '{',
    'null',
    '[]',
    '{"id":"x","host":"h","pid":1}',
    JSON.stringify({ ...record, pid: -1 }),
    JSON.stringify({ ...record, start: 5 }),
  ]) {
    t.equal(decodeRecord(Buffer.from(bad)), undefined, `not a record: ${bad.slice(0, 40)}`)
  }
})

t.test('on this host a running owner is alive, and an owner that exited or whose pid was reused is dead', async (t) => {
  const probe = new HostProbe()
  t.not(probe.self.start, null, 'this Linux host tells process start times')
  t.not(probe.self.boot, null, 'and its boot id')
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  t.teardown(() => child.kill('SIGKILL'))
  const pid = child.pid!
  const start = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))!.start
  const record: OwnerRecord = { ...newRecord(probe.self), pid, start }
  t.equal(await probe.liveness(record), 'alive', 'a running process')
  t.equal(
    await probe.liveness({ ...record, start: String(Number(start) + 1) }),
    'dead',
    'its pid with another start time: the pid was reused',
  )
  t.equal(await probe.liveness({ ...record, host: 'elsewhere' }), 'unknown', 'another host: left to the stale time')
  t.equal(
    await probe.liveness({ ...record, boot: '00000000-0000-0000-0000-000000000000' }),
    'unknown',
    'another boot (or a machine of the same name): left to the stale time',
  )
  t.equal(
    await probe.liveness({ ...record, pidns: 'pid:[1]' }),
    'unknown',
    'another pid namespace (a container): left to the stale time',
  )
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
  t.equal(await probe.liveness(record), 'dead', 'the same process once killed and reaped')
})

t.test('a zombie owner (exited, not yet reaped) is dead; without start times only a missing pid is', async (t) => {
  // A proc tree of our own: this process, and a zombie owner.
  const proc = t.testdir()
  mkdirSync(join(proc, 'self', 'ns'), { recursive: true })
  mkdirSync(join(proc, 'sys', 'kernel', 'random'), { recursive: true })
  mkdirSync(join(proc, '777'))
  writeFileSync(join(proc, 'self', 'stat'), statLine(process.pid, 'node', 'R', '100'))
  writeFileSync(join(proc, 'sys', 'kernel', 'random', 'boot_id'), '11111111-2222-3333-4444-555555555555\n')
  symlinkSync('pid:[4026531836]', join(proc, 'self', 'ns', 'pid'))
  writeFileSync(join(proc, '777', 'stat'), statLine(777, 'node', 'Z', '50'))
  const probe = new HostProbe(proc)
  t.same(
    { start: probe.self.start, boot: probe.self.boot, pidns: probe.self.pidns },
    { start: '100', boot: '11111111-2222-3333-4444-555555555555', pidns: 'pid:[4026531836]' },
  )
  const owner: OwnerRecord = { ...newRecord(probe.self), pid: 777, start: '50' }
  t.equal(await probe.liveness(owner), 'dead', 'a zombie')
  writeFileSync(join(proc, '777', 'stat'), statLine(777, 'node', 'S', '50'))
  t.equal(await probe.liveness(owner), 'alive', 'the same process running')
  t.equal(await probe.liveness({ ...owner, pid: 778 }), 'dead', 'a pid with no proc entry')

  // A host without /proc: start times unknown, kill(pid, 0) only proves absence.
  const bare = new HostProbe(join(proc, 'absent'))
  t.same(
    { start: bare.self.start, boot: bare.self.boot, pidns: bare.self.pidns },
    { start: null, boot: null, pidns: null },
  )
  t.equal(
    await bare.liveness({ ...newRecord(bare.self), pid: 4_194_305 }),
    'dead',
    'a pid above the kernel limit (2^22)',
  )
  t.equal(await bare.liveness({ ...newRecord(bare.self), pid: 1 }), 'unknown', 'an existing pid may have been reused')
})
