import t from 'tap'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import { lstatIfPresent, nodeFs } from '../../src/fs/fs-ops.js'

// nodeFs.lstat goes through the callback API (cheaper per call); it must answer exactly as fs.promises.lstat does.

t.test('lstat answers what fs.promises.lstat answers, for a file, a directory and a symlink', async (t) => {
  const dir = t.testdir()
  writeFileSync(join(dir, 'file'), 'twelve bytes')
  mkdirSync(join(dir, 'sub'))
  symlinkSync('file', join(dir, 'link'))
  for (const name of ['file', 'sub', 'link']) {
    const path = join(dir, name)
    const [ours, theirs] = [await nodeFs.lstat(path), await fsp.lstat(path)]
    t.same(
      { ...ours, kind: [ours.isFile(), ours.isDirectory(), ours.isSymbolicLink()] },
      { ...theirs, kind: [theirs.isFile(), theirs.isDirectory(), theirs.isSymbolicLink()] },
      name,
    )
  }
  t.equal((await nodeFs.lstat(join(dir, 'file'))).size, 12)
  t.ok((await nodeFs.lstat(join(dir, 'link'))).isSymbolicLink(), 'a symlink is not followed')
  const big = await nodeFs.lstat(join(dir, 'file'), { bigint: true })
  t.equal(big.size, 12n, 'the bigint option is honoured')
})

t.test('lstat fails as fs.promises.lstat does: same code, syscall and path', async (t) => {
  const dir = t.testdir()
  writeFileSync(join(dir, 'file'), 'x')
  for (const path of [join(dir, 'absent'), join(dir, 'file', 'below')]) {
    const ours = await nodeFs.lstat(path).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => err,
    )
    const theirs = await fsp.lstat(path).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => err,
    )
    t.ok(ours instanceof Error, `${path} fails`)
    t.same(
      { code: ours?.code, syscall: ours?.syscall, path: ours?.path, errno: ours?.errno, message: ours?.message },
      {
        code: theirs?.code,
        syscall: theirs?.syscall,
        path: theirs?.path,
        errno: theirs?.errno,
        message: theirs?.message,
      },
    )
  }
  t.equal(await lstatIfPresent(nodeFs, join(dir, 'absent')), undefined, 'absent reads as undefined')
  await t.rejects(lstatIfPresent(nodeFs, join(dir, 'file', 'below')), { code: 'ENOTDIR' }, 'other errors are thrown')
})
