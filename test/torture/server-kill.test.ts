/**
 * kill -9 of a server under mixed load. Clients write (some straight to
 * current), move current, lock, write under their lock, unlock and read, on
 * a few stacks at once, while the server is SIGKILLed at a random moment; a
 * new server then starts on the same data directory and the record of every
 * request is checked against a model:
 *
 * - every acknowledged write is listed and reads back byte-exact (encrypted
 *   with env-key, so the envelope is checked too); a write cut by the kill is
 *   either absent or whole, never a listed temp file or a torn rev;
 * - `current` is readable and names a value some current-setting request
 *   could have left last (no acknowledged request came after it);
 * - the lock is held by the holder the record says (held locks survive the
 *   restart, with their id), or cleanly free when its release or a rival's
 *   acquisition was cut; no two clients ever held one stack's lock at once,
 *   and generations only grow, across restarts too;
 * - a holder's write under its own lock is never refused;
 * - writes that did not overlap are listed in the order they were made;
 * - the restart does not stall the stacks the kill cut requests on: on each,
 *   the first write and the first lock are answered within 1 s (a server
 *   killed inside a stack's mutex used to hold that stack for its 10 s stale
 *   time). Measured once the new server listens and has served one write and
 *   one lock on a stack of its own, so process start-up and the first
 *   compilation of the write path are not counted, only what the stack costs.
 *
 * What a cut request did is learned after the restart and folded into the
 * model, so later cycles build on what the tree really holds: a lock taken by
 * a cut request is adopted by its client, as a CI runner retrying would.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { type ServerProcess, startServer } from '../helpers/server-process.js'
import {
  type CheckContext,
  type Get,
  type Op,
  type StackModel,
  checkCurrent,
  checkHistory,
} from './server-kill/checks.js'
import { FIXTURE_KEY, sampleSnapshot } from '../helpers/store.js'
import { MODE, SEED, below, cycleCount, reportFigures, seeded } from '../helpers/torture.js'

/** Kill cycles: a server start, load, SIGKILL and the check. */
const CYCLES = cycleCount(8, 200)
/** Cycles that share one set of stacks before fresh stacks are used (bounds what each check reads). */
const CYCLES_PER_EPOCH = 8
const STACKS_PER_EPOCH = 3
const CLIENTS = 4
const FACTORY = 'torture'

// Every cycle starts a server process: minutes on a loaded machine even in the short mode.
t.setTimeout(MODE === 'long' ? 60 * 60_000 : 480_000)

const KEY_ENV = { UNOBIN_STATE_ENCRYPTION: 'env-key', UNOBIN_STATE_KEY: FIXTURE_KEY }
/** The bound on the first write and the first lock of a cut stack after a restart (ms). */
const FIRST_ANSWER_BOUND_MS = 1000

t.test(
  'kill -9 under mixed load: acknowledged writes intact, current readable, locks held or free, never two holders',
  async (t) => {
    t.setTimeout(MODE === 'long' ? 60 * 60_000 : 480_000)
    const dir = t.testdir()
    const random = seeded(SEED)
    const figures = {
      cycles: 0,
      requests: 0,
      acknowledged: 0,
      cut: 0,
      cutLockOps: 0,
      refusedLocked: 0,
      landedAfterCut: 0,
      lostAfterCut: 0,
      adoptedLocks: 0,
      revsChecked: 0,
      mutexLeftByKill: 0,
      firstAnswersTimed: 0,
      worstFirstWriteMs: 0,
      worstFirstLockMs: 0,
    }
    const problems: string[] = []
    let nextOp = 0
    const allOpsByCycle: Op[][] = []
    let stacks: StackModel[] = []
    const retired: StackModel[] = []
    /** client name -> stack name -> lock id it holds. */
    const held = new Map<string, Map<string, string>>()
    for (let c = 0; c < CLIENTS; c++) held.set(`c${c}`, new Map())

    let server: ServerProcess | undefined
    t.teardown(() => server?.stop('SIGKILL'))

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      if (cycle % CYCLES_PER_EPOCH === 0) {
        // Fresh stacks; the old ones are retired as they are (checked once more at the end).
        retired.push(...stacks)
        for (const m of held.values()) m.clear()
        const epoch = cycle / CYCLES_PER_EPOCH
        stacks = Array.from({ length: STACKS_PER_EPOCH }, (_, i) => ({
          name: `e${epoch}-s${i}`,
          bytes: new Map(),
          writes: [],
          currentOps: [],
          holder: null,
          lastGeneration: 0,
        }))
      }
      // The server that checked the last kill takes this cycle's load.
      server ??= await startServer(['--data-dir', dir], KEY_ENV)
      const base = server.url
      const ops: Op[] = []
      allOpsByCycle.push(ops)
      let killed = false

      const send = async (
        op: Op,
        method: string,
        path: string,
        body?: Buffer | string,
        headers: Record<string, string> = {},
      ): Promise<{ status: number; body: any; text: string } | null> => {
        ops.push(op)
        try {
          const init: RequestInit = {
            method,
            headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          }
          if (body !== undefined) init.body = body
          const res = await fetch(`${base}/v1/factories/${FACTORY}/stacks/${op.stack}${path}`, init)
          const text = await res.text()
          op.resp = performance.now()
          op.status = res.status
          let parsed: any
          try {
            parsed = text === '' ? undefined : JSON.parse(text)
          } catch {
            parsed = undefined
          }
          if (res.status >= 500) problems.push(`op ${op.id} ${op.kind} on ${op.stack}: ${res.status} ${text}`)
          return { status: res.status, body: parsed, text }
        } catch (err) {
          if (!killed) problems.push(`op ${op.id} ${op.kind} on ${op.stack} failed before the kill: ${String(err)}`)
          return null // cut by the kill: resp stays null
        }
      }

      const client = async (name: string): Promise<void> => {
        const mine = held.get(name)!
        while (!killed) {
          const stack = stacks[below(random, stacks.length)]!
          const lockId = mine.get(stack.name)
          const roll = random()
          const op = (kind: Op['kind'], extra: Partial<Op> = {}): Op => ({
            id: nextOp++,
            client: name,
            stack: stack.name,
            kind,
            inv: performance.now(),
            resp: null,
            status: null,
            ...extra,
          })
          if (roll < 0.4) {
            const marker = `${name}-${nextOp}`
            const makeCurrent = random() < 0.5
            const o = op('write', { marker, makeCurrent, underLock: lockId !== undefined })
            if (makeCurrent) stack.currentOps.push(o)
            const bytes = sampleSnapshot(marker)
            const res = await send(
              o,
              'POST',
              `/snapshots${makeCurrent ? '?current=true' : ''}`,
              bytes,
              lockId ? { 'lock-id': lockId } : {},
            )
            if (res?.status === 201) {
              o.rev = res.body.rev
              stack.bytes.set(o.rev!, bytes)
              stack.writes.push(o)
            } else if (res !== null) expectRefused(o, res, lockId)
          } else if (roll < 0.55 && stack.bytes.size > 0) {
            const revs = [...stack.bytes.keys()]
            const target = revs[below(random, revs.length)]!
            const o = op('set-current', { target, underLock: lockId !== undefined })
            stack.currentOps.push(o)
            const res = await send(
              o,
              'PUT',
              '/current',
              JSON.stringify({ rev: target }),
              lockId ? { 'lock-id': lockId } : {},
            )
            if (res !== null && res.status !== 200) expectRefused(o, res, lockId)
          } else if (roll < 0.7 && lockId === undefined) {
            const o = op('lock')
            pendingLocks.add(o)
            const res = await send(o, 'POST', '/lock', JSON.stringify({ who: name, operation: `op-${o.id}` }))
            pendingLocks.delete(o)
            if (res?.status === 201) {
              acquired(stack, name, res.body.id, res.body.generation, o)
              mine.set(stack.name, res.body.id)
            } else if (res !== null && !(res.status === 423 && res.body?.code === 'locked')) {
              problems.push(`op ${o.id} lock: ${res.status} ${res.text}`)
            }
            if (res === null) cutLocks.push(o)
          } else if (roll < 0.85 && lockId !== undefined) {
            const o = op('unlock', { lockId })
            // From the moment the release is sent another client may be granted the lock.
            stack.holder = null
            pendingUnlocks.set(stack.name, { client: name, id: lockId, op: o })
            const res = await send(o, 'DELETE', `/lock?id=${encodeURIComponent(lockId)}`)
            if (res !== null) {
              pendingUnlocks.delete(stack.name)
              mine.delete(stack.name)
              if (res.status !== 200) problems.push(`op ${o.id} unlock: ${res.status} ${res.text}`)
            }
          } else {
            const o = op('read')
            const res = await send(o, 'GET', '/current')
            if (res !== null && res.status !== 200 && !(res.status === 404 && res.body?.code === 'no-current'))
              problems.push(`op ${o.id} read current: ${res.status} ${res.text}`)
            if (
              res?.status === 404 &&
              stack.currentOps.some((c) => c.status !== null && c.status < 300 && c.resp! < o.inv)
            ) {
              problems.push(`op ${o.id} read current: 404 after a current was acknowledged`)
            }
          }
        }
      }

      /** A refusal is only right when another client holds the lock (423 locked); a holder is never refused. */
      const expectRefused = (
        o: Op,
        res: { status: number; body: any; text: string },
        lockId: string | undefined,
      ): void => {
        if (res.status === 423 && res.body?.code === 'locked' && lockId === undefined) {
          figures.refusedLocked++
          return
        }
        problems.push(`op ${o.id} ${o.kind}${lockId ? ' under own lock' : ''}: ${res.status} ${res.text}`)
      }

      /** Records a lock acquisition and checks no other client holds that stack. */
      const acquired = (stack: StackModel, client: string, id: string, generation: number, o: Op | null): void => {
        if (stack.holder !== null)
          problems.push(`${stack.name}: ${client} was granted the lock while ${stack.holder.client} held it`)
        if (!(generation > stack.lastGeneration))
          problems.push(`${stack.name}: generation ${generation} after ${stack.lastGeneration}`)
        stack.lastGeneration = generation
        stack.holder = { client, id }
        if (o !== null) {
          o.lockId = id
          o.generation = generation
        }
      }

      const pendingLocks = new Set<Op>()
      const cutLocks: Op[] = []
      const pendingUnlocks = new Map<string, { client: string; id: string; op: Op }>()

      const running = Array.from({ length: CLIENTS }, (_, c) => client(`c${c}`))
      await sleep(50 + below(random, 600))
      killed = true
      server.child.kill('SIGKILL')
      await Promise.all(running)
      await server.stop('SIGKILL')
      const leftMutex = new Set(
        stacks.filter((st) => existsSync(join(dir, FACTORY, st.name, '.mutex'))).map((st) => st.name),
      )

      // Restart on the same tree and check everything the record promises.
      server = await startServer(['--data-dir', dir], KEY_ENV)
      const check = server.url
      // One write and one lock on a stack of its own first: the first compilation of those paths is not what is timed below.
      const warm = `${check}/v1/factories/warm-up/stacks/s${cycle}`
      await fetch(`${warm}/snapshots`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: sampleSnapshot(`warm-${cycle}`),
      }).then((r) => r.text())
      const warmLock = await fetch(`${warm}/lock`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"who":"warm-up"}',
      })
      const warmId = ((await warmLock.json()) as { id?: string }).id
      if (warmId !== undefined)
        await fetch(`${warm}/lock?id=${encodeURIComponent(warmId)}`, { method: 'DELETE' }).then((r) => r.text())
      const get: Get = async (path) => {
        const res = await fetch(`${check}/v1/factories/${FACTORY}/stacks/${path}`)
        const buf = Buffer.from(await res.arrayBuffer())
        let body: any
        try {
          body = JSON.parse(buf.toString())
        } catch {
          body = undefined
        }
        return { status: res.status, headers: res.headers, buf, body }
      }
      const checkContext: CheckContext = { get, ops, allOps: () => allOpsByCycle.flat(), problems, figures }

      /** Times one request to `stack` (from sending to the whole answer), checks it against the bound. */
      const timed = async (
        stack: StackModel,
        what: string,
        method: string,
        path: string,
        body?: Buffer | string,
        headers: Record<string, string> = {},
      ): Promise<{ status: number; body: any; inv: number; resp: number }> => {
        const inv = performance.now()
        const res = await fetch(`${check}/v1/factories/${FACTORY}/stacks/${stack.name}${path}`, {
          method,
          headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body } : {}),
        })
        const text = await res.text()
        const resp = performance.now()
        const ms = Math.ceil(resp - inv)
        figures.firstAnswersTimed++
        if (what === 'lock') figures.worstFirstLockMs = Math.max(figures.worstFirstLockMs, ms)
        else figures.worstFirstWriteMs = Math.max(figures.worstFirstWriteMs, ms)
        if (ms > FIRST_ANSWER_BOUND_MS)
          problems.push(
            `${stack.name}: the first ${what} after the restart was answered in ${ms} ms, over the ${FIRST_ANSWER_BOUND_MS} ms bound`,
          )
        return { status: res.status, body: text === '' ? undefined : JSON.parse(text), inv, resp }
      }

      /** The first write and the first lock on a stack after the restart, timed, and folded into the model. */
      const timeFirstAnswers = async (stack: StackModel): Promise<void> => {
        const marker = `probe-${nextOp}`
        const bytes = sampleSnapshot(marker)
        const lockId = stack.holder?.id
        const w = await timed(
          stack,
          'write',
          'POST',
          '/snapshots',
          bytes,
          lockId !== undefined ? { 'lock-id': lockId } : {},
        )
        if (w.status === 201) {
          const o: Op = {
            id: nextOp++,
            client: 'probe',
            stack: stack.name,
            kind: 'write',
            inv: w.inv,
            resp: w.resp,
            status: 201,
            marker,
            makeCurrent: false,
            underLock: lockId !== undefined,
            rev: w.body.rev,
          }
          stack.bytes.set(o.rev!, bytes)
          stack.writes.push(o)
        } else if (!(w.status === 423 && w.body?.code === 'locked')) {
          // (423: a lock a cut request took, which the check below adopts.)
          problems.push(
            `${stack.name}: the first write after the restart answered ${w.status} ${JSON.stringify(w.body)}`,
          )
        }
        const l = await timed(stack, 'lock', 'POST', '/lock', JSON.stringify({ who: 'probe', operation: 'first-lock' }))
        if (l.status === 201) {
          acquired(stack, 'probe', l.body.id, l.body.generation, null)
          const u = await fetch(
            `${check}/v1/factories/${FACTORY}/stacks/${stack.name}/lock?id=${encodeURIComponent(l.body.id)}`,
            { method: 'DELETE' },
          )
          await u.text()
          if (u.status !== 200) problems.push(`${stack.name}: the probe's unlock answered ${u.status}`)
          stack.holder = null
        } else if (!(l.status === 423 && l.body?.code === 'locked'))
          problems.push(
            `${stack.name}: the first lock after the restart answered ${l.status} ${JSON.stringify(l.body)}`,
          )
      }

      // No stall on a stack the kill cut requests on: its first write and first lock, sent before anything
      // else reaches it (well within the 10 s a dead owner's mutex used to hold it), are answered within the bound.
      for (const stack of stacks) {
        if (!ops.some((o) => o.stack === stack.name && o.resp === null && o.kind !== 'read')) continue
        if (leftMutex.has(stack.name)) figures.mutexLeftByKill++
        await timeFirstAnswers(stack)
      }

      for (const stack of stacks) {
        await checkHistory(stack, checkContext)
        await checkCurrent(stack, checkContext)

        // Lock: held by the recorded holder, or (when its release or a rival's lock was cut) free or held by a cut locker.
        const lock = await get(`${stack.name}/lock`)
        const unlocking = pendingUnlocks.get(stack.name)
        const recorded = stack.holder ?? (unlocking ? { client: unlocking.client, id: unlocking.id } : null)
        const cutLockers = cutLocks.filter((o) => o.stack === stack.name)
        const freeAllowed = stack.holder === null
        if (lock.status === 404) {
          if (!freeAllowed) problems.push(`${stack.name}: ${stack.holder!.client}'s lock is gone after the kill`)
          stack.holder = null
        } else if (lock.status === 200) {
          const id: string = lock.body.id
          const generation: number = lock.body.generation
          if (recorded !== null && id === recorded.id) {
            // Still held by the recorded holder (its release, if any, was cut before it took effect).
            stack.holder = { client: recorded.client, id }
            held.get(recorded.client)!.set(stack.name, id)
          } else {
            const taker = freeAllowed
              ? cutLockers.find((o) => lock.body.who === o.client && lock.body.operation === `op-${o.id}`)
              : undefined
            if (taker === undefined) {
              problems.push(
                `${stack.name}: held by ${lock.body.who}/${lock.body.operation} (generation ${generation}), not by anyone the record allows`,
              )
            } else {
              stack.holder = null
              acquired(stack, taker.client, id, generation, taker)
              held.get(taker.client)!.set(stack.name, id)
              figures.adoptedLocks++
            }
          }
          if (generation < stack.lastGeneration)
            problems.push(`${stack.name}: generation went back to ${generation} after ${stack.lastGeneration}`)
        } else {
          problems.push(`${stack.name}: lock answered ${lock.status} after the kill`)
        }
        // A release cut by the kill took effect unless its lock is still there.
        if (unlocking && stack.holder?.id !== unlocking.id) held.get(unlocking.client)!.delete(stack.name)
      }
      figures.cycles++
      figures.requests += ops.length
      figures.acknowledged += ops.filter((o) => o.status !== null).length
      figures.cut += ops.filter((o) => o.status === null).length
      figures.cutLockOps += ops.filter((o) => o.status === null && (o.kind === 'lock' || o.kind === 'unlock')).length
      if (problems.length > 0) break
    }
    t.same(
      problems.slice(0, 20),
      [],
      `${figures.cycles} kill cycles: the record matches the tree after every restart (seed ${SEED})`,
    )

    // Every acknowledged write of every epoch, read once more at the end.
    server ??= await startServer(['--data-dir', dir], KEY_ENV)
    const finalBase = server.url
    let intact = 0
    const damaged: string[] = []
    for (const stack of [...retired, ...stacks]) {
      for (const [rev, bytes] of stack.bytes) {
        const res = await fetch(`${finalBase}/v1/factories/${FACTORY}/stacks/${stack.name}/snapshots/${rev}`)
        const buf = Buffer.from(await res.arrayBuffer())
        if (res.status === 200 && buf.equals(bytes)) intact++
        else damaged.push(`${stack.name}/${rev}: ${res.status}`)
      }
    }
    t.same(
      damaged.slice(0, 20),
      [],
      `all ${intact} revs written over ${figures.cycles} cycles read back byte-exact at the end`,
    )
    t.ok(figures.acknowledged > 0, 'the load was acknowledged, not only refused or cut')
    reportFigures(t, 'kill -9 under load', { ...figures, revsIntactAtEnd: intact })
  },
)
