/**
 * Torture: three server processes on one data directory (replicas on one
 * volume), with clients on all three and on two stacks, every request
 * recorded (client, server, op, invoke and completion time on the test
 * process's one clock, status, rev, generation, value) and the record checked
 * against a model:
 *
 * - lockers loop: take the lock (waiting, on their own server), read current
 *   (value v, or none), write a counter document carrying v+1 and their name
 *   fenced by their Lock-Id, unlock; each request of a cycle but the lock goes
 *   to a server picked at random, so a lock taken on one replica fences a
 *   write through another. Some cycles take a lease and renew it; some let an
 *   intruder write without the Lock-Id while the lock is held, which must be
 *   refused 423 `locked` naming the holder;
 * - readers loop on GET current and GET lock, unlocked, while lockers run.
 *
 * Checked: exclusion (generations unique, consecutive and increasing with
 * acquisition time; each acquisition answered only after the previous holder
 * sent its unlock), history (the listed revs, paged, through every server, are
 * exactly the acknowledged writes in generation order; values 1..N without gap
 * or repeat; current is the last), and linearizable reads (a monotone
 * register: a read returns at least the last value whose write completed
 * before it started, at most the last value whose write started before it
 * completed, never less than a read that completed before it started; a GET
 * lock answer names a holder that may hold the lock during the read, and
 * "free" only when no single holder surely held it throughout).
 *
 * Short mode: 3 servers x 2 lockers (one per stack) x 8 cycles; long mode
 * (UNOBIN_TORTURE_MODE=long): 10x the cycles and two lockers per server and stack.
 */
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { type Answer, call } from '../helpers/http-call.js'
import { type ServerProcess, startServer } from '../helpers/server-process.js'
import { MODE, SEED, below, reportFigures, seeded } from '../helpers/torture.js'
import { type Run, checkCurrentReads, checkLocksAndHistory, checkLockReads } from './replicas/checks.js'
import {
  CYCLES,
  type Cycle,
  LOCKERS_PER_SERVER,
  type Op,
  type Rec,
  READERS_PER_SERVER,
  SERVERS,
  STACKS,
  type Stack,
  TTL_S,
  WAIT_S,
  counterDoc,
  counterOf,
  sleep,
  stackPath,
} from './replicas/model.js'

if (MODE === 'long') t.setTimeout(900_000)

t.test('three replicas on one data dir: lock exclusion and per-stack history are linearizable', async (t) => {
  const dataDir = t.testdir()
  const servers: ServerProcess[] = await Promise.all(
    Array.from({ length: SERVERS }, async () => {
      const s = await startServer(['--data-dir', dataDir, '--max-wait', '60'])
      t.teardown(() => s.stop('SIGKILL'))
      return s
    }),
  )
  const random = seeded(SEED)
  const records: Rec[] = []
  const cycles: Cycle[] = []
  const unexpected: string[] = []
  let waitTimeouts = 0

  /** Sends one request through server `server`, recording it with the facts `facts` draws from the answer. */
  const timed = async (
    client: string,
    server: number,
    stack: Stack,
    op: Op,
    method: string,
    path: string,
    options: Parameters<typeof call>[3] = {},
  ): Promise<{ rec: Rec; answer: Answer }> => {
    const inv = performance.now()
    const answer = await call(servers[server]!.url, method, stackPath(stack) + path, options)
    const comp = performance.now()
    const body = answer.body
    const lockAnswer = op === 'lock' || op === 'renew' || op === 'get-lock'
    const etag = answer.headers.get('etag')
    const counter = op === 'read' || op === 'get-current' ? counterOf(answer) : { value: undefined, writer: undefined }
    const rec: Rec = {
      client,
      server,
      stack,
      op,
      inv,
      comp,
      status: answer.status,
      code: body?.code,
      rev: op === 'write' ? body?.rev : etag !== null ? etag.replace(/^"|"$/g, '') : undefined,
      generation: lockAnswer
        ? answer.status < 300
          ? body?.generation
          : body?.holder?.generation
        : op === 'unlock'
          ? body?.released?.generation
          : undefined,
      lockId: lockAnswer
        ? answer.status < 300
          ? body?.id
          : body?.holder?.id
        : op === 'unlock'
          ? body?.released?.id
          : op === 'intrude'
            ? body?.holder?.id
            : undefined,
      who: lockAnswer && answer.status < 300 ? body?.who : undefined,
      value: answer.status === 404 && body?.code === 'no-current' ? 0 : counter.value,
      writer: counter.writer,
    }
    records.push(rec)
    return { rec, answer }
  }
  const pick = (): number => below(random, SERVERS)

  const locker = async (stack: Stack, home: number, k: number): Promise<void> => {
    const name = `locker-${stack}-s${home}-${k}`
    for (let c = 0; c < CYCLES; c++) {
      const withLease = random() < 1 / 3
      let lock: Rec
      let lockAnswer: Answer
      for (;;) {
        ;({ rec: lock, answer: lockAnswer } = await timed(name, home, stack, 'lock', 'POST', `/lock?wait=${WAIT_S}`, {
          json: { who: name, operation: `cycle ${c}`, ...(withLease ? { ttl: TTL_S } : {}) },
        }))
        if (lock.status === 423 && lock.code === 'wait-timeout') {
          waitTimeouts++ // starved for a whole wait: not an exclusion fault, ask again
          continue
        }
        break
      }
      if (lock.status !== 201 || lock.lockId === undefined) {
        unexpected.push(`${name} lock ${c}: ${lock.status} ${lockAnswer.text}`)
        return
      }
      const id = lock.lockId
      if ((lockAnswer.body.expires === null) === withLease)
        unexpected.push(
          `${name} lock ${c}: expires ${lockAnswer.body.expires} ${withLease ? 'with' : 'without'} a lease`,
        )

      const { rec: read, answer: readAnswer } = await timed(name, pick(), stack, 'read', 'GET', '/current')
      if (!(read.status === 200 || (read.status === 404 && read.code === 'no-current')) || read.value === undefined) {
        unexpected.push(`${name} read ${c}: ${read.status} ${readAnswer.text.slice(0, 200)}`)
      }

      if (withLease) {
        const { rec: renew, answer } = await timed(name, pick(), stack, 'renew', 'PUT', '/lock', {
          json: { id, ttl: TTL_S },
        })
        if (
          renew.status !== 200 ||
          renew.lockId !== id ||
          renew.generation !== lock.generation ||
          typeof answer.body?.expires !== 'string'
        ) {
          unexpected.push(`${name} renew ${c}: ${renew.status} ${answer.text}`)
        }
      }

      if (random() < 0.3) {
        // An unlocked writer while the lock is surely held (between our 201 and our unlock): refused, naming us.
        const { rec: intrude, answer } = await timed(
          `intruder-${name}`,
          pick(),
          stack,
          'intrude',
          'POST',
          '/snapshots?current=true',
          { body: counterDoc(stack, -1, 'intruder', '') },
        )
        if (
          intrude.status !== 423 ||
          intrude.code !== 'locked' ||
          intrude.lockId !== id ||
          answer.body?.holder?.generation !== lock.generation
        ) {
          unexpected.push(
            `${name} intruder ${c}: expected 423 locked naming ${id}, got ${intrude.status} ${answer.text.slice(0, 300)}`,
          )
        }
      }

      const value = (read.value ?? -100) + 1
      const { rec: write, answer: writeAnswer } = await timed(
        name,
        pick(),
        stack,
        'write',
        'POST',
        '/snapshots?current=true',
        { body: counterDoc(stack, value, name, id), headers: { 'lock-id': id } },
      )
      if (write.status !== 201 || write.rev === undefined || writeAnswer.body?.current !== true)
        unexpected.push(`${name} write ${c}: ${write.status} ${writeAnswer.text}`)

      const { rec: unlock, answer: unlockAnswer } = await timed(
        name,
        pick(),
        stack,
        'unlock',
        'DELETE',
        `/lock?id=${encodeURIComponent(id)}`,
      )
      if (unlock.status !== 200 || unlock.lockId !== id)
        unexpected.push(`${name} unlock ${c}: ${unlock.status} ${unlockAnswer.text}`)
      cycles.push({ stack, client: name, lock, read, write, unlock, value })
    }
  }

  let lockersDone = false
  const reader = async (stack: Stack, home: number): Promise<void> => {
    const name = `reader-${stack}-s${home}`
    while (!lockersDone) {
      if (random() < 0.5) {
        const { rec, answer } = await timed(name, home, stack, 'get-current', 'GET', '/current')
        if (
          !(
            (rec.status === 200 && rec.value !== undefined && rec.rev !== undefined) ||
            (rec.status === 404 && rec.code === 'no-current')
          )
        ) {
          unexpected.push(`${name} GET current: ${rec.status} ${answer.text.slice(0, 200)}`)
        }
      } else {
        const { rec, answer } = await timed(name, home, stack, 'get-lock', 'GET', '/lock')
        if (
          !((rec.status === 200 && rec.generation !== undefined) || (rec.status === 404 && rec.code === 'not-locked'))
        ) {
          unexpected.push(`${name} GET lock: ${rec.status} ${answer.text.slice(0, 200)}`)
        }
      }
      await sleep(below(random, 10))
    }
  }

  const lockers: Promise<void>[] = []
  const readers: Promise<void>[] = []
  for (const stack of STACKS) {
    for (let s = 0; s < SERVERS; s++) {
      for (let k = 0; k < LOCKERS_PER_SERVER; k++) lockers.push(locker(stack, s, k))
      for (let k = 0; k < READERS_PER_SERVER; k++) readers.push(reader(stack, s))
    }
  }
  await Promise.all(lockers)
  lockersDone = true
  await Promise.all(readers)

  t.same(unexpected.slice(0, 20), [], 'every request got the answer its role expects')
  t.comment(`${waitTimeouts} lock waits timed out and were asked again`)
  const perStack = SERVERS * LOCKERS_PER_SERVER * CYCLES
  let readsChecked = 0
  const run: Run = { servers, records, cycles, perStack }

  for (const stack of STACKS) {
    const byGeneration = await checkLocksAndHistory(t, stack, run)
    readsChecked += checkCurrentReads(t, stack, byGeneration, run)
    readsChecked += checkLockReads(t, stack, byGeneration, run)
  }

  const lockCycles = cycles.length
  reportFigures(t, 'three replicas', { servers: SERVERS, lockCycles, requestsChecked: records.length, readsChecked })
})
