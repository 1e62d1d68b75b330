import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { foldsCase } from '../../src/fs/case-folding.js'
import { type FsOps, nodeFs } from '../../src/fs/fs-ops.js'
import { caseFoldingFs } from '../helpers/case-folding-fs.js'

t.test('a directory that tells case apart is detected as such, and the probe leaves nothing behind', async (t) => {
  const dir = join(t.testdir(), 'data')
  t.equal(await foldsCase(nodeFs, dir), false)
  t.same(readdirSync(dir), [])
})

t.test('a directory that folds case is detected, and the probe leaves nothing behind', async (t) => {
  const top = t.testdir()
  const dir = join(top, 'data')
  t.equal(await foldsCase(caseFoldingFs(top), dir), true)
  t.same(readdirSync(dir), [])
})

t.test('a probe that cannot be made throws the filesystem error', async (t) => {
  const readOnly: FsOps = {
    ...nodeFs,
    open: (async () => {
      throw Object.assign(new Error('read-only file system'), { code: 'EROFS' })
    }) as FsOps['open'],
  }
  await t.rejects(foldsCase(readOnly, t.testdir()), { code: 'EROFS' })
})
