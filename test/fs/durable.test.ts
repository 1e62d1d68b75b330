/**
 * replaceAtomic when the directory fsync after its rename fails: readers
 * must then see what they saw before (the old file back, or no file when
 * there was none), or, when even that cannot be done, the error says the
 * new content is in place. Checked on the real disk, names and bytes.
 */
import t from 'tap'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isRenamed, replaceAtomic } from '../../src/fs/durable.js'
import type { FsOps } from '../../src/fs/fs-ops.js'
import { FaultyFs } from '../helpers/faulty-fs.js'

/** A FaultyFs failing the fsync of `dir` itself (not of a file in it). */
function failingDirSync(dir: string): FaultyFs {
  return new FaultyFs().failNth('sync', 1, 'EIO', (path) => path === dir)
}

t.test('a replacement whose directory fsync succeeds leaves the new file and nothing else', async (t) => {
  const dir = t.testdir({ current: 'old\n' })
  await replaceAtomic(new FaultyFs(), dir, 'current', Buffer.from('new\n'))
  t.equal(readFileSync(join(dir, 'current'), 'utf8'), 'new\n')
  t.same(readdirSync(dir), ['current'], 'no temp file or kept copy is left')
})

t.test(
  'a failed directory fsync after the rename puts the old file back: the error means nothing changed',
  async (t) => {
    const dir = t.testdir({ current: 'old\n' })
    const fs = failingDirSync(dir)
    const err = await replaceAtomic(fs, dir, 'current', Buffer.from('new\n')).then(
      () => undefined,
      (e: unknown) => e,
    )
    t.ok(fs.fired, 'the directory fsync failed')
    t.match(err, { code: 'EIO' }, 'the fsync error is thrown')
    t.notOk(isRenamed(err), 'not marked as changed')
    t.equal(readFileSync(join(dir, 'current'), 'utf8'), 'old\n', 'the old content is back')
    t.same(readdirSync(dir), ['current'], 'and nothing else is left')
  },
)

t.test('a failed directory fsync when there was no file removes the new one again', async (t) => {
  const dir = t.testdir({})
  const err = await replaceAtomic(failingDirSync(dir), dir, 'current', Buffer.from('new\n')).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.match(err, { code: 'EIO' })
  t.notOk(isRenamed(err))
  t.notOk(existsSync(join(dir, 'current')), 'no file, as before')
  t.same(readdirSync(dir), [])
})

t.test('when the old file cannot be put back either, the error says the new content is in place', async (t) => {
  const dir = t.testdir({ current: 'old\n' })
  const faulty = failingDirSync(dir)
  let renames = 0
  // The second rename onto `current` is the undo: it fails too, as on a volume going bad.
  const fs: FsOps = {
    ...faulty,
    rename: async (from, to) => {
      if (String(to) === join(dir, 'current') && ++renames === 2)
        throw Object.assign(new Error('EIO: injected'), { code: 'EIO' })
      return faulty.rename(from, to)
    },
  }
  const err = await replaceAtomic(fs, dir, 'current', Buffer.from('new\n')).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.match(err, { code: 'EIO' })
  t.ok(isRenamed(err), 'marked: the change is visible and may not be durable')
  t.equal(readFileSync(join(dir, 'current'), 'utf8'), 'new\n', 'which is what the disk shows')
  t.same(readdirSync(dir), ['current'], 'the kept copy is removed')
})

t.test('a failure before the rename changes nothing and leaves no temp file', async (t) => {
  for (const method of ['link', 'rename', 'open'] as const) {
    const dir = t.testdir({ current: 'old\n' })
    writeFileSync(join(dir, 'current'), 'old\n')
    const fs = new FaultyFs().failNth(method, 1, 'ENOSPC')
    await t.rejects(replaceAtomic(fs, dir, 'current', Buffer.from('new\n')), { code: 'ENOSPC' }, `${method} fails`)
    t.equal(readFileSync(join(dir, 'current'), 'utf8'), 'old\n', `${method}: the old content stays`)
    t.same(readdirSync(dir), ['current'], `${method}: nothing else is left`)
  }
})
