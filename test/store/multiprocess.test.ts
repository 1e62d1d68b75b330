import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseRev } from '../../src/store/rev.js'
import { type Child, ChildScripts } from '../helpers/child.js'
import { mutexCycle } from '../helpers/mutex-cycle.js'
import { fixtureKeyring, makeRoot, sampleSnapshot } from '../helpers/store.js'

const children = new ChildScripts(t.testdir())

/** Starts every child, waits until all have loaded, then sends `go` to all at once. */
async function startTogether(started: Child[]): Promise<void> {
  for (const child of started) await child.line('ready')
  for (const child of started) child.send('go')
}

/** The `wrote <rev> <marker>` acknowledgements of a child, as rev -> marker. */
function writes(child: Child): Map<string, string> {
  const map = new Map<string, string>()
  for (const line of child.lines) {
    const [word, rev, marker] = line.split(' ')
    if (word === 'wrote' && rev !== undefined && marker !== undefined) map.set(rev, marker)
  }
  return map
}

/** Reads every rev of `stack` and returns the revs whose document is not the one written under it. */
async function misread(dir: string, stack: string, expected: Map<string, string>): Promise<string[]> {
  const store = makeRoot(dir, { encrypter: fixtureKeyring() }).stack('cluster-deploy', stack)
  const wrong: string[] = []
  for (const [rev, marker] of expected) {
    const snapshot = await store.get(rev).catch((err: unknown) => ({ body: Buffer.from(String(err)) }))
    if (!snapshot.body.equals(sampleSnapshot(marker))) wrong.push(rev)
  }
  return wrong
}

/** Everything but the stored revs in a stack's snapshots folder (temp files would show here). */
function strays(dir: string, stack: string): string[] {
  return readdirSync(join(dir, 'cluster-deploy', stack, 'snapshots')).filter(
    (name) => !name.endsWith('.json.enc') || name.startsWith('.'),
  )
}

t.test('writers in three processes starting at once get distinct revs and lose none', async (t) => {
  const dir = t.testdir()
  const perChild = 40
  const writers = ['a', 'b', 'c'].map((id) =>
    children.spawn(t, 'multi-writer', [dir, 'race', id, String(perChild), 'system']),
  )
  await startTogether(writers)
  await Promise.all(writers.map((w) => w.done()))

  const all = new Map<string, string>()
  for (const w of writers) {
    const own = writes(w)
    t.equal(own.size, perChild, `child ${w.pid} acknowledged ${perChild} distinct revs`)
    for (const [rev, marker] of own) all.set(rev, marker)
  }
  t.equal(all.size, 3 * perChild, 'no rev was handed to two writers')
  const store = makeRoot(dir, { encrypter: fixtureKeyring() }).stack('cluster-deploy', 'race')
  const listed = await store.list()
  t.same([...listed].sort(), [...all.keys()].sort(), 'the stack holds exactly the acknowledged revs')
  t.ok(
    listed.every((rev) => parseRev(rev) !== undefined),
    'every rev is canonical',
  )
  t.same(await misread(dir, 'race', all), [], 'every rev reads back the document written under it')
  t.same(strays(dir, 'race'), [], 'no temp file is left behind')
})

t.test('the lock excludes holders in two processes and generations grow in acquisition order', async (t) => {
  const dir = t.testdir()
  const perChild = 100
  const cyclers = ['a', 'b'].map((id) => children.spawn(t, 'lock-cycler', [dir, 'locked', id, String(perChild)]))
  await startTogether(cyclers)
  await Promise.all(cyclers.map((c) => c.done()))

  interface Interval {
    readonly owner: number
    readonly generation: number
    readonly acquired: bigint
    released: bigint
  }
  const intervals: Interval[] = []
  const unpaired: string[] = []
  for (const [owner, c] of cyclers.entries()) {
    let open: Interval | undefined
    for (const line of c.lines) {
      const [word, generation, at] = line.split(' ')
      if (word === 'acquire') {
        if (open !== undefined) unpaired.push(`child ${c.pid}: acquired ${generation} while holding ${open.generation}`)
        open = { owner, generation: Number(generation), acquired: BigInt(at!), released: -1n }
        intervals.push(open)
      } else if (word === 'release') {
        if (open?.generation !== Number(generation))
          unpaired.push(`child ${c.pid}: released ${generation} while holding ${open?.generation}`)
        else open.released = BigInt(at!)
        open = undefined
      }
    }
    if (open !== undefined) unpaired.push(`child ${c.pid}: never released ${open.generation}`)
  }
  t.same(unpaired, [], 'each child released every lock it took, in order')
  t.equal(intervals.length, 2 * perChild, 'every cycle took the lock')
  intervals.sort((x, y) => (x.acquired < y.acquired ? -1 : x.acquired > y.acquired ? 1 : 0))

  const overlaps: string[] = []
  let switches = 0
  for (let i = 1; i < intervals.length; i++) {
    const prev = intervals[i - 1]!
    const cur = intervals[i]!
    if (cur.acquired <= prev.released)
      overlaps.push(`generation ${cur.generation} acquired before generation ${prev.generation} released`)
    if (cur.owner !== prev.owner) switches++
  }
  t.same(overlaps, [], 'no two holders overlap')
  t.same(
    intervals.map((i) => i.generation),
    Array.from({ length: 2 * perChild }, (_, i) => i + 1),
    'generations are unique, gapless and strictly increasing in acquisition order',
  )
  t.ok(switches >= 1, `the lock changed hands between the processes (${switches} times)`)
  t.comment(`${intervals.length} acquisitions, ${switches} hand-overs between processes`)

  const fenced = new Map([...writes(cyclers[0]!), ...writes(cyclers[1]!)])
  t.equal(fenced.size, 2 * perChild, 'every cycle made one fenced write')
  const store = makeRoot(dir, { encrypter: fixtureKeyring() }).stack('cluster-deploy', 'locked')
  t.same([...(await store.list())].sort(), [...fenced.keys()].sort(), 'every write made under the lock is stored')
  t.same(await misread(dir, 'locked', fenced), [], 'every fenced write reads back its document')
  t.equal(await store.generation(), 2 * perChild, 'the stack generation counts every acquisition')
  t.equal(await store.inspectLock(), undefined, 'the stack ends unlocked')
  t.equal((await store.lastRelease())?.event, 'unlock', 'the last release was an unlock')
})

t.test('a waiter in one process is woken when the holder in another unlocks', async (t) => {
  const dir = t.testdir()
  const holder = children.spawn(t, 'lock-holder', [dir, 'handover'])
  const [, heldGeneration, heldAt] = (await holder.line('acquire ')).split(' ')
  // Armed before the waiter starts: the holder is idle, so the first mutex cycle on the stack is the waiter's lock attempt.
  const attempted = mutexCycle(join(dir, 'cluster-deploy', 'handover'), 30_000)
  t.teardown(attempted.close)
  const waiter = children.spawn(t, 'lock-waiter', [dir, 'handover'])
  t.equal(await waiter.line('held '), `held ${heldGeneration}`, 'the waiter found the lock held by the other process')
  await attempted.done // the waiter has tried the lock and found it held: it is waiting
  holder.send('release')
  const [, , releasedAt] = (await holder.line('release ')).split(' ')
  await holder.line('unlocked')
  const [, generation, acquiredAt] = (await waiter.line('acquire ')).split(' ')
  await Promise.all([holder.done(), waiter.done()])

  t.equal(Number(generation), Number(heldGeneration) + 1, 'the waiter took the next generation')
  t.ok(
    BigInt(acquiredAt!) > BigInt(releasedAt!) && BigInt(releasedAt!) > BigInt(heldAt!),
    'the waiter acquired only after the holder released',
  )
  const store = makeRoot(dir).stack('cluster-deploy', 'handover')
  t.equal(await store.inspectLock(), undefined, 'the stack ends unlocked')
  t.equal(await store.generation(), 2, 'two acquisitions in all')
})

t.test('two processes whose clocks stand at the same instant get distinct _N revs', async (t) => {
  const dir = t.testdir()
  const perChild = 10
  const instant = '2026-07-10T12:00:00Z'
  const writers = ['a', 'b'].map((id) =>
    children.spawn(t, 'multi-writer', [dir, 'frozen', id, String(perChild), instant]),
  )
  await startTogether(writers)
  await Promise.all(writers.map((w) => w.done()))

  const all = new Map([...writes(writers[0]!), ...writes(writers[1]!)])
  const expected = [instant, ...Array.from({ length: 2 * perChild - 1 }, (_, i) => `${instant}_${i + 1}`)]
  t.equal(all.size, 2 * perChild, 'every write got its own rev')
  t.same(
    await makeRoot(dir, { encrypter: fixtureKeyring() }).stack('cluster-deploy', 'frozen').list(),
    expected,
    'the revs are the instant and its suffixes _1.._19, in order',
  )
  t.same([...all.keys()].sort(), [...expected].sort(), 'the children acknowledged exactly those revs')
  t.same(await misread(dir, 'frozen', all), [], 'every rev reads back the document written under it')
  t.same(strays(dir, 'frozen'), [], 'no temp file is left behind')
})
