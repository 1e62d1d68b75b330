/**
 * Torture: an fs fault sweep over every mutation path.
 *
 * For each mutation route, from a realistic seeded stack, the request is run
 * once without faults to count the filesystem calls it makes (k); then for
 * every N in 1..k, on a fresh copy of the seeded stack, the Nth call (whatever
 * its method: open, readFile, readdir, rename, link, unlink, mkdir, lstat, or
 * a handle's writeFile/sync/readFile) fails with ENOSPC or EIO. Each time:
 *
 * - the answer is 507 no-space (ENOSPC) or 500 storage-failure (EIO) as a
 *   problem body, or the fault-free success when the failed call was one the
 *   server may tolerate; never another status, never `internal`;
 * - nothing is torn: every listed rev is a rev (no temp name) and reads back
 *   byte-equal to what was written to it, `current` reads (or is cleanly
 *   absent), the lock is held by a holder that makes sense or free, the disk
 *   holds only names of the layout, and the observable state (history bodies,
 *   current, lock, trash) equals the state before the request or the state
 *   the fault-free request left;
 * - the retry succeeds: after a 5xx, the same request with the fault cleared
 *   answers the fault-free status and leaves the fault-free state (so a write
 *   that answered 5xx must not have left a rev behind, a lock request must not
 *   have left a lock behind, and idempotent routes must accept the retry).
 *
 * A tolerated success must also name a call a server may do without (removing
 * its own temp file, a read), never a write, fsync, rename or link: swallowing
 * one of those loses durability while every read still looks right.
 *
 * One app serves the whole sweep: every case works on its own stack, a copy
 * (hard links) of its path's seeded stack, so each case starts from the same
 * bytes and, on a frozen ManualClock, makes the same calls in the same order.
 * Short mode alternates the two codes by N (which code goes first depends on
 * the seed); long mode (UNOBIN_TORTURE_MODE=long) tries both codes at every N.
 */
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { Keyring } from '../../src/crypto/keyring.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { ManualClock } from '../helpers/clock.js'
import { FaultyFs } from '../helpers/faulty-fs.js'
import { MODE, reportFigures, sized } from '../helpers/torture.js'
import { type Ctx, EXPECTED, FACTORY, type Facts, NEW, OLD, TF_LOCK_ID, codesFor, seed } from './fault-sweep/seeds.js'
import { type MutationPath, PATHS } from './fault-sweep/paths.js'
import { normalized, observe, render, send } from './fault-sweep/observe.js'
import { cloneTree, describeCall, mayTolerate } from './fault-sweep/calls.js'

// Every call of every mutation path, the mutex's included: minutes on a loaded machine.
t.setTimeout(sized(480_000, 1_800_000))

// --- the sweep -----------------------------------------------------------------

/** Figures of the whole sweep. */
const figures = { paths: 0, faultsInjected: 0, answered5xx: 0, toleratedAsSuccess: 0, retriesSucceeded: 0 }
/** Which calls were tolerated (method and file name pattern), with counts, for the report. */
const tolerated = new Map<string, number>()
let leftoverTemps = 0

/**
 * Sweeps one path: counts its calls (k) without faults, then fails call N
 * for N = 1..k on a fresh copy each time and checks the answer, the state
 * and the retry. Each case is one assertion listing everything wrong with it.
 */
async function sweep(t: Test, ctx: Ctx, path: MutationPath, index: number, facts: Facts): Promise<void> {
  const { app, fs, dir } = ctx
  const seedDir = join(dir, FACTORY, `seed-${index}`)
  const call = path.request(facts)
  const knownIds = new Set([TF_LOCK_ID, ...(facts.lockId === undefined ? [] : [facts.lockId])])
  let copies = 0
  /** A fresh copy of the seeded stack: its base URL and directory. */
  const fresh = (): { base: string; stackDir: string } => {
    const stack = `p${index}-c${++copies}`
    const stackDir = join(dir, FACTORY, stack)
    cloneTree(seedDir, stackDir)
    return { base: stackUrl(FACTORY, stack), stackDir }
  }
  const look = (copy: { base: string; stackDir: string }) =>
    observe(app, copy.base, copy.stackDir, facts, call.writes, knownIds)

  // The state before, read on a copy of its own: reading readies a store (it checks its directories
  // once), and every faulted copy is sent the request unread, so the fault-free run must be too.
  const before = await look(fresh())
  t.same(before.defects, [], 'the seeded stack reads back whole')
  // The fault-free run: its answer, the state it leaves, and k.
  const clean = fresh()
  const mark = fs.calls.length
  const reference = await send(app, clean.base, call)
  const k = fs.calls.length - mark
  t.equal(reference.statusCode, path.success, `without faults it answers ${path.success} (${reference.body})`)
  const after = await look(clean)
  t.same(after.defects, [], 'and leaves a whole stack')
  t.not(
    `${render(after.state)} ${after.sealed}`,
    `${render(before.state)} ${before.sealed}`,
    'and changes something (or the sweep could not tell before from after)',
  )
  t.ok(k > 0, `it makes filesystem calls (k = ${k})`)
  const expectedAnswer = normalized(reference, knownIds)
  const expected = { before: render(before.state), after: render(after.state) }

  for (let n = 1; n <= k; n++) {
    for (const code of codesFor(n)) {
      const copy = fresh()
      fs.failNth('any', n, code)
      const res = await send(app, copy.base, call)
      const failed = fs.firedCall
      fs.clear()
      if (failed === undefined) {
        t.fail(
          `N=${n} ${code}: the fault was never injected (the request made fewer calls than without faults: ${res.statusCode} ${res.body})`,
        )
        continue
      }
      figures.faultsInjected++
      const where = `N=${n} ${code} on ${describeCall(failed, dir)}`
      const problems: string[] = []
      const seen = await look(copy)
      leftoverTemps += seen.temps
      problems.push(...seen.defects.map((d) => `torn: ${d}`))
      const state = render(seen.state)
      if (res.statusCode === path.success) {
        // Answered as if nothing failed: only a call the server may do without, with the fault-free answer and state.
        figures.toleratedAsSuccess++
        tolerated.set(describeCall(failed, dir), (tolerated.get(describeCall(failed, dir)) ?? 0) + 1)
        if (!mayTolerate(failed))
          problems.push(
            `answered ${res.statusCode} though the failed call (${failed.method} ${failed.path}) is not one a server may ignore`,
          )
        const answer = normalized(res, knownIds)
        if (answer !== expectedAnswer) problems.push(`answered ${answer}, the fault-free run ${expectedAnswer}`)
        if (state !== expected.after) problems.push(`left ${state}, the fault-free run ${expected.after}`)
        if (seen.sealed !== after.sealed)
          problems.push(`left envelopes sealed ${seen.sealed}, the fault-free run ${after.sealed}`)
      } else {
        const want = EXPECTED[code]
        const body =
          res.headers['content-type']?.toString().startsWith('application/problem+json') === true
            ? res.json<{ code?: string; status?: number }>()
            : {}
        if (res.statusCode !== want.status || body.code !== want.code || body.status !== want.status)
          problems.push(`answered ${res.statusCode} ${res.body}, not ${want.status} ${want.code}`)
        if (res.statusCode >= 500) figures.answered5xx++
        if (state !== expected.before && state !== expected.after)
          problems.push(`left ${state}, neither the state before (${expected.before}) nor after (${expected.after})`)
        const retry = await send(app, copy.base, call)
        const settled = await look(copy)
        const retryProblems = [
          ...(retry.statusCode === path.success ? [] : [`the retry answered ${retry.statusCode} ${retry.body}`]),
          ...settled.defects.map((d) => `torn after the retry: ${d}`),
          ...(render(settled.state) === expected.after
            ? []
            : [`the retry left ${render(settled.state)}, the fault-free run ${expected.after}`]),
          ...(settled.sealed === after.sealed
            ? []
            : [`the retry left envelopes sealed ${settled.sealed}, the fault-free run ${after.sealed}`]),
        ]
        if (retryProblems.length === 0) figures.retriesSucceeded++
        problems.push(...retryProblems)
      }
      t.same(
        problems,
        [],
        `${where}: answered ${res.statusCode}, nothing torn${res.statusCode === path.success ? '' : ', the retry succeeds'}`,
      )
    }
  }
}

// One app serves every case: each case works on a stack of its own (building an app per case would
// cost more than the cases). Seed every path's stack first, then jump the clock past the expired
// lease and the trash window.
const dir = t.testdir()
const clock = new ManualClock()
const fs = new FaultyFs()
const { app } = await buildTestApp(t, { dir, fs, clock, encrypter: new Keyring(NEW, [OLD]) })
const ctx: Ctx = { app, fs, clock, dir }
const seeded: Facts[] = []
for (const [i, path] of PATHS.entries()) seeded.push(await seed(ctx, path.shape, `seed-${i}`))
clock.advanceMs(8 * 24 * 3600 * 1000)

for (const [i, path] of PATHS.entries()) {
  t.test(
    `${path.name}: every fs call failed in turn answers the right 5xx (or is tolerated), tears nothing, and the retry succeeds`,
    async (t) => {
      await sweep(t, ctx, path, i, seeded[i]!)
      figures.paths++
    },
  )
}

t.test('figures', async (t) => {
  t.equal(figures.paths, PATHS.length, 'every mutation path was swept')
  t.ok(figures.faultsInjected > 0, 'faults were injected')
  t.comment(
    `tolerated calls: ${[...tolerated].map(([k, v]) => `${k} ×${v}`).join('; ') || 'none'}; temp leftovers on disk: ${leftoverTemps}; mode ${MODE}`,
  )
  reportFigures(t, 'fs-fault sweep', figures)
})
