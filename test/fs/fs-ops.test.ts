import t from 'tap'
import { constants, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
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

// nodeFs.open gives a plain descriptor through the callback API (a FileHandle costs twice the CPU); it must behave as one.

t.test(
  'an opened file writes pieces one after another, reads at a position and to its end, stats and syncs',
  async (t) => {
    const dir = t.testdir()
    const path = join(dir, 'file')
    const file = await nodeFs.open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600)
    await file.writeFile(Buffer.from('hello '))
    await file.writeFile(Buffer.alloc(0))
    await file.writeFile(Buffer.from('world'))
    await file.sync()
    t.equal((await file.stat()).size, 11)
    await file.close()
    t.equal(readFileSync(path, 'utf8'), 'hello world', 'the pieces follow one another')
    t.equal(statSync(path).mode & 0o777, 0o600, 'the mode is honoured')

    const reader = await nodeFs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
    const out = Buffer.alloc(8, '.')
    t.same(await reader.read(out, 2, 5, 6), { bytesRead: 5 }, 'a read at a position')
    t.equal(out.toString(), '..world.')
    t.equal((await reader.read(out, 0, 8, 11)).bytesRead, 0, 'a read at the end reads nothing')
    t.equal(
      (await reader.readFile()).toString(),
      'hello world',
      'readFile reads from the position (the start: reads at a position do not move it)',
    )
    t.equal((await reader.readFile()).length, 0, 'and leaves the position at the end')
    t.ok((await reader.stat()).isFile())
    await reader.close()
    await reader.close()
    t.pass('a second close does nothing')
    await t.rejects(reader.stat(), { code: 'EBADF' }, 'a closed file refuses further calls')
  },
)

t.test('a large piece is written whole', async (t) => {
  const path = join(t.testdir(), 'large')
  const data = Buffer.alloc(8 * 1024 * 1024 + 3, 7)
  const file = await nodeFs.open(path, 'wx', 0o600)
  await file.writeFile(data)
  await file.close()
  t.ok(readFileSync(path).equals(data))
})

t.test('open fails as fs.promises.open does: same code, syscall, path and message', async (t) => {
  const dir = t.testdir()
  writeFileSync(join(dir, 'file'), 'x')
  symlinkSync('file', join(dir, 'link'))
  const cases: Array<[string, string | number]> = [
    [join(dir, 'file'), 'wx'],
    [join(dir, 'absent'), 'r'],
    [join(dir, 'link'), constants.O_RDONLY | constants.O_NOFOLLOW],
    [join(dir, 'file', 'below'), 'r'],
  ]
  for (const [path, flags] of cases) {
    const ours = await nodeFs.open(path, flags).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => err,
    )
    const theirs = await fsp.open(path, flags).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => err,
    )
    t.ok(ours instanceof Error, `${path} (${flags}) fails`)
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
})

t.test('the path calls answer and fail as fs.promises does', async (t) => {
  const dir = t.testdir()
  const a = join(dir, 'a')
  writeFileSync(a, 'content')
  await nodeFs.link(a, join(dir, 'b'))
  t.equal(statSync(a).nlink, 2, 'link')
  await nodeFs.rename(join(dir, 'b'), join(dir, 'c'))
  t.same((await nodeFs.readdir(dir)).sort(), ['a', 'c'], 'rename, readdir')
  const typed = await nodeFs.readdir(dir, { withFileTypes: true })
  t.same(
    typed.map((e) => [e.name, e.isFile()]).sort(),
    [
      ['a', true],
      ['c', true],
    ],
    'readdir with file types',
  )
  t.equal((await nodeFs.readFile(a)).toString(), 'content', 'readFile')
  await nodeFs.utimes(a, 1000, 2000)
  t.equal(statSync(a).mtimeMs, 2_000_000, 'utimes')
  t.equal(
    await nodeFs.mkdir(join(dir, 'x', 'y'), { recursive: true }),
    join(dir, 'x'),
    'mkdir answers the first directory made',
  )
  await nodeFs.rmdir(join(dir, 'x', 'y'))
  await nodeFs.unlink(join(dir, 'c'))
  t.same((await nodeFs.readdir(dir)).sort(), ['a', 'x'], 'rmdir, unlink')
  for (const [name, ours, theirs] of [
    ['link', () => nodeFs.link(a, join(dir, 'a')), () => fsp.link(a, join(dir, 'a'))],
    ['unlink', () => nodeFs.unlink(join(dir, 'absent')), () => fsp.unlink(join(dir, 'absent'))],
    ['readdir', () => nodeFs.readdir(a), () => fsp.readdir(a)],
    ['rmdir', () => nodeFs.rmdir(dir), () => fsp.rmdir(dir)],
  ] as const) {
    const [e1, e2] = await Promise.all([
      ours().then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      ),
      theirs().then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      ),
    ])
    t.same(
      { code: e1?.code, syscall: e1?.syscall, message: e1?.message },
      { code: e2?.code, syscall: e2?.syscall, message: e2?.message },
      name,
    )
    t.ok(e1 instanceof Error, `${name} fails`)
  }
})
