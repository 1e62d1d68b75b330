/**
 * Torture: a lock holder frozen past its lease. A separate OS process
 * (test/fixtures/children/lease-holder.ts) takes the lock with the shortest
 * lease (1 s), renews it and writes fenced by its Lock-Id in a loop. The test
 * SIGSTOPs it, waits until the lease has expired (polling GET lock, or
 * waiting with POST lock?wait=…, alternately), takes the lock as another
 * client and writes, then SIGCONTs the old holder, which goes on writing and
 * renewing as if nothing happened. Checked against the record:
 *
 * - every write the old holder saw acknowledged is in the history, before the
 *   new holder's first write, and no old-holder rev comes after the takeover;
 * - every old-holder write and renewal sent after SIGCONT is refused with 423
 *   `lock-lost` naming the new holder (README "Fencing": "A holder whose lease
 *   ended or who was force-unlocked gets 423 lock-lost, and nothing is
 *   applied"), and never silently applied: the history is exactly the
 *   acknowledged writes, so a refused write that landed anyway shows up;
 * - the request in flight at SIGSTOP (most cycles freeze the holder right
 *   after it sent a write) may go either way, but its answer must match the
 *   history (the same exact-history check);
 * - the takeover came after the old lease's end (server timestamps), with the
 *   next generation; the new holder's writes all landed and current is its last.
 *
 * Short mode runs 3 cycles, long mode (UNOBIN_TORTURE_MODE=long) 30.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { type Child, ChildScripts } from '../helpers/child.js'
import { type Answer, call } from '../helpers/http-call.js'
import { type ServerProcess, startServer } from '../helpers/server-process.js'
import { sampleSnapshot } from '../helpers/store.js'
import { MODE, SEED, below, cycleCount, reportFigures, seeded } from '../helpers/torture.js'

/** How long a wait may last before the test fails instead of hanging (a guard, not an assertion). */
const GUARD_MS = 60_000
const CYCLES = cycleCount(3, 30)
/** Old-holder writes acknowledged (or answered) before the freeze. */
const WRITES_BEFORE_STOP = 3
/** New-holder writes before SIGCONT, and while the old holder runs again. */
const NEW_WRITES_BEFORE = 2
const NEW_WRITES_AFTER = 2
/** Old-holder writes sent after SIGCONT that are collected before it is stopped. */
const OLD_WRITES_AFTER = 3
/** The holder's lease (the minimum), renewal period and pause between writes. */
const TTL_S = 1
const RENEW_MS = 200
const PAUSE_MS = 5

const STACK = '/v1/factories/torture/stacks/lease-pause'

if (MODE === 'long') t.setTimeout(900_000)

const children = new ChildScripts(t.testdir())

/** The monotonic clock in ns: the one the child prints, shared by every process on Linux. */
function now(): bigint {
  return process.hrtime.bigint()
}

/** An RFC 3339 instant (up to nanoseconds) as ns since the epoch. */
function instantNs(text: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text)
  if (m === null) throw new Error(`not an RFC 3339 UTC instant: ${text}`)
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'))
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `ready` every 20 ms until it is true; throws after the guard. */
async function until(what: string, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + GUARD_MS
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${GUARD_MS} ms`)
    await sleep(20)
  }
}

/** The scheduler state of `pid` (`T` once a SIGSTOP took effect). */
function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
}

/** One old-holder write as the child recorded it. */
interface OldWrite {
  readonly marker: string
  readonly sent: bigint
  readonly status: number
  readonly rev: string | undefined
  readonly code: string | undefined
  readonly holderGeneration: number | undefined
  readonly answered: bigint
}

/** One old-holder renewal as the child recorded it. */
interface Renewal {
  readonly seq: number
  readonly sent: bigint
  readonly status: string
  readonly code: string | undefined
  readonly expires: string | undefined
  readonly holderGeneration: number | undefined
}

const dash = (s: string | undefined): string | undefined => (s === undefined || s === '-' ? undefined : s)

/** The child's writes and renewals, matched to when each was sent. */
function parseRecord(lines: readonly string[]): { writes: OldWrite[]; renewals: Renewal[]; unanswered: string[] } {
  const writeSent = new Map<string, bigint>()
  const renewSent = new Map<number, bigint>()
  const writes: OldWrite[] = []
  const renewals: Renewal[] = []
  for (const line of lines) {
    const f = line.split(' ')
    if (f[0] === 'write-sent') writeSent.set(f[1]!, BigInt(f[2]!))
    else if (f[0] === 'renew-sent') renewSent.set(Number(f[1]), BigInt(f[2]!))
    else if (f[0] === 'write') {
      const sent = writeSent.get(f[1]!)
      if (sent === undefined) throw new Error(`write outcome without a send: ${line}`)
      writeSent.delete(f[1]!)
      writes.push({
        marker: f[1]!,
        sent,
        status: Number(f[2]),
        rev: dash(f[3]),
        code: dash(f[4]),
        holderGeneration: dash(f[5]) === undefined ? undefined : Number(f[5]),
        answered: BigInt(f[6]!),
      })
    } else if (f[0] === 'renew') {
      const seq = Number(f[1])
      const sent = renewSent.get(seq)
      if (sent === undefined) throw new Error(`renewal outcome without a send: ${line}`)
      renewSent.delete(seq)
      renewals.push({
        seq,
        sent,
        status: f[2]!,
        code: dash(f[3]),
        expires: dash(f[4]),
        holderGeneration: dash(f[5]) === undefined ? undefined : Number(f[5]),
      })
    }
  }
  return {
    writes,
    renewals,
    unanswered: [
      ...[...writeSent.keys()].map((m) => `write ${m}`),
      ...[...renewSent.keys()].map((s) => `renewal ${s}`),
    ],
  }
}

/** Every rev of the stack, following `next` through pages of `limit`. */
async function listAll(base: string, limit: number): Promise<{ revs: string[]; current: string | null }> {
  const revs: string[] = []
  let after: string | null = null
  let current: string | null = null
  for (;;) {
    const page: Answer = await call(
      base,
      'GET',
      `${STACK}/snapshots?limit=${limit}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`,
    )
    if (page.status !== 200) throw new Error(`listing answered ${page.status}: ${page.text}`)
    revs.push(...(page.body.revs as string[]))
    current = page.body.current
    after = page.body.next
    if (after === null) return { revs, current }
  }
}

t.test('a holder frozen past its lease cannot write after another client took the lock', async (t) => {
  const server: ServerProcess = await startServer(['--data-dir', t.testdir(), '--max-wait', '60'])
  t.teardown(() => server.stop('SIGKILL'))

  /** The history the record allows: per cycle, the old holder's acknowledged writes, then the new holder's. */
  const expected: string[] = []
  /** Who wrote each acknowledged rev, for messages. */
  const writer = new Map<string, string>()
  let oldHolderWritesRefused = 0
  let oldHolderWritesAcked = 0
  const inFlight: string[] = []
  const random = seeded(SEED)
  let writesChecked = 0
  let lastGeneration = 0

  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const name = `old-${cycle}`
    const holder: Child = children.spawn(t, 'lease-holder', [
      server.url,
      STACK,
      name,
      String(TTL_S),
      String(RENEW_MS),
      String(PAUSE_MS),
    ])
    const [, oldId, oldGenText, oldExpires] = (await holder.line('locked ')).split(' ')
    const oldGeneration = Number(oldGenText)
    t.equal(oldGeneration, lastGeneration + 1, `cycle ${cycle}: the holder's lock has the next generation`)
    t.not(oldExpires, 'null', `cycle ${cycle}: the holder's lock has a lease`)
    for (let i = 0; i < WRITES_BEFORE_STOP; i++) await holder.line(/^write /)
    // Freeze the holder (renewals stop with it): mostly right after it announced a write, so that
    // the write is likely in flight; otherwise a random few ms later. Then wait until the kernel says it is stopped.
    if (random() < 0.75) await holder.line('write-sent ')
    else await sleep(below(random, 15))
    process.kill(holder.pid, 'SIGSTOP')
    await until(`pid ${holder.pid} to stop`, () => procState(holder.pid) === 'T')
    const stoppedAt = now()

    // Wait out the lease: poll GET lock until it reads free (even cycles), or wait for it in POST lock (odd).
    let taken: Answer
    const polled: string[] = []
    if (cycle % 2 === 0) {
      const freeBy = Date.now() + GUARD_MS
      for (;;) {
        const seen = await call(server.url, 'GET', `${STACK}/lock`)
        if (seen.status === 404) break
        if (seen.status !== 200 || seen.body.id !== oldId) polled.push(`${seen.status} ${seen.text}`)
        if (polled.length > 0) break
        if (Date.now() > freeBy) throw new Error(`cycle ${cycle}: the lock did not free within ${GUARD_MS} ms`)
        await sleep(100)
      }
      t.same(polled, [], `cycle ${cycle}: until it frees, the lock reads as the frozen holder's`)
      taken = await call(server.url, 'POST', `${STACK}/lock`, { json: { who: `new-${cycle}`, operation: 'takeover' } })
    } else {
      taken = await call(server.url, 'POST', `${STACK}/lock?wait=30`, {
        json: { who: `new-${cycle}`, operation: 'takeover' },
      })
    }
    t.equal(taken.status, 201, `cycle ${cycle}: another client takes the lock once the lease expired`, {
      body: taken.body,
    })
    if (taken.status !== 201) break
    const newId: string = taken.body.id
    const newGeneration: number = taken.body.generation
    t.equal(newGeneration, oldGeneration + 1, `cycle ${cycle}: the takeover has the next generation`)
    lastGeneration = newGeneration

    const newRevs: string[] = []
    const newWrite = async (i: number): Promise<void> => {
      const marker = `new-${cycle}.${i}`
      const w = await call(server.url, 'POST', `${STACK}/snapshots?current=true`, {
        body: sampleSnapshot(marker),
        headers: { 'lock-id': newId },
      })
      writesChecked++
      t.equal(w.status, 201, `cycle ${cycle}: new holder's write ${i} lands`, { body: w.body })
      if (w.status === 201) {
        newRevs.push(w.body.rev)
        writer.set(w.body.rev, marker)
      }
    }
    for (let i = 0; i < NEW_WRITES_BEFORE; i++) await newWrite(i)

    // Thaw the old holder; it writes and renews on, with its old Lock-Id, while the new holder writes too.
    const contAt = now()
    process.kill(holder.pid, 'SIGCONT')
    const newAfter = (async () => {
      for (let i = NEW_WRITES_BEFORE; i < NEW_WRITES_BEFORE + NEW_WRITES_AFTER; i++) await newWrite(i)
    })()
    await until(`cycle ${cycle}: ${OLD_WRITES_AFTER} old-holder writes and a renewal after SIGCONT`, () => {
      const { writes, renewals } = parseRecord(holder.lines)
      return writes.filter((w) => w.sent > contAt).length >= OLD_WRITES_AFTER && renewals.some((r) => r.sent > contAt)
    })
    await newAfter
    holder.send('stop')
    await holder.line('done')
    await holder.done()

    const { writes, renewals, unanswered } = parseRecord(holder.lines)
    t.same(unanswered, [], `cycle ${cycle}: every request of the old holder was answered before it stopped`)

    // Old-holder writes sent before the freeze may have gone either way (the one in flight at SIGSTOP
    // included: its answer is checked against the history below); none can have been sent while frozen.
    const frozen = writes.filter((w) => w.sent >= stoppedAt && w.sent <= contAt).map((w) => w.marker)
    t.same(frozen, [], `cycle ${cycle}: nothing was sent while the holder was stopped`)
    const before = writes.filter((w) => w.sent < stoppedAt)
    const odd = before.filter((w) => !(w.status === 201 || (w.status === 423 && w.code === 'lock-lost')))
    t.same(
      odd.map((w) => `${w.marker} ${w.status} ${w.code}`),
      [],
      `cycle ${cycle}: writes before the freeze were acknowledged, or refused as lock-lost (lease lapsed)`,
    )
    const acked = before.filter((w) => w.status === 201)
    t.same(
      acked.filter((w) => w.rev === undefined).map((w) => w.marker),
      [],
      `cycle ${cycle}: every acknowledged write names its rev`,
    )
    for (const w of acked) {
      expected.push(w.rev!)
      writer.set(w.rev!, w.marker)
    }
    oldHolderWritesAcked += acked.length
    // The write in flight at SIGSTOP (sent before it, answered after SIGCONT): either outcome, checked by the history.
    inFlight.push(
      ...before.filter((w) => w.answered > contAt).map((w) => `${w.status}${w.code === undefined ? '' : ` ${w.code}`}`),
    )

    // After the thaw: every write and renewal is refused as lock-lost, naming the new holder.
    const after = writes.filter((w) => w.sent > contAt)
    const applied = after.filter((w) => !(w.status === 423 && w.code === 'lock-lost' && w.rev === undefined))
    t.same(
      applied.map((w) => `${w.marker} ${w.status} ${w.code ?? ''} ${w.rev ?? ''}`),
      [],
      `cycle ${cycle}: every old-holder write after SIGCONT is refused with 423 lock-lost`,
    )
    t.same(
      after
        .filter((w) => w.holderGeneration !== newGeneration)
        .map((w) => `${w.marker}: holder generation ${w.holderGeneration}`),
      [],
      `cycle ${cycle}: each refusal names the new holder (generation ${newGeneration})`,
    )
    oldHolderWritesRefused += after.length - applied.length
    const renewedAfter = renewals.filter((r) => r.sent > contAt)
    t.same(
      renewedAfter
        .filter((r) => !(r.status === '423' && r.code === 'lock-lost'))
        .map((r) => `renewal ${r.seq}: ${r.status} ${r.code ?? ''} ${r.expires ?? ''}`),
      [],
      `cycle ${cycle}: every renewal after SIGCONT is refused with 423 lock-lost`,
    )
    writesChecked += writes.length

    // The takeover came after the end of the last lease the old holder was granted (server timestamps).
    const granted = [
      oldExpires!,
      ...renewals.filter((r) => r.status === '200' && r.expires !== undefined).map((r) => r.expires!),
    ]
    // biome-ignore lint/complexity/useMathMinMax: bigints, which Math.max refuses
    const leaseEnd = granted.map(instantNs).reduce((a, b) => (a > b ? a : b))
    const leaseEndMs = (leaseEnd / 1_000_000n) * 1_000_000n // the server compares leases at millisecond precision
    const created = instantNs(taken.body.created)
    t.ok(
      created >= leaseEndMs,
      `cycle ${cycle}: the lock was taken over (${taken.body.created}) only after the old lease ended (${granted.length} leases granted, the last until ${new Date(Number(leaseEnd / 1_000_000n)).toISOString()})`,
    )

    // The new holder still holds the lock, and current is its last write.
    const lock = await call(server.url, 'GET', `${STACK}/lock`)
    t.equal(lock.body?.id, newId, `cycle ${cycle}: the new holder still holds the lock`)
    const current = await call(server.url, 'GET', `${STACK}/current`)
    t.equal(
      current.headers.get('etag'),
      `"${newRevs.at(-1)}"`,
      `cycle ${cycle}: current is the new holder's last write`,
    )
    expected.push(...newRevs)

    // The history so far is exactly the acknowledged writes, in order.
    const { revs, current: listedCurrent } = await listAll(server.url, 4)
    const markerOfRev = new Map(writer)
    const extra: string[] = []
    for (const rev of revs.filter((r) => !writer.has(r))) {
      const body = await call(server.url, 'GET', `${STACK}/snapshots/${rev}`)
      markerOfRev.set(rev, String(body.body?.outputs?.marker ?? body.status))
      extra.push(`${rev}: ${markerOfRev.get(rev)}`)
    }
    t.same(extra, [], `cycle ${cycle}: no write the holders were refused (or never told about) is in the history`)
    const lastOld = Math.max(-1, ...acked.map((w) => revs.indexOf(w.rev!)))
    const firstNew = revs.indexOf(newRevs[0]!)
    t.ok(
      acked.every((w) => revs.includes(w.rev!)),
      `cycle ${cycle}: every write the old holder saw acknowledged is in the history`,
    )
    t.ok(lastOld < firstNew, `cycle ${cycle}: all of them before the new holder's first write`)
    t.same(
      revs
        .slice(firstNew)
        .filter((r) => markerOfRev.get(r)?.startsWith('old-') === true)
        .map((r) => `${r}: ${markerOfRev.get(r)}`),
      [],
      `cycle ${cycle}: no old-holder rev after the takeover`,
    )
    t.same(revs, expected, `cycle ${cycle}: the history is exactly the acknowledged writes in order`)
    t.equal(listedCurrent, newRevs.at(-1), `cycle ${cycle}: the listing names the new holder's last write as current`)

    const unlocked = await call(server.url, 'DELETE', `${STACK}/lock?id=${encodeURIComponent(newId)}`)
    t.equal(unlocked.status, 200, `cycle ${cycle}: the new holder unlocks`)
  }

  // A vacuous run (no old-holder write ever acknowledged) would prove nothing.
  t.ok(oldHolderWritesAcked > 0, `the old holders had ${oldHolderWritesAcked} writes acknowledged before their freeze`)
  t.comment(`writes in flight at SIGSTOP: ${inFlight.length} (${inFlight.join(', ')})`)
  reportFigures(t, 'lease pause', { cycles: CYCLES, oldHolderWritesRefused, writesChecked })
})
