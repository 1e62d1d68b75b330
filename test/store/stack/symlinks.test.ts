/** LocalStore never follows a symlink out of its root: directories, current, rev files and lock markers. */
import t from 'tap'
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LocalStore } from '../../../src/store/stack/local-store.js'
import { makeRoot, sampleSnapshot } from '../../helpers/store.js'
import { FACTORY, STATE, T0, type TapLike, codeOf, copyTree, fileTree, setup } from '../../helpers/local-store.js'

/** A root whose factory, stack or snapshots directory is a symlink to a Go tree outside the root. */
function symlinkedStack(t: TapLike, at: 'factory' | 'stack' | 'snapshots'): { store: LocalStore; outside: string } {
  const top = t.testdir()
  const outside = join(top, 'outside')
  const root = join(top, 'root')
  copyTree('noop', outside)
  mkdirSync(join(root, FACTORY, 'dev'), { recursive: true })
  const real = join(outside, FACTORY)
  if (at === 'factory') symlinkSync(real, join(root, 'linked'))
  if (at === 'stack') symlinkSync(join(real, 'dev'), join(root, FACTORY, 'linked'))
  if (at === 'snapshots') {
    mkdirSync(join(root, FACTORY, 'linked'))
    writeFileSync(join(root, FACTORY, 'linked', 'current'), `${T0}\n`)
    symlinkSync(join(real, 'dev', 'snapshots'), join(root, FACTORY, 'linked', 'snapshots'))
  }
  const storeRoot = makeRoot(root)
  return { store: at === 'factory' ? storeRoot.stack('linked', 'dev') : storeRoot.stack(FACTORY, 'linked'), outside }
}

for (const at of ['factory', 'stack', 'snapshots'] as const) {
  t.test(`a symlinked ${at} directory pointing outside the root is unsafe-path for every operation`, async (t) => {
    const { store, outside } = symlinkedStack(t, at)
    const before = fileTree(outside)
    const ops: Record<string, () => Promise<unknown>> = {
      list: () => store.list(),
      current: () => store.current(),
      get: () => store.get(T0),
      write: () => store.write(sampleSnapshot(), STATE),
      setCurrent: () => store.setCurrent(T0),
      delete: () => store.delete(T0, { force: true }),
      gc: () => store.gc({ keep: 0 }),
      lock: () => store.lock({ who: 'x' }, {}),
      forceUnlock: () => store.forceUnlock(),
    }
    if (at !== 'snapshots') {
      ops.currentRev = () => store.currentRev()
      ops.inspectLock = () => store.inspectLock()
    }
    for (const [name, op] of Object.entries(ops)) t.equal(await codeOf(op()), 'unsafe-path', name)
    t.same(fileTree(outside), before, 'nothing outside the root changed')
  })
}

t.test('a symlinked current is not followed', async (t) => {
  const { store, stackDir, dir } = setup(t)
  const rev = (await store.write(sampleSnapshot(), STATE)).rev
  writeFileSync(join(dir, 'elsewhere'), `${rev}\n`)
  symlinkSync(join(dir, 'elsewhere'), join(stackDir, 'current'))
  t.equal(await codeOf(store.currentRev()), 'unsafe-path')
  t.equal(await codeOf(store.current()), 'unsafe-path')
})

t.test('a symlinked snapshot file is not followed nor listed', async (t) => {
  const { store, snapshots, dir } = setup(t)
  const rev = (await store.write(sampleSnapshot(), STATE)).rev
  cpSync(join(snapshots, `${rev}.json.enc`), join(dir, 'elsewhere.json.enc'))
  symlinkSync(join(dir, 'elsewhere.json.enc'), join(snapshots, `${T0}_1.json.enc`))
  t.same(await store.list(), [rev])
  t.equal(await codeOf(store.get(`${T0}_1`)), 'unsafe-path')
})

t.test('a symlinked lock marker is not followed', async (t) => {
  const { store, stackDir, dir } = setup(t)
  await store.write(sampleSnapshot(), STATE)
  writeFileSync(join(dir, 'elsewhere'), '4242\n')
  symlinkSync(join(dir, 'elsewhere'), join(stackDir, 'lock'))
  t.equal(await codeOf(store.inspectLock()), 'unsafe-path')
  t.equal(await codeOf(store.lock({}, {})), 'unsafe-path')
})
