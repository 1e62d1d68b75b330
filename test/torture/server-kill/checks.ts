/**
 * The kill -9 torture's record and the checks a restarted server must pass:
 * one request as a client saw it (`Op`), what is known of one stack
 * (`StackModel`), and the history and `current` checks run after each kill.
 * The lock check stays in the test: it adopts cut locks into the clients' state.
 */
import { performance } from 'node:perf_hooks'
import { sampleSnapshot } from '../../helpers/store.js'

/** One request as a client saw it. `resp` is null while in flight, and stays null when the kill cut it. */
export interface Op {
  readonly id: number
  readonly client: string
  readonly stack: string
  readonly kind: 'write' | 'set-current' | 'lock' | 'unlock' | 'read'
  readonly inv: number
  resp: number | null
  status: number | null
  /** write: the marker in the document; set-current: the target rev. */
  readonly marker?: string
  readonly makeCurrent?: boolean
  readonly underLock?: boolean
  target?: string
  rev?: string
  lockId?: string
  generation?: number
}

/** What is known about one stack, from acknowledgements and from checks after restarts. */
export interface StackModel {
  readonly name: string
  /** rev -> the exact bytes written there (acknowledged, or found landed after a kill). */
  readonly bytes: Map<string, Buffer>
  /** Write ops whose rev is known, for the order check. */
  readonly writes: Op[]
  /** Requests that may have set current: acknowledged ones, cut ones, and the value a check observed. */
  currentOps: Op[]
  /** The client whose lock is held (by the record), with its id. */
  holder: { client: string; id: string } | null
  lastGeneration: number
}

/** A GET on the restarted server, relative to the torture factory's stacks. */
export type Get = (path: string) => Promise<{ status: number; headers: Headers; buf: Buffer; body: any }>

/** What a check reads and where it reports: the restarted server, the cycle's requests, and the run's record. */
export interface CheckContext {
  readonly get: Get
  /** This cycle's requests. */
  readonly ops: readonly Op[]
  /** Every cycle's requests, to explain a listed rev nobody acknowledged. */
  readonly allOps: () => readonly Op[]
  readonly problems: string[]
  readonly figures: { revsChecked: number; landedAfterCut: number; lostAfterCut: number }
}

/**
 * History: every acknowledged rev is listed and byte-exact; anything else
 * listed is a write the kill cut, whole, and is folded into the model; a
 * write acknowledged before another began is listed first.
 */
export async function checkHistory(stack: StackModel, ctx: CheckContext): Promise<void> {
  const { get, ops, problems, figures } = ctx
  const listed: string[] = []
  let after: string | null = null
  do {
    const page = await get(`${stack.name}/snapshots?limit=1000${after ? `&after=${after}` : ''}`)
    if (page.status === 404 && stack.bytes.size === 0 && listed.length === 0) break
    if (page.status !== 200) {
      problems.push(`${stack.name}: list answered ${page.status}`)
      break
    }
    listed.push(...page.body.revs)
    after = page.body.next
  } while (after !== null)
  const cutWrites = new Map(
    ops.filter((o) => o.stack === stack.name && o.kind === 'write' && o.resp === null).map((o) => [o.marker!, o]),
  )
  for (const rev of listed) {
    const read = await get(`${stack.name}/snapshots/${rev}`)
    figures.revsChecked++
    const known = stack.bytes.get(rev)
    if (known !== undefined) {
      if (read.status !== 200 || !read.buf.equals(known))
        problems.push(
          `${stack.name}/${rev}: acknowledged write reads ${read.status}, ${read.buf.length} bytes, not what was written`,
        )
      continue
    }
    const marker: unknown = read.body?.outputs?.marker
    const cut = typeof marker === 'string' ? cutWrites.get(marker) : undefined
    if (read.status !== 200 || cut === undefined || !read.buf.equals(sampleSnapshot(marker as string))) {
      const op = ctx.allOps().find((o) => o.marker === marker)
      problems.push(
        `${stack.name}/${rev}: listed but neither acknowledged nor a whole cut write (${read.status}, marker ${String(marker)}: ${JSON.stringify(op)})`,
      )
      continue
    }
    cutWrites.delete(cut.marker!)
    cut.rev = rev
    stack.bytes.set(rev, read.buf)
    stack.writes.push(cut)
    figures.landedAfterCut++
  }
  figures.lostAfterCut += cutWrites.size
  const listedSet = new Set(listed)
  for (const rev of stack.bytes.keys())
    if (!listedSet.has(rev)) problems.push(`${stack.name}/${rev}: acknowledged write not listed after the kill`)
  // Order: a write acknowledged before another began is listed first.
  const index = new Map(listed.map((r, i) => [r, i]))
  for (const a of stack.writes) {
    for (const b of stack.writes) {
      if (a.resp !== null && a.resp < b.inv && index.get(a.rev!)! > index.get(b.rev!)!)
        problems.push(`${stack.name}: ${a.rev} was acknowledged before ${b.rev} was sent but lists after it`)
    }
  }
}

/** Current: readable, and the value of a request no acknowledged request followed; the observation is folded in. */
export async function checkCurrent(stack: StackModel, ctx: CheckContext): Promise<void> {
  const { get, problems } = ctx
  const current = await get(`${stack.name}/current`)
  const candidates = stack.currentOps.filter(
    (o) =>
      (o.status === null ? o.resp === null : o.status < 300) &&
      !stack.currentOps.some((p) => p.status !== null && p.status < 300 && o.resp !== null && p.inv > o.resp),
  )
  const revLeftBy = (o: Op): string | undefined => (o.kind === 'set-current' ? o.target : o.rev)
  if (current.status === 404) {
    if (stack.currentOps.some((o) => o.status !== null && o.status < 300))
      problems.push(`${stack.name}: current is gone after the kill`)
    stack.currentOps = [] // none of the cut requests took effect
  } else if (current.status !== 200) {
    problems.push(`${stack.name}: current answered ${current.status} after the kill`)
  } else {
    const rev = String(current.headers.get('etag')).replaceAll('"', '')
    if (!candidates.some((o) => revLeftBy(o) === rev))
      problems.push(`${stack.name}: current is ${rev}, which no request could have left last`)
    if (!current.buf.equals(stack.bytes.get(rev) ?? Buffer.alloc(0)))
      problems.push(`${stack.name}: current does not read as rev ${rev} was written`)
    // Fold the observation in: from now on current is this value, as of now.
    stack.currentOps = [
      {
        id: -1,
        client: 'check',
        stack: stack.name,
        kind: 'set-current',
        inv: performance.now(),
        resp: performance.now(),
        status: 200,
        target: rev,
      },
    ]
  }
}
