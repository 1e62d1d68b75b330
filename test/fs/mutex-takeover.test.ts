/**
 * The mutex's takeover of a dead owner, raced by real processes: a victim
 * process holds the mutex and is SIGKILLed while eight contender processes
 * are already waiting for it. Their stale time is an hour, so only the
 * dead-owner rule lets them in; exclusion is checked two ways (an exclusive
 * marker file inside the critical section, and the intervals each contender
 * reports on the system-wide monotonic clock).
 */
import t from 'tap'
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Child, ChildScripts } from '../helpers/child.js'
import { sized } from '../helpers/torture.js'

const CONTENDERS = 8
const TRIALS = sized(4, 20)
const ROUNDS = 3

/** The [in, out] intervals a contender printed since `from` (an index into its lines). */
function intervals(child: Child, from: number): Array<[bigint, bigint]> {
  const found: Array<[bigint, bigint]> = []
  let open: bigint | undefined
  for (const line of child.lines.slice(from)) {
    if (line.startsWith('in ')) open = BigInt(line.slice(3))
    if (line.startsWith('out ') && open !== undefined) {
      found.push([open, BigInt(line.slice(4))])
      open = undefined
    }
  }
  return found
}

t.test(
  'many processes racing for the mutex of a killed owner: one owner at a time, and every contender gets in',
  async (t) => {
    const dir = t.testdir()
    const scripts = new ChildScripts(join(dir, 'build'))
    const work = join(dir, 'stack')
    mkdirSync(work)
    const path = join(work, '.mutex')
    const contenders = Array.from({ length: CONTENDERS }, () =>
      scripts.spawn(t, 'mutex-contender', [path, 'contender', String(ROUNDS)]),
    )
    for (const c of contenders) await c.line('ready')
    const problems: string[] = []
    let entries = 0
    for (let trial = 0; trial < TRIALS; trial++) {
      const victim = scripts.spawn(t, 'mutex-contender', [path, 'victim'])
      await victim.line('held')
      const marks = contenders.map((c) => c.lines.length)
      for (const c of contenders) c.send('go')
      // Every contender is inside `run` (and has met the victim's file) before the victim dies.
      for (const c of contenders) await c.line('trying')
      const killed = await victim.kill()
      if (killed.signal !== 'SIGKILL')
        problems.push(`trial ${trial}: the victim ended ${JSON.stringify(killed)} instead of being killed`)
      for (const c of contenders) await c.line('done')
      const all = contenders.flatMap((c, i) => intervals(c, marks[i]!).map(([a, b]) => ({ who: i, a, b })))
      entries += all.length
      if (all.length !== CONTENDERS * ROUNDS)
        problems.push(`trial ${trial}: ${all.length} entries, not ${CONTENDERS * ROUNDS}`)
      all.sort((x, y) => (x.a < y.a ? -1 : x.a > y.a ? 1 : 0))
      for (let i = 1; i < all.length; i++) {
        if (all[i]!.a < all[i - 1]!.b)
          problems.push(`trial ${trial}: contender ${all[i]!.who} entered before contender ${all[i - 1]!.who} left`)
      }
      contenders.forEach((c, i) => {
        const said = c.lines.slice(marks[i]).filter((l) => l === 'overlap' || l.startsWith('compromised'))
        if (said.length > 0) problems.push(`trial ${trial}: contender ${i} said ${said.join('; ')}`)
      })
      const left = readdirSync(work).filter((n) => n !== 'inside')
      if (left.length > 0) problems.push(`trial ${trial}: left behind ${left.join(', ')}`)
    }
    for (const c of contenders) c.send('exit')
    for (const c of contenders) await c.done()
    t.same(problems, [], `${TRIALS} takeovers by ${CONTENDERS} processes: no two owners at once, nothing left behind`)
    t.equal(entries, TRIALS * CONTENDERS * ROUNDS, 'every contender entered every round')
    t.notOk(existsSync(path), 'the mutex is free at the end')
  },
)
