/**
 * The audit file's durability: every event recorded is in the file and
 * fsynced by close(), an event is fsynced within --audit-fsync without
 * close, 0 fsyncs before record() resolves, and a failing fsync is reported
 * without losing the line. Real files; the fsync calls are counted by a
 * wrapper around the real filesystem.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import { FileAuditLog } from '../src/audit.js'
import { SystemClock } from '../src/clock.js'
import { waitFor } from './helpers/wait.js'

/** The real `open`, counting the fsyncs made through it, by path. */
class CountingFs {
  readonly syncs: string[] = []
  readonly open = (async (path: string, flags?: string) => {
    const handle = await fsp.open(path, flags)
    const sync = handle.sync.bind(handle)
    handle.sync = async () => {
      await sync()
      this.syncs.push(path)
    }
    return handle
  }) as typeof fsp.open
}

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)

t.test('every event recorded is in the file and fsynced by close', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'logs', 'audit.jsonl')
  const fs = new CountingFs()
  // An interval far longer than the test: only close() can fsync here.
  const audit = new FileAuditLog(file, new SystemClock(), (err) => t.fail(String(err)), { fsyncMs: 3_600_000, fs })
  for (const action of ['snapshot.write', 'lock.acquire', 'snapshot.read'])
    await audit.record({ action, factory: 'f1', stack: 's1' })
  t.same(fs.syncs, [], 'nothing was fsynced before close')
  await audit.close()
  t.same(
    lines(file).map((e) => e.action),
    ['snapshot.write', 'lock.acquire', 'snapshot.read'],
  )
  t.same(fs.syncs, [file, join(dir, 'logs')], 'the file, then its directory (the file was created), once each')
})

t.test('an event is fsynced within the interval without close', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'audit.jsonl')
  const fs = new CountingFs()
  const audit = new FileAuditLog(file, new SystemClock(), (err) => t.fail(String(err)), { fsyncMs: 20, fs })
  const fileSyncs = () => fs.syncs.filter((p) => p === file).length
  await audit.record({ action: 'snapshot.write' })
  await waitFor(() => fileSyncs() === 1, 20_000, 'the interval fsync')
  await audit.record({ action: 'current.set' })
  await waitFor(() => fileSyncs() === 2, 20_000, 'the fsync of the next line')
  t.equal(lines(file).length, 2)
  await audit.close() // before the testdir goes
})

t.test('with an interval of 0 each event is fsynced before record resolves', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'audit.jsonl')
  const fs = new CountingFs()
  const audit = new FileAuditLog(file, new SystemClock(), (err) => t.fail(String(err)), { fsyncMs: 0, fs })
  await audit.record({ action: 'snapshot.write' })
  t.equal(fs.syncs.filter((p) => p === file).length, 1)
  await audit.record({ action: 'snapshot.read' })
  t.equal(fs.syncs.filter((p) => p === file).length, 2)
  await audit.close()
  t.equal(fs.syncs.filter((p) => p === file).length, 2, 'close has nothing left to fsync')
})

t.test('a failing fsync is reported and the line stays in the file', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'audit.jsonl')
  const errors: unknown[] = []
  const failing = {
    open: (async () => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })
    }) as unknown as typeof fsp.open,
  }
  const audit = new FileAuditLog(file, new SystemClock(), (err) => errors.push(err), { fsyncMs: 0, fs: failing })
  await audit.record({ action: 'snapshot.write' })
  t.match(errors, [{ code: 'EIO' }])
  t.equal(lines(file).length, 1)
})
