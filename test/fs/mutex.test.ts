/**
 * The mutex's rules, one process posing as others through an injected owner
 * probe and a frozen clock: a dead owner on this host is replaced at once; a
 * live one, one on another host, or a file without a record is waited for
 * until its file is older than the stale time (by the injected clock). With
 * the clock frozen, a rule that did not hold would leave the caller waiting,
 * which the guard turns into a failure.
 */
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type FsOps, nodeFs } from '../../src/fs/fs-ops.js'
import { HANDOFF_MS, MAX_HANDOFFS, Mutex } from '../../src/fs/mutex.js'
import {
  type Liveness,
  type OwnerProbe,
  type OwnerRecord,
  type ProcessIdentity,
  encodeRecord,
} from '../../src/fs/owner.js'
import { ManualClock } from '../helpers/clock.js'
import { FaultyFs } from '../helpers/faulty-fs.js'
import { settledWithin, waitFor } from '../helpers/wait.js'

/** Bounds a wait that should end promptly, so a broken rule fails the test instead of hanging it (not a timing assertion). */
const GUARD_MS = 10_000
const STALE_MS = 10_000

/** This process as "here", pid 1000; other pids on "here" are alive unless marked dead. */
class FakeProbe implements OwnerProbe {
  readonly self: ProcessIdentity = { host: 'here', pid: 1000, start: '5', boot: 'boot-a', pidns: 'pid:[1]' }
  readonly dead = new Set<number>()

  async liveness(record: OwnerRecord): Promise<Liveness> {
    if (record.host !== this.self.host) return 'unknown'
    return this.dead.has(record.pid) ? 'dead' : 'alive'
  }
}

/** An FsOps that counts how often the mutex file was looked at (lstat), so a test can see a contender waiting. */
function counting(base: FsOps, path: string): FsOps & { looks: number } {
  const fs = { ...base, looks: 0 }
  fs.lstat = (async (...args: Parameters<FsOps['lstat']>) => {
    if (String(args[0]) === path) fs.looks++
    return base.lstat(...args)
  }) as FsOps['lstat']
  return fs
}

interface Setup {
  readonly dir: string
  readonly path: string
  readonly clock: ManualClock
  readonly probe: FakeProbe
  readonly fs: FsOps & { looks: number }
  mutex(options?: { fs?: FsOps; waitMs?: number }): Mutex
  /** Writes a record at `at` (the mutex file by default), dated now by the clock. */
  plant(owner: Partial<OwnerRecord>, at?: string): OwnerRecord
}

function setup(t: Test): Setup {
  const dir = t.testdir()
  const path = join(dir, '.mutex')
  const clock = new ManualClock()
  const probe = new FakeProbe()
  const fs = counting(nodeFs, path)
  return {
    dir,
    path,
    clock,
    probe,
    fs,
    mutex: (options = {}) =>
      new Mutex(path, {
        clock,
        probe,
        fs: options.fs ?? fs,
        staleMs: STALE_MS,
        ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
      }),
    plant: (owner, at = path) => {
      const record: OwnerRecord = {
        id: randomUUID(),
        host: 'here',
        pid: 2000,
        start: '7',
        boot: 'boot-a',
        pidns: 'pid:[1]',
        ...owner,
      }
      writeFileSync(at, encodeRecord(record))
      const seconds = Number(clock.nanos / 1_000_000n) / 1000
      utimesSync(at, seconds, seconds)
      return record
    },
  }
}

/** Starts `mutex.run`, holding it until `release()`; `entered` resolves once inside. */
function hold(mutex: Mutex): { entered: Promise<void>; release: () => void; done: Promise<void> } {
  let release!: () => void
  let entered!: () => void
  const inside = new Promise<void>((resolve) => {
    entered = resolve
  })
  const done = mutex.run(async () => {
    entered()
    await new Promise<void>((resolve) => {
      release = resolve
    })
  })
  return { entered: inside, release: () => release(), done }
}

/** The names in `dir` other than the mutex file: takeover claims and temp files must not stay. */
function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((n) => n !== '.mutex')
}

t.test('an owner that is gone from this host is replaced at once, without waiting for the stale time', async (t) => {
  const s = setup(t)
  const dead = s.plant({ pid: 2000 })
  s.probe.dead.add(dead.pid)
  let ran = false
  await settledWithin(
    s.mutex().run(async () => {
      ran = true
    }),
    GUARD_MS,
    'the run past a dead owner',
  )
  t.ok(ran, 'the critical section ran with the clock frozen')
  t.notOk(existsSync(s.path), 'and the mutex is free again')
  t.same(leftovers(s.dir), [], 'no takeover claim or temp file is left')
})

t.test('an owner that still runs on this host is waited for until it releases', async (t) => {
  const s = setup(t)
  s.plant({ pid: 2000 })
  let entered = false
  const run = s.mutex().run(async () => {
    entered = true
  })
  await waitFor(() => s.fs.looks >= 3, GUARD_MS, 'the contender looking at the held mutex')
  t.notOk(entered, 'not entered while the owner holds it')
  nodeFs.unlink(s.path).catch(() => {}) // the owner releases
  await settledWithin(run, GUARD_MS, 'the run once released')
  t.ok(entered, 'entered once the owner released')
})

t.test(
  'an owner on another host is replaced only once its file is older than the stale time, by the injected clock',
  async (t) => {
    const s = setup(t)
    s.plant({ host: 'there', pid: 1000 })
    let entered = false
    const run = s.mutex().run(async () => {
      entered = true
    })
    await waitFor(() => s.fs.looks >= 3, GUARD_MS, 'the contender looking at the held mutex')
    s.clock.advanceMs(STALE_MS - 1)
    const looked = s.fs.looks
    await waitFor(() => s.fs.looks >= looked + 3, GUARD_MS, 'more looks')
    t.notOk(entered, 'not entered one millisecond before the stale time')
    s.clock.advanceMs(1)
    await settledWithin(run, GUARD_MS, 'the run once stale')
    t.ok(entered, 'entered at the stale time')
    t.same(leftovers(s.dir), [], 'no takeover claim or temp file is left')
  },
)

t.test('a holder keeps its file fresh while it holds it: the refresh follows the injected clock', async (t) => {
  const s = setup(t)
  const held = hold(s.mutex())
  await held.entered
  s.clock.advanceMs(60_000)
  const expected = Number(s.clock.nanos / 1_000_000n)
  await waitFor(
    () => Math.abs(statSync(s.path).mtimeMs - expected) < 1,
    GUARD_MS,
    'the refresh (every half stale time)',
  )
  t.pass('the held file was dated by the clock again')
  held.release()
  await held.done
  t.notOk(existsSync(s.path), 'released')
})

t.test('a file this process left behind (a release that failed) is replaced at once', async (t) => {
  const s = setup(t)
  s.plant({ ...s.probe.self })
  await settledWithin(
    s.mutex().run(async () => {}),
    GUARD_MS,
    'the run past its own leftover',
  )
  t.notOk(existsSync(s.path))
})

t.test(
  "a file without a record, or an older server's proper-lockfile directory, is judged by its age alone",
  async (t) => {
    for (const kind of ['garbage', 'directory'] as const) {
      const s = setup(t)
      if (kind === 'garbage') writeFileSync(s.path, 'not a record')
      else mkdirSync(s.path)
      const seconds = Number(s.clock.nanos / 1_000_000n) / 1000
      utimesSync(s.path, seconds, seconds)
      let entered = false
      const run = s.mutex().run(async () => {
        entered = true
      })
      await waitFor(() => s.fs.looks >= 3, GUARD_MS, 'the contender looking')
      t.notOk(entered, `${kind}: waited for while fresh`)
      s.clock.advanceMs(STALE_MS)
      await settledWithin(run, GUARD_MS, `${kind}: the run once stale`)
      t.ok(entered, `${kind}: replaced once stale`)
      t.notOk(existsSync(s.path), `${kind}: and the mutex is free afterwards`)
      t.same(leftovers(s.dir), [], `${kind}: nothing left behind`)
    }
  },
)

t.test(
  "a takeover claim left by a taker that died is itself taken over; a live taker's claim is waited for",
  async (t) => {
    const s = setup(t)
    const owner = s.plant({ pid: 2000 })
    s.probe.dead.add(owner.pid)
    const claim = join(s.dir, `.mutex.take-${owner.id}`)
    s.plant({ pid: 3000 }, claim) // a taker, alive for now
    let entered = false
    const run = s.mutex().run(async () => {
      entered = true
    })
    await waitFor(() => s.fs.looks >= 3, GUARD_MS, 'the contender looking')
    t.notOk(entered, "a live taker's claim is respected")
    s.probe.dead.add(3000)
    await settledWithin(run, GUARD_MS, 'the run once the taker died')
    t.ok(entered, 'entered once the taker is gone too')
    t.same(leftovers(s.dir), [], 'no claim is left')
  },
)

t.test('the wait gives up after its limit, measured on the injected clock', async (t) => {
  const s = setup(t)
  s.plant({ pid: 2000 })
  const run = s.mutex({ waitMs: 5000 }).run(async () => {})
  await waitFor(() => s.fs.looks >= 2, GUARD_MS, 'the contender looking')
  s.clock.advanceMs(5000)
  await t.rejects(settledWithin(run, GUARD_MS, 'the give-up'), { code: 'ELOCKED' })
  t.ok(existsSync(s.path), "the owner's file is untouched")
})

t.test("two instances for one path in one process take turns without touching each other's file", async (t) => {
  const s = setup(t)
  const first = hold(s.mutex())
  await first.entered
  let second = false
  const run = s.mutex().run(async () => {
    second = true
  })
  await new Promise<void>((resolve) => setImmediate(resolve))
  t.equal(s.fs.looks, 0, 'the second never looked at the file: it queues in-process')
  t.notOk(second)
  first.release()
  await settledWithin(run, GUARD_MS, 'the second run')
  t.ok(second)
})

t.test(
  'every filesystem call of the mutex, failed in turn, fails the run with its errno or is survived, and the next run succeeds',
  async (t) => {
    for (const contended of [false, true]) {
      // Count the calls of one run (with a dead owner to replace, when contended).
      const probeCalls = async (fs: FaultyFs): Promise<{ s: Setup; k: number }> => {
        const s = setup(t)
        if (contended) s.probe.dead.add(s.plant({ pid: 2000 }).pid)
        const mark = fs.calls.length
        await s.mutex({ fs }).run(async () => {})
        return { s, k: fs.calls.length - mark }
      }
      const fs = new FaultyFs()
      const { k } = await probeCalls(fs)
      t.ok(k >= (contended ? 10 : 5), `${contended ? 'contended' : 'free'}: a run makes ${k} calls`)
      const outcomes: string[] = []
      for (let n = 1; n <= k; n++) {
        const s = setup(t)
        if (contended) s.probe.dead.add(s.plant({ pid: 2000 }).pid)
        fs.failNth('any', n, 'EIO')
        let ran = false
        const result = await settledWithin(
          s.mutex({ fs }).run(async () => {
            ran = true
          }),
          GUARD_MS,
          `N=${n}`,
        ).then(
          () => 'ok',
          (err: { code?: string }) => err.code ?? String(err),
        )
        const failed = fs.firedCall
        fs.clear()
        t.ok(failed !== undefined, `N=${n}: the fault was injected`)
        t.ok(
          result === 'ok' ? ran : result === 'EIO' && !ran,
          `N=${n} (${failed?.method} ${failed?.path.slice(s.dir.length)}): ${result}, critical section ${ran ? 'ran' : 'did not run'}`,
        )
        outcomes.push(`${failed?.method}:${result}`)
        let next = false
        await settledWithin(
          s.mutex({ fs }).run(async () => {
            next = true
          }),
          GUARD_MS,
          `the run after N=${n}`,
        )
        t.ok(next, `N=${n}: the next run enters`)
        t.notOk(existsSync(s.path), `N=${n}: and leaves the mutex free`)
        t.same(
          leftovers(s.dir).filter((n) => !n.startsWith('.tmp-')),
          [],
          `N=${n}: no takeover claim is left (a temp file may be, for the temp sweep)`,
        )
      }
      t.comment(`${contended ? 'contended' : 'free'}: ${outcomes.join(', ')}`)
    }
  },
)

/** Runs `count` users queued behind a holder on `mutex`s, each checking it is alone; returns how often the file was linked and unlinked. */
async function queued(
  t: Test,
  s: Setup,
  count: number,
  during: (i: number) => void = () => {},
): Promise<{ links: number; unlinks: number; onHeld: number }> {
  const fs = new FaultyFs()
  let onHeld = 0
  const make = () =>
    new Mutex(s.path, {
      clock: s.clock,
      probe: s.probe,
      fs,
      staleMs: STALE_MS,
      onHeld: async () => {
        onHeld++
      },
    })
  const first = hold(make())
  await first.entered
  let inside = 0
  let overlaps = 0
  const runs = Array.from({ length: count }, (_, i) =>
    make().run(async () => {
      if (++inside > 1) overlaps++
      during(i)
      await new Promise<void>((resolve) => setImmediate(resolve))
      inside--
    }),
  )
  first.release()
  await settledWithin(Promise.all([first.done, ...runs]), GUARD_MS, 'the queued runs')
  t.equal(overlaps, 0, 'one user at a time')
  t.notOk(existsSync(s.path), 'released at the end')
  t.same(leftovers(s.dir), [])
  // A link (recorded by its source, the record file) takes the file; an unlink of the file gives it back.
  const links = fs.calls.filter((c) => c.method === 'link').length
  const unlinks = fs.calls.filter((c) => c.method === 'unlink' && c.path === s.path).length
  return { links, unlinks, onHeld }
}

t.test('users queued in one process are handed the held file: one acquisition and one release', async (t) => {
  const s = setup(t)
  const { links, unlinks, onHeld } = await queued(t, s, 5)
  t.equal(links, 1, 'taken once for six runs')
  t.equal(unlinks, 1, 'released once')
  t.equal(onHeld, 1, 'the sweep after an acquisition runs once')
})

t.test('handoffs are bounded, so other processes get their turn', async (t) => {
  const s = setup(t)
  const runs = 3 * (MAX_HANDOFFS + 1)
  const { links, unlinks } = await queued(t, s, runs - 1)
  t.equal(links, 3, `${runs} runs take the file ${runs / (MAX_HANDOFFS + 1)} times`)
  t.equal(unlinks, 3)
  // By time as well: a holder past HANDOFF_MS since the file was taken releases it.
  const timed = setup(t)
  const { links: timedLinks } = await queued(t, timed, 3, (i) => {
    if (i === 0) timed.clock.advanceMs(HANDOFF_MS + 1)
  })
  t.equal(timedLinks, 2, 'taken again after the time bound')
})
