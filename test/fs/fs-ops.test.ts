import t, { type Test } from 'tap'
import { constants, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import { lstatIfPresent, nodeFs } from '../../src/fs/fs-ops.js'

/** Both calls fail, and ours as fs.promises does: the same code, syscall, path, errno and message. */
async function failsAlike(t: Test, ours: Promise<unknown>, theirs: Promise<unknown>, what: string): Promise<void> {
  const [mine, node] = await Promise.all(
    [ours, theirs].map((call) =>
      call.then(
        () => undefined,
        (err: NodeJS.ErrnoException) => err,
      ),
    ),
  )
  const fields = (e: NodeJS.ErrnoException | undefined) => ({
    code: e?.code,
    syscall: e?.syscall,
    path: e?.path,
    errno: e?.errno,
    message: e?.message,
  })
  t.ok(mine instanceof Error, `${what} fails`)
  t.same(fields(mine), fields(node), `${what} fails as fs.promises does`)
}

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
  for (const path of [join(dir, 'absent'), join(dir, 'file', 'below')])
    await failsAlike(t, nodeFs.lstat(path), fsp.lstat(path), path)
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

t.test('readFile reads a file whole, at every size around its first read', async (t) => {
  const dir = t.testdir()
  for (const size of [0, 1, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 1024 * 1024 + 7]) {
    const path = join(dir, `f${size}`)
    const data = Buffer.alloc(size)
    for (let i = 0; i < size; i++) data[i] = (i * 31) & 0xff
    writeFileSync(path, data)
    const file = await nodeFs.open(path, 'r')
    const read = await file.readFile()
    t.ok(read.equals(data), `${size} bytes`)
    t.equal((await file.readFile()).length, 0, `${size} bytes: the position is left at the end`)
    await file.close()
  }
})

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
  for (const [path, flags] of cases)
    await failsAlike(t, nodeFs.open(path, flags), fsp.open(path, flags), `${path} (${flags})`)
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
  await failsAlike(t, nodeFs.link(a, join(dir, 'a')), fsp.link(a, join(dir, 'a')), 'link onto a name taken')
  await failsAlike(t, nodeFs.unlink(join(dir, 'absent')), fsp.unlink(join(dir, 'absent')), 'unlink of nothing')
  await failsAlike(t, nodeFs.readdir(a), fsp.readdir(a), 'readdir of a file')
  await failsAlike(t, nodeFs.rmdir(dir), fsp.rmdir(dir), 'rmdir of a full directory')
})
