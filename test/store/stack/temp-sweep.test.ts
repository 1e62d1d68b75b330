/**
 * Leftovers of killed writers: a writer SIGKILLed between its temp write
 * and its publication leaves a temp file naming it; the next change of the
 * stack (under the stack's mutex), the next start and the retention job
 * remove it at once, because its writer is gone. A live writer's temp file
 * stays. Temp files are never listed or counted, and the Go tool's own temp
 * names are left alone.
 */
import t, { type Test } from 'tap'
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempName } from '../../../src/fs/temp-files.js'
import { type Child, ChildScripts } from '../../helpers/child.js'
import { makeRoot, sampleSnapshot } from '../../helpers/store.js'

const children = new ChildScripts(t.testdir())
const FACTORY = 'cluster-deploy'
const STATE = { payloadType: 'state' } as const

/** The `.tmp-` names in `dir` (none when it is absent). */
function temps(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith('.tmp-')) : []
}

/** A stack with one rev, written by a store that stays open (so its first-use sweep is behind it). */
async function stackWithRev(t: Test) {
  const dir = t.testdir()
  const root = makeRoot(dir)
  const store = root.stack(FACTORY, 'dev')
  const first = (await store.write(sampleSnapshot(1), STATE)).rev
  const stackDir = join(dir, FACTORY, 'dev')
  return { dir, root, store, first, stackDir, snapshots: join(stackDir, 'snapshots') }
}

/** Starts a paused writer on the stack, sends it `command`, and waits until it stops before publishing. */
async function pausedWriter(t: Test, dir: string, command: string): Promise<{ child: Child; temp: string }> {
  const child = children.spawn(t, 'paused-writer', [dir, FACTORY, 'dev'])
  await child.line('ready')
  child.send(command)
  const temp = (await child.line('paused ')).slice('paused '.length)
  return { child, temp }
}

t.test('a writer killed between temp write and link leaves a temp file the next write removes', async (t) => {
  const { dir, store, first, snapshots } = await stackWithRev(t)
  const { child, temp } = await pausedWriter(t, dir, 'write 2')
  t.same(temps(snapshots), [temp], 'the paused writer wrote its temp file, named after it')
  t.ok(temp.includes(`-${child.pid}-`), 'the temp name carries the writer pid')
  t.equal((await child.kill()).signal, 'SIGKILL')
  t.same(temps(snapshots), [temp], 'the kill leaves it behind')

  const second = (await store.write(sampleSnapshot(3), STATE)).rev
  t.same(temps(snapshots), [], 'the next write removed the dead writer’s temp file at once')
  t.same(await store.list(), [first, second], 'only the acknowledged revs are listed')
  t.same(readdirSync(snapshots).sort(), [`${first}.json.enc`, `${second}.json.enc`].sort())
})

t.test('a setCurrent killed before its rename leaves temp files the next lock removes', async (t) => {
  const { dir, store, first, stackDir } = await stackWithRev(t)
  const { child, temp } = await pausedWriter(t, dir, `set ${first}`)
  t.ok(temps(stackDir).includes(temp), 'the new pointer waits under a temp name')
  await child.kill()
  t.ok(temps(stackDir).length > 0, 'the kill leaves the temp files in the stack directory')

  const holder = await store.lock({ who: 'ci' }, {})
  t.same(temps(stackDir), [], 'the next change of the stack removed them')
  await store.unlock(holder.id)
  t.same(await store.list(), [first])
})

t.test('a live writer’s temp file stays until it is gone', async (t) => {
  const { dir, store, first, snapshots } = await stackWithRev(t)
  const { child, temp } = await pausedWriter(t, dir, 'write 2')
  t.same(await store.list(), [first], 'a temp file in flight is not listed')
  const root = makeRoot(dir)
  t.same((await root.summary(FACTORY, 'dev')).revs, 1, 'nor counted')
  t.same(temps(snapshots), [temp], 'reads leave a live writer’s temp file in place')
  await child.kill()
  await makeRoot(dir).stack(FACTORY, 'dev').list()
  t.same(temps(snapshots), [], 'a fresh start removes it once the writer is gone')
})

t.test('the retention job sweeps dead writers’ temp files from the history, the stack and the trash', async (t) => {
  const { dir, root, store, stackDir, snapshots } = await stackWithRev(t)
  await store.write(sampleSnapshot(2), STATE)
  await store.prune({ policy: { keep: 1, maxAgeMs: null }, purgeWindowMs: undefined })
  const trash = join(stackDir, '.trash')
  // A dead writer: a child that ran and was reaped; its pid and start time name no running process.
  const { child, temp } = await pausedWriter(t, dir, 'write 9')
  await child.kill()
  const dead = /^\.tmp-[0-9a-f]+-\d+-(\d+|x)-/.exec(temp)![0] // the writer part of its temp names
  for (const d of [stackDir, trash]) writeFileSync(join(d, `${dead}removed-0`), 'left by a killed change')
  t.equal(temps(snapshots).length + temps(stackDir).length + temps(trash).length, 3)

  await root.stack(FACTORY, 'dev').purgeTrash(86_400_000)
  t.same([...temps(snapshots), ...temps(stackDir), ...temps(trash)], [], 'one retention run removed all three')
})

t.test('temp files are never listed or counted', async (t) => {
  const { dir, store, first, stackDir, snapshots } = await stackWithRev(t)
  const second = (await store.write(sampleSnapshot(2), STATE)).rev
  await store.prune({ policy: { keep: 1, maxAgeMs: null }, purgeWindowMs: undefined })
  const trash = join(stackDir, '.trash')
  // This process's temp names: a live writer's, so no sweep removes them while the test looks.
  for (const d of [snapshots, trash]) {
    writeFileSync(join(d, tempName()), 'x')
    writeFileSync(join(d, `${tempName()}.json.enc`), 'x')
  }
  writeFileSync(join(stackDir, tempName('kept')), 'x')
  mkdirSync(join(dir, FACTORY, tempName()))
  writeFileSync(join(dir, tempName()), 'x')

  const root = makeRoot(dir)
  const again = root.stack(FACTORY, 'dev')
  t.same(await again.list(), [second], 'history')
  t.same(
    (await again.trashed()).map((e) => e.rev),
    [first],
    'trash',
  )
  t.same(await root.factories(), [FACTORY], 'factories')
  t.same(await root.stacks(FACTORY), ['dev'], 'stacks')
  const summary = await root.summary(FACTORY, 'dev')
  t.equal(summary.revs, 1, 'the summary (and the revs metric read from it) counts revs only')
  t.same((await again.gc({ keep: 0, dryRun: true })).deleted, [second], 'gc sees revs only')
  t.equal(temps(snapshots).length, 2, 'and none of them removed a live writer’s temp file')
})

t.test('the Go tool’s temp files are never listed and never removed', async (t) => {
  const { dir, store, first, stackDir, snapshots } = await stackWithRev(t)
  const old = new Date(Date.now() - 86_400_000)
  const goTemps = [join(stackDir, '.current.tmp'), join(snapshots, `.${first}.json.enc.tmp`)]
  for (const path of goTemps) {
    writeFileSync(path, 'the Go tool writes these, then renames them')
    utimesSync(path, old, old)
  }
  await makeRoot(dir).stack(FACTORY, 'dev').list()
  await store.write(sampleSnapshot(2), STATE)
  await store.purgeTrash(0)
  t.same(
    goTemps.filter((path) => existsSync(path)),
    goTemps,
    'a start, a write and a retention run leave them',
  )
  t.equal((await store.list()).length, 2)
})
