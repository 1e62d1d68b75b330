/**
 * The three-replica torture's checks, run per stack on the whole record:
 * lock exclusion and the history (through every server), then linearizable
 * reads of current and of the lock.
 */
import type { Test } from 'tap'
import { type Answer, call } from '../../helpers/http-call.js'
import type { ServerProcess } from '../../helpers/server-process.js'
import { type Cycle, type Rec, SERVERS, type Stack, counterOf, lastBefore, stackPath } from './model.js'

/** What the checks read: the servers (for the listings), every request, every lock cycle, and the cycles per stack. */
export interface Run {
  readonly servers: readonly ServerProcess[]
  readonly records: readonly Rec[]
  readonly cycles: readonly Cycle[]
  readonly perStack: number
}

/**
 * Exclusion (generations unique, consecutive, increasing with acquisition
 * time, no two holders overlap) and history (the listed revs through every
 * server are exactly the acknowledged writes in generation order; current is
 * the last; the lock is free at the end). Returns the stack's cycles in
 * generation order.
 */
export async function checkLocksAndHistory(t: Test, stack: Stack, run: Run): Promise<Cycle[]> {
  const { servers, cycles, perStack } = run
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
  return byGeneration
}

/**
 * Linearizable reads of current (a register whose writes are sequential:
 * each write is under the lock, invoked after the previous one completed).
 * Returns the number of reads checked.
 */
export function checkCurrentReads(t: Test, stack: Stack, byGeneration: readonly Cycle[], run: Run): number {
  const { records } = run
  const writes = byGeneration.map((c) => c.write) // value i + 1 at index i; inv and comp both increase
  const revOfValue = new Map(byGeneration.map((c) => [c.value, c.write.rev]))
  const reads = records.filter(
    (r) => r.stack === stack && (r.op === 'get-current' || r.op === 'read') && r.value !== undefined,
  )
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
  return reads.length
}

/** Linearizable reads of the lock. Returns the number of reads checked. */
export function checkLockReads(t: Test, stack: Stack, byGeneration: readonly Cycle[], run: Run): number {
  const { records } = run
  const byAcquired = [...byGeneration] // lock.comp increases with generation (checked above)
  const cycleOf = new Map(byGeneration.map((c) => [c.lock.generation!, c]))
  const lockReads = records.filter(
    (r) => r.stack === stack && r.op === 'get-lock' && (r.status === 200 || r.status === 404),
  )
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
  return lockReads.length
}
