import t from 'tap'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { SystemClock } from '../../src/clock.js'
import { isStateError } from '../../src/errors.js'
import { StoreRoot } from '../../src/store/store-root.js'
import { type Child, ChildScripts } from '../helpers/child.js'
import { fixtureKeyring, makeRoot, sampleSnapshot } from '../helpers/store.js'
import { seeded } from '../helpers/torture.js'

// A hundred kill cycles each start a process: on a loaded machine that takes minutes, not the default two.
t.setTimeout(480_000)

const children = new ChildScripts(t.testdir())

/** Kill cycles; CRASH_CYCLES raises it for a longer soak. */
const CYCLES = Number(process.env.CRASH_CYCLES ?? 100)
/** Cycles that share one stack before the next starts (bounds how many revs each check reads). */
const CYCLES_PER_STACK = 10
/** Seed of the kill delays, printed so a failing run can be replayed with CRASH_SEED. */
const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))
const FACTORY = 'cluster-deploy'

/** The one step a child had announced but not acknowledged when it died. */
type InFlight = { kind: 'write'; marker: string; makeCurrent: boolean } | { kind: 'set'; rev: string }

/** What the parent knows must be in one stack, rebuilt from the children's acknowledgements. */
interface StackModel {
  readonly name: string
  /** Every rev in the stack, in the order it was written (which must be list order). */
  readonly order: string[]
  /** rev -> marker of the document written under it. */
  readonly markers: Map<string, string>
  current: string | null
}

t.test('SIGKILL at any instant leaves every acknowledged rev readable and current valid', async (t) => {
  const dir = t.testdir()
  const random = seeded(SEED)
  t.comment(`seed ${SEED} (replay with CRASH_SEED=${SEED})`)
  const stacks: StackModel[] = []
  const counts = {
    writes: 0,
    madeCurrent: 0,
    setCurrent: 0,
    landedWrites: 0,
    lostWrites: 0,
    landedSets: 0,
    killedInWrite: 0,
    killedInSet: 0,
    killedIdle: 0,
    mutexLeft: 0,
  }

  const stackOf = (cycle: number) => `crash-${Math.floor(cycle / CYCLES_PER_STACK)}`
  const start = (cycle: number): Child =>
    children.spawn(t, 'crash-writer', [dir, FACTORY, stackOf(cycle), String(cycle)])
  // The next child loads while the parent checks what the last one left; it
  // touches the tree only after `go`.
  let next = start(0)
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const child = next
    await child.line('ready')
    child.send('go')
    if (cycle + 1 < CYCLES) next = start(cycle + 1)
    // Kill 5-60 ms after the first, second or third acknowledged step, so
    // every kind of step is reached however loaded the machine is.
    for (let ack = 0; ack <= cycle % 3; ack++) await child.line(/^(wrote|current) /)
    await sleep(5 + Math.floor(random() * 56))
    const exit = await child.kill()
    const problems: string[] = []
    if (exit.signal !== 'SIGKILL') problems.push(`child ended on its own: ${JSON.stringify(exit)} ${child.stderr}`)

    if (stacks.at(-1)?.name !== stackOf(cycle))
      stacks.push({ name: stackOf(cycle), order: [], markers: new Map(), current: null })
    const model = stacks.at(-1)!
    const stackDir = join(dir, FACTORY, model.name)

    // Replay the child's acknowledgements.
    let inFlight: InFlight | undefined
    for (const line of child.lines) {
      const [word, a, b] = line.split(' ')
      if (word === 'ready') continue
      if (word === 'writing' && a !== undefined) inFlight = { kind: 'write', marker: a, makeCurrent: b === 'current' }
      else if (word === 'setting' && a !== undefined) inFlight = { kind: 'set', rev: a }
      else if (
        word === 'wrote' &&
        a !== undefined &&
        b !== undefined &&
        inFlight?.kind === 'write' &&
        inFlight.marker === b
      ) {
        model.order.push(a)
        model.markers.set(a, b)
        counts.writes++
        if (inFlight.makeCurrent) {
          model.current = a // a lone writer's new rev is the newest, so makeCurrent always moves current
          counts.madeCurrent++
        }
        inFlight = undefined
      } else if (word === 'current' && a !== undefined && inFlight?.kind === 'set' && inFlight.rev === a) {
        model.current = a
        counts.setCurrent++
        inFlight = undefined
      } else problems.push(`unexpected line ${JSON.stringify(line)} (in flight: ${JSON.stringify(inFlight)})`)
    }
    if (inFlight === undefined) counts.killedIdle++
    else if (inFlight.kind === 'write') counts.killedInWrite++
    else counts.killedInSet++

    // A kill inside the internal mutex leaves it behind, naming the dead
    // child: the next store (and the next child) takes it over at once.
    if (existsSync(join(stackDir, '.mutex'))) counts.mutexLeft++

    // A fresh root, as a restarted server would open it.
    const store = makeRoot(dir, { encrypter: fixtureKeyring() }).stack(FACTORY, model.name)
    const listed = await store.list()
    const dotted = listed.filter((rev) => rev.startsWith('.'))
    if (dotted.length > 0) problems.push(`list shows temp or dot names: ${dotted.join(', ')}`)

    // At most one rev beyond the acknowledged ones: the write in flight, if its link landed.
    let landed: string | undefined
    if (inFlight?.kind === 'write' && listed.length === model.order.length + 1) {
      landed = listed.at(-1)!
      model.order.push(landed)
      model.markers.set(landed, inFlight.marker)
      counts.landedWrites++
    } else if (inFlight?.kind === 'write') counts.lostWrites++
    if (JSON.stringify(listed) !== JSON.stringify(model.order))
      problems.push(`list ${JSON.stringify(listed)} is not the revs in write order ${JSON.stringify(model.order)}`)

    // Every listed rev opens (full GCM tag checked) and holds exactly the document written under it.
    for (const rev of listed) {
      try {
        const snapshot = await store.get(rev)
        const marker = model.markers.get(rev)
        if (marker === undefined) problems.push(`rev ${rev} was never written`)
        else if (!snapshot.body.equals(sampleSnapshot(marker)) || snapshot.payloadType !== 'state')
          problems.push(`rev ${rev} does not hold the document of ${marker}`)
      } catch (err) {
        problems.push(`rev ${rev} does not open: ${String(err)}`)
      }
    }

    // Current is the last acknowledged one or the target of the step in flight;
    // "no current" only while nothing was ever made current.
    const allowed = new Set<string | null>([model.current])
    if (inFlight?.kind === 'set') allowed.add(inFlight.rev)
    if (inFlight?.kind === 'write' && inFlight.makeCurrent && landed !== undefined) allowed.add(landed)
    let current: string | null = null
    try {
      current = await store.currentRev()
      const snapshot = await store.current()
      if (!snapshot.body.equals(sampleSnapshot(model.markers.get(current) ?? '?')))
        problems.push(`current ${current} does not read back its document`)
    } catch (err) {
      if (!isStateError(err, 'no-current')) problems.push(`current does not open: ${String(err)}`)
    }
    if (!allowed.has(current)) problems.push(`current is ${current}, expected one of ${JSON.stringify([...allowed])}`)
    if (current !== model.current) counts.landedSets++
    model.current = current

    t.strictSame(problems, [], `cycle ${cycle}: ${model.name} has ${listed.length} revs, current ${current ?? 'none'}`)
    if (problems.length > 0) break
  }

  // Temp files of killed writes are never revs, and a restart removes the old ones.
  const temps = () =>
    stacks.flatMap((s) => {
      const stackDir = join(dir, FACTORY, s.name)
      return [...readdirSync(stackDir), ...readdirSync(join(stackDir, 'snapshots'))].filter((name) =>
        name.startsWith('.tmp-'),
      )
    })
  const leftovers = temps().length
  const restarted = new StoreRoot({
    root: dir,
    encrypter: fixtureKeyring(),
    clock: new SystemClock(),
    identity: { pid: process.pid, host: 'test-host' },
    tempMaxAgeMs: 0,
  })
  for (const s of stacks)
    t.same(await restarted.stack(FACTORY, s.name).list(), s.order, `a restart lists the same revs in ${s.name}`)
  t.same(temps(), [], 'a restart removes leftover temp files')
  t.ok(counts.madeCurrent > 0 && counts.setCurrent > 0, 'the children moved current both ways')

  const revs = stacks.reduce((n, s) => n + s.order.length, 0)
  t.comment(
    `cycles ${CYCLES} over ${stacks.length} stacks; acknowledged writes ${counts.writes} (${counts.madeCurrent} made current), setCurrent ${counts.setCurrent}`,
  )
  t.comment(
    `killed during a write ${counts.killedInWrite} (landed ${counts.landedWrites}, lost ${counts.lostWrites}), during setCurrent ${counts.killedInSet}, between steps ${counts.killedIdle}`,
  )
  t.comment(
    `current moved by an unacknowledged step ${counts.landedSets}; mutex left held ${counts.mutexLeft}; temp leftovers ${leftovers}; revs in the tree ${revs}`,
  )
})
