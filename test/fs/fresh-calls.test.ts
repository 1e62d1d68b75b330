/**
 * FreshCalls shares one call among the callers who ask at once, and never
 * answers a caller with a call that started before it asked. The store's
 * reads of `current` and of revs go through it: a write acknowledged before
 * a read starts is seen by that read, however many readers run at once.
 */
import t from 'tap'
import { FreshCalls } from '../../src/fs/fresh-calls.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'

/** A call whose answer the test gives by hand. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

t.test('callers who ask while a call runs share the next call, which starts after it ends', async (t) => {
  const calls = new FreshCalls<string>()
  const started: { answer: ReturnType<typeof deferred<string>> }[] = []
  const call = () => {
    const answer = deferred<string>()
    started.push({ answer })
    return answer.promise
  }
  const first = calls.run('k', call)
  const waiting = Array.from({ length: 9 }, () => calls.run('k', call))
  t.equal(started.length, 1, 'the nine later callers do not start a call of their own yet')
  started[0]!.answer.resolve('before the change')
  t.equal(await first, 'before the change')
  await new Promise((r) => setImmediate(r))
  t.equal(started.length, 2, 'one more call starts, for all nine')
  started[1]!.answer.resolve('after the change')
  t.same(
    await Promise.all(waiting),
    Array(9).fill('after the change'),
    'none of them got the answer of the call that ran when they asked',
  )
  t.equal(started.length, 2)
  const later = calls.run('k', call)
  t.equal(started.length, 3, 'with nothing running, a caller starts a call at once')
  started[2]!.answer.resolve('idle')
  t.equal(await later, 'idle')
})

t.test('keys do not share; a failure is the answer of its callers only, and the next call runs', async (t) => {
  const calls = new FreshCalls<number>()
  let n = 0
  const a = deferred<number>()
  const first = calls.run('a', () => a.promise)
  const other = calls.run('b', async () => ++n)
  t.equal(await other, 1, 'another key runs at once')
  const joined = calls.run('a', async () => ++n)
  a.reject(new Error('EIO'))
  await t.rejects(first, /EIO/)
  t.equal(await joined, 2, 'the waiting caller got a call of its own, not the failure')
})

t.test('readers running at once see every write acknowledged before they began', async (t) => {
  const store = makeRoot(t.testdir()).stack('f1', 'busy')
  let acknowledged = ''
  let done = false
  const stale: string[] = []
  let reads = 0
  const reader = async () => {
    while (!done) {
      const expected = acknowledged
      const { rev } = await store.current().catch(() => ({ rev: '' }))
      reads++
      if (rev < expected) stale.push(`${rev} < ${expected}`)
    }
  }
  const readers = Array.from({ length: 8 }, reader)
  for (let i = 0; i < 40; i++) {
    const { rev } = await store.write(sampleSnapshot(i, 'busy'), { payloadType: 'state', makeCurrent: true })
    acknowledged = rev
  }
  done = true
  await Promise.all(readers)
  t.ok(reads >= 40, `${reads} reads`)
  t.same(stale, [], 'no read began after a write was acknowledged and answered an older current')
})
