/**
 * A write's `admit` rule runs inside the write's critical section, against
 * the current that the write replaces: a concurrent write's rule waits, then
 * sees the first write as current. This is what makes Terraform's
 * lineage/serial rule atomic with the write it guards.
 */
import t from 'tap'
import type { Snapshot } from '../../src/store/store.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'

const STATE = { payloadType: 'state', makeCurrent: true }

t.test('two concurrent writes: the second rule sees the first write as current', async (t) => {
  const store = makeRoot(t.testdir()).stack('f1', 's1')
  const seen: Array<string | undefined> = []
  const admit = (current: Snapshot | undefined): 'write' => {
    seen.push(current?.rev)
    return 'write'
  }
  const [a, b] = await Promise.all([
    store.write(sampleSnapshot(1), { ...STATE, admit }),
    store.write(sampleSnapshot(2), { ...STATE, admit }),
  ])
  const [first, second] = [a, b].sort((x, y) => (x.rev < y.rev ? -1 : 1))
  t.same(seen, [undefined, first!.rev], 'the first rule saw no current, the second saw the first write')
  t.equal(second!.current, true)
})

t.test('a rule that refuses what is now current refuses the racing write, and nothing of it is stored', async (t) => {
  const store = makeRoot(t.testdir()).stack('f1', 's1')
  // "Only the first write of a stack": both racers start from an empty stack; only one may pass.
  const firstOnly = (current: Snapshot | undefined): 'write' => {
    if (current !== undefined) throw Object.assign(new Error('not the first write'), { code: 'refused' })
    return 'write'
  }
  const results = await Promise.allSettled(
    [1, 2, 3, 4].map((i) => store.write(sampleSnapshot(i), { ...STATE, admit: firstOnly })),
  )
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one write passed')
  t.equal(results.filter((r) => r.status === 'rejected').length, 3, 'the others were refused')
  t.equal((await store.list()).length, 1, 'and only one rev is stored')
})

t.test("a rule answering 'unchanged' stores nothing and names current", async (t) => {
  const store = makeRoot(t.testdir()).stack('f1', 's1')
  const { rev } = await store.write(sampleSnapshot(1), STATE)
  const outcome = await store.write(sampleSnapshot(1), { ...STATE, admit: () => 'unchanged' })
  t.same(outcome, { rev, current: true, written: false })
  t.same(await store.list(), [rev])
})

t.test('a refused rule leaves no rev and no temp file behind', async (t) => {
  const dir = t.testdir()
  const store = makeRoot(dir).stack('f1', 's1')
  await store.write(sampleSnapshot(1), STATE)
  await t.rejects(
    store.write(sampleSnapshot(2), {
      ...STATE,
      admit: () => {
        throw new Error('refused')
      },
    }),
    /refused/,
  )
  t.equal((await store.list()).length, 1)
  const { readdirSync } = await import('node:fs')
  t.same(
    readdirSync(`${dir}/f1/s1/snapshots`).filter((n) => n.startsWith('.')),
    [],
    'no temp file left',
  )
})
