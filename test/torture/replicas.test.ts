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
import { MODE, SEED, below, reportFigures, seeded, sized } from '../helpers/torture.js'

const SERVERS = 3
const STACKS = ['alpha', 'beta'] as const
const LOCKERS_PER_SERVER = sized(1, 2) // per stack
const CYCLES = sized(8, 40) // per locker
const READERS_PER_SERVER = 1 // per stack
const FACTORY = 'replicas'
/** The longest a locker's lock request waits before it is asked again (423 wait-timeout). */
const WAIT_S = 30
/** The lease of the cycles that take one: long enough never to lapse during a cycle. */
const TTL_S = 120

if (MODE === 'long') t.setTimeout(900_000)

type Stack = (typeof STACKS)[number]
type Op = 'lock' | 'read' | 'renew' | 'intrude' | 'write' | 'unlock' | 'get-current' | 'get-lock'

/** One request as the test saw it. */
interface Rec {
  readonly client: string
  readonly server: number
  readonly stack: Stack
  readonly op: Op
  /** performance.now() just before the request was sent, and once its whole answer was read. */
  readonly inv: number
  readonly comp: number
  readonly status: number
  readonly code: string | undefined
  /** Facts of the answer: rev (write, ETag of current), generation and lock id (lock answers), value (current). */
  readonly rev?: string | undefined
  readonly generation?: number | undefined
  readonly lockId?: string | undefined
  readonly who?: string | undefined
  readonly value?: number | undefined
  readonly writer?: string | undefined
}

/** One lock cycle of a locker: its requests, in order. */
interface Cycle {
  readonly stack: Stack
  readonly client: string
  readonly lock: Rec
  readonly read: Rec
  readonly write: Rec
  readonly unlock: Rec
  /** The value written (the value read plus one). */
  readonly value: number
}

function stackPath(stack: Stack): string {
  return `/v1/factories/${FACTORY}/stacks/${stack}`
}

/** The counter document: a valid unobin snapshot carrying `value` and who wrote it under which lock. */
function counterDoc(stack: Stack, value: number, writer: string, lockId: string): Buffer {
  const doc = {
    'format-version': 1,
    factory: { name: FACTORY, version: '1.0.0', 'content-revision': 'sha256:torture' },
    stack,
    'generated-at': '2026-07-10T12:00:00Z',
    entries: [
      {
        address: 'counter.value',
        'entry-kind': 'leaf',
        category: 'resource',
        binding: { alias: 'local', kind: 'counter' },
        outputs: { value: String(value) },
      },
    ],
    outputs: { value: String(value), writer, 'lock-id': lockId },
  }
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`)
}

/** The value and writer of a counter document (value 0 = no current). */
function counterOf(answer: Answer): { value: number | undefined; writer: string | undefined } {
  const value = Number(answer.body?.outputs?.value)
  return { value: Number.isInteger(value) ? value : undefined, writer: answer.body?.outputs?.writer }
}

/** The largest index i with key(items[i]) < bound, or -1 (items sorted by key). */
function lastBefore<T>(items: readonly T[], key: (item: T) => number, bound: number): number {
  let lo = 0
  let hi = items.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (key(items[mid]!) < bound) lo = mid + 1
    else hi = mid
  }
  return lo - 1
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

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

  for (const stack of STACKS) {
    const mine = cycles.filter((c) => c.stack === stack)
    t.equal(mine.length, perStack, `${stack}: ${perStack} lock cycles ran`)
    const byGeneration = [...mine].sort((a, b) => a.lock.generation! - b.lock.generation!)

    // --- exclusion ---
    t.equal(
      new Set(mine.map((c) => c.lock.generation)).size,
      mine.length,
      `${stack}: every acquisition has its own generation`,
    )
    const first = byGeneration[0]?.lock.generation ?? 1
    t.same(
      byGeneration
        .flatMap((c, i) =>
          c.lock.generation === first + i ? [] : [`position ${i}: generation ${c.lock.generation} (${c.client})`],
        )
        .slice(0, 5),
      [],
      `${stack}: generations grow by one at every acquisition`,
    )
    const overlaps: string[] = []
    for (let i = 1; i < byGeneration.length; i++) {
      const prev = byGeneration[i - 1]!
      const next = byGeneration[i]!
      if (!(next.lock.comp > prev.lock.comp))
        overlaps.push(
          `generation ${next.lock.generation} (${next.client}) was answered before generation ${prev.lock.generation} (${prev.client})`,
        )
      if (!(next.lock.comp > prev.unlock.inv))
        overlaps.push(
          `generation ${next.lock.generation} (${next.client} via server ${next.lock.server}) was granted at ${next.lock.comp.toFixed(1)} ms, before generation ${prev.lock.generation} (${prev.client}) sent its unlock at ${prev.unlock.inv.toFixed(1)} ms`,
        )
    }
    t.same(overlaps.slice(0, 10), [], `${stack}: generations increase with acquisition time and no two holders overlap`)
    t.same(
      byGeneration
        .filter((c) => c.unlock.generation !== c.lock.generation)
        .map((c) => `${c.client}: locked ${c.lock.generation}, released ${c.unlock.generation}`),
      [],
      `${stack}: each unlock released its own generation`,
    )

    // --- history: no lost update ---
    t.same(
      byGeneration.map((c) => c.value),
      byGeneration.map((_, i) => i + 1),
      `${stack}: values written in generation order are 1..${perStack}, without gap or repeat`,
    )
    t.same(
      byGeneration
        .flatMap((c, i) =>
          c.read.value === i
            ? []
            : [
                `generation ${c.lock.generation} (${c.client}) read ${c.read.value} under the lock, the last write before it was ${i}`,
              ],
        )
        .slice(0, 5),
      [],
      `${stack}: each holder read the previous holder's value under the lock`,
    )
    const acked = byGeneration.map((c) => c.write.rev)
    const listings: string[][] = []
    for (let s = 0; s < SERVERS; s++) {
      const revs: string[] = []
      let after: string | null = null
      let current: string | null = null
      for (let page = 0; page < 10_000; page++) {
        const listed: Answer = await call(
          servers[s]!.url,
          'GET',
          `${stackPath(stack)}/snapshots?limit=${3 + s * 4}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`,
        )
        if (listed.status !== 200) {
          t.fail(`${stack}: listing page ${page} through server ${s} answered ${listed.status}`, { body: listed.text })
          break
        }
        revs.push(...(listed.body.revs as string[]))
        current = listed.body.current
        after = listed.body.next
        if (after === null) break
      }
      listings.push(revs)
      t.equal(current, acked.at(-1), `${stack}: server ${s} lists the last write as current`)
    }
    t.same(listings[0], acked, `${stack}: the listed history is exactly the acknowledged writes, in generation order`)
    t.same(listings.slice(1), [listings[0], listings[0]], `${stack}: every server lists the same history`)
    const content: string[] = []
    for (const [i, c] of byGeneration.entries()) {
      if (c.write.rev === undefined) continue
      const rev = await call(servers[i % SERVERS]!.url, 'GET', `${stackPath(stack)}/snapshots/${c.write.rev}`)
      const { value, writer } = counterOf(rev)
      if (rev.status !== 200 || value !== c.value || writer !== c.client)
        content.push(`${c.write.rev}: ${rev.status} value ${value} by ${writer}, written ${c.value} by ${c.client}`)
    }
    t.same(content.slice(0, 5), [], `${stack}: every rev holds the value and writer that wrote it`)
    for (let s = 0; s < SERVERS; s++) {
      const current = await call(servers[s]!.url, 'GET', `${stackPath(stack)}/current`)
      t.equal(counterOf(current).value, perStack, `${stack}: current through server ${s} holds the last value`)
      t.equal(current.headers.get('etag'), `"${acked.at(-1)}"`, `${stack}: and is the last rev`)
      const lock = await call(servers[s]!.url, 'GET', `${stackPath(stack)}/lock`)
      t.equal(lock.status, 404, `${stack}: the lock is free at the end through server ${s}`)
    }

    // --- linearizable reads of current (a register whose writes are sequential: each write
    // is under the lock, invoked after the previous one completed) ---
    const writes = byGeneration.map((c) => c.write) // value i + 1 at index i; inv and comp both increase
    const revOfValue = new Map(byGeneration.map((c) => [c.value, c.write.rev]))
    const reads = records.filter(
      (r) => r.stack === stack && (r.op === 'get-current' || r.op === 'read') && r.value !== undefined,
    )
    readsChecked += reads.length
    const stale: string[] = []
    const future: string[] = []
    const mismatched: string[] = []
    for (const r of reads) {
      const lower = lastBefore(writes, (w) => w.comp, r.inv) + 1 // the last value whose write completed before the read began
      const upper = lastBefore(writes, (w) => w.inv, r.comp) + 1 // the last value whose write began before the read completed
      const v = r.value!
      if (v < lower)
        stale.push(
          `${r.client} via server ${r.server} read ${v} in [${r.inv.toFixed(1)}, ${r.comp.toFixed(1)}] ms, but write ${lower} completed at ${writes[lower - 1]!.comp.toFixed(1)} ms`,
        )
      if (v > upper)
        future.push(
          `${r.client} via server ${r.server} read ${v} in [${r.inv.toFixed(1)}, ${r.comp.toFixed(1)}] ms, before write ${v} began`,
        )
      if (v > 0 && r.rev !== revOfValue.get(v))
        mismatched.push(`${r.client} read value ${v} with ETag ${r.rev}, written as ${revOfValue.get(v)}`)
    }
    t.same(
      stale.slice(0, 5),
      [],
      `${stack}: no read of current missed a write that completed before it began (${reads.length} reads)`,
    )
    t.same(future.slice(0, 5), [], `${stack}: no read of current saw a write that had not begun`)
    t.same(mismatched.slice(0, 5), [], `${stack}: every read's ETag is the rev of the value it read`)
    const byComp = [...reads].sort((a, b) => a.comp - b.comp)
    const byInv = [...reads].sort((a, b) => a.inv - b.inv)
    const inversions: string[] = []
    let seen = 0
    let highest: Rec | undefined
    for (const r of byInv) {
      for (; seen < byComp.length && byComp[seen]!.comp < r.inv; seen++) {
        if (highest === undefined || byComp[seen]!.value! > highest.value!) highest = byComp[seen]
      }
      if (highest !== undefined && r.value! < highest.value!)
        inversions.push(
          `${r.client} via server ${r.server} read ${r.value} at [${r.inv.toFixed(1)}, ${r.comp.toFixed(1)}] ms after ${highest.client} via server ${highest.server} had read ${highest.value} (done at ${highest.comp.toFixed(1)} ms)`,
        )
    }
    t.same(
      inversions.slice(0, 5),
      [],
      `${stack}: no read of current returned an older value than a read that completed before it began`,
    )

    // --- linearizable reads of the lock ---
    const byAcquired = [...byGeneration] // lock.comp increases with generation (checked above)
    const cycleOf = new Map(byGeneration.map((c) => [c.lock.generation!, c]))
    const lockReads = records.filter(
      (r) => r.stack === stack && r.op === 'get-lock' && (r.status === 200 || r.status === 404),
    )
    readsChecked += lockReads.length
    const badLockReads: string[] = []
    for (const r of lockReads) {
      const latest = lastBefore(byAcquired, (c) => c.lock.comp, r.inv) // the last acquisition answered before the read began
      if (r.status === 200) {
        const c = cycleOf.get(r.generation!)
        if (c === undefined) {
          badLockReads.push(
            `${r.client} via server ${r.server} saw generation ${r.generation} (${r.who}), which no locker acquired`,
          )
          continue
        }
        if (r.lockId !== c.lock.lockId || r.who !== c.client)
          badLockReads.push(
            `${r.client} saw generation ${r.generation} held by ${r.who} (${r.lockId}), acquired by ${c.client} (${c.lock.lockId})`,
          )
        if (!(c.lock.inv < r.comp))
          badLockReads.push(
            `${r.client} via server ${r.server} saw generation ${r.generation} before ${c.client} asked for it`,
          )
        if (c.unlock.comp < r.inv)
          badLockReads.push(
            `${r.client} via server ${r.server} saw generation ${r.generation} at ${r.inv.toFixed(1)} ms, after its unlock completed at ${c.unlock.comp.toFixed(1)} ms`,
          )
        if (latest >= 0 && r.generation! < byAcquired[latest]!.lock.generation!)
          badLockReads.push(
            `${r.client} via server ${r.server} saw generation ${r.generation} after generation ${byAcquired[latest]!.lock.generation} had been granted`,
          )
      } else if (latest >= 0) {
        const c = byAcquired[latest]!
        if (c.unlock.inv > r.comp)
          badLockReads.push(
            `${r.client} via server ${r.server} read the lock free in [${r.inv.toFixed(1)}, ${r.comp.toFixed(1)}] ms while generation ${c.lock.generation} (${c.client}) held it from ${c.lock.comp.toFixed(1)} to ${c.unlock.inv.toFixed(1)} ms`,
          )
      }
    }
    t.same(
      badLockReads.slice(0, 5),
      [],
      `${stack}: every GET lock answer is consistent with the acquisitions and releases (${lockReads.length} reads)`,
    )
  }

  const lockCycles = cycles.length
  reportFigures(t, 'three replicas', { servers: SERVERS, lockCycles, requestsChecked: records.length, readsChecked })
})
