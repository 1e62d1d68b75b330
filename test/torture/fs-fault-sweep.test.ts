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
import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { basename, join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import { Keyring } from '../../src/crypto/keyring.js'
import { keyFromEnv } from '../../src/crypto/keys.js'
import type { App } from '../../src/http/app-type.js'
import { parseRev } from '../../src/store/rev.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { ManualClock } from '../helpers/clock.js'
import { type FaultCode, type FsCall, FaultyFs } from '../helpers/faulty-fs.js'
import { stateFile } from '../helpers/go-http-client.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'
import { MODE, SEED, reportFigures, sized } from '../helpers/torture.js'

// Every call of every mutation path, the mutex's included: minutes on a loaded machine.
t.setTimeout(sized(480_000, 1_800_000))

const FACTORY = 'f'
const JSON_TYPE = { 'content-type': 'application/json' }
const OLD = keyFromEnv({ SWEEP_KEY_OLD: Buffer.alloc(32, 'o').toString('base64') }, 'SWEEP_KEY_OLD')
const NEW = keyFromEnv({ SWEEP_KEY_NEW: Buffer.alloc(32, 'n').toString('base64') }, 'SWEEP_KEY_NEW')
const LINEAGE = 'sweep-lineage'
/** The LockInfo ID Terraform sends on the seeded Terraform lock (and on the LOCK paths). */
const TF_LOCK_ID = '5d3c1a7e-0b7a-4c43-9f0e-2f4b1e7c9a10'

/** The errnos the sweep injects: a full volume and a failing disk. */
type SweptCode = Extract<FaultCode, 'ENOSPC' | 'EIO'>

/** What each errno must answer. */
const EXPECTED: Record<SweptCode, { status: number; code: string }> = {
  ENOSPC: { status: 507, code: 'no-space' },
  EIO: { status: 500, code: 'storage-failure' },
}
const CODES: readonly SweptCode[] = ['ENOSPC', 'EIO']

/** The codes tried at fault N: both in long mode; in short mode one, alternating by N (the seed picks the first). */
function codesFor(n: number): readonly SweptCode[] {
  return sized([CODES[(n + SEED) % 2]!], CODES)
}

/** A Terraform LockInfo as the clients send it. */
function lockInfo(): Buffer {
  return Buffer.from(
    JSON.stringify({
      ID: TF_LOCK_ID,
      Operation: 'OperationTypeApply',
      Info: '',
      Who: 'ci@runner',
      Version: '1.9.0',
      Created: '2026-07-10T12:00:00Z',
      Path: '',
    }),
  )
}

// --- seeds -------------------------------------------------------------------

/** The seeded stacks the paths start from. */
type Shape = 'history' | 'locked' | 'expired' | 'pruned' | 'terraform' | 'terraform-locked' | 'sealed-old'

/** What a seed knows about its stack: its revs in order with their bytes, and the id of a held lock. */
interface Facts {
  readonly revs: readonly string[]
  readonly bodies: ReadonlyMap<string, Buffer>
  readonly lockId?: string
}

/** One request, relative to the stack's base path; `writes` is the snapshot body it stores. */
interface Call {
  readonly method: string
  readonly path: string
  readonly headers?: Record<string, string>
  readonly payload?: Buffer | Record<string, unknown>
  readonly writes?: Buffer
}

/** The answer of a seeding request, which must succeed. */
async function ok(
  res: LightMyRequestResponse | Promise<LightMyRequestResponse>,
  what: string,
): Promise<LightMyRequestResponse> {
  const r = await res
  if (r.statusCode >= 300) throw new Error(`seeding: ${what} answered ${r.statusCode}: ${r.body}`)
  return r
}

/**
 * Builds stack `stack` in shape `shape` through the app (fault off), advancing
 * the clock a second per write so revs carry distinct instants.
 */
async function seed(ctx: Ctx, shape: Shape, stack: string): Promise<Facts> {
  const { app, clock } = ctx
  const base = stackUrl(FACTORY, stack)
  const revs: string[] = []
  const bodies = new Map<string, Buffer>()
  const write = async (body: Buffer, current: boolean) => {
    clock.advanceMs(1000)
    const res = await ok(
      app.inject({
        method: 'POST',
        url: `${base}/snapshots${current ? '?current=true' : ''}`,
        headers: JSON_TYPE,
        payload: body,
      }),
      'a seed write',
    )
    const rev = res.json<{ rev: string }>().rev
    revs.push(rev)
    bodies.set(rev, body)
  }
  const tfWrite = async (serial: number) => {
    clock.advanceMs(1000)
    const body = stateFile(serial, LINEAGE)
    const res = await ok(
      app.inject({ method: 'POST', url: `${base}/terraform`, headers: JSON_TYPE, payload: body }),
      'a seed Terraform write',
    )
    const rev = res.json<{ rev: string }>().rev
    revs.push(rev)
    bodies.set(rev, body)
  }
  const lock = async (body: Record<string, unknown>) =>
    (await ok(app.inject({ method: 'POST', url: `${base}/lock`, payload: body }), 'a seed lock')).json<{ id: string }>()
      .id
  switch (shape) {
    case 'history':
    case 'locked':
    case 'expired': {
      for (let i = 0; i < 3; i++) await write(sampleSnapshot(`${stack}-${i}`), true)
      if (shape === 'locked')
        return { revs, bodies, lockId: await lock({ who: 'holder', operation: 'apply', info: 'seeded' }) }
      // The lease runs out when the clock jumps after seeding (at the end of this file).
      if (shape === 'expired') return { revs, bodies, lockId: await lock({ who: 'gone', operation: 'apply', ttl: 1 }) }
      return { revs, bodies }
    }
    case 'pruned': {
      // Four revs, the two oldest pruned to the trash: they are past the trash window once the clock jumps.
      for (let i = 0; i < 4; i++) await write(sampleSnapshot(`${stack}-${i}`), true)
      await ok(app.inject({ method: 'POST', url: `${base}/snapshots:prune`, payload: { keep: 2 } }), 'a seed prune')
      return { revs, bodies }
    }
    case 'terraform':
    case 'terraform-locked': {
      await tfWrite(1)
      await tfWrite(2)
      if (shape === 'terraform') return { revs, bodies }
      await ok(
        app.inject({ method: 'LOCK', url: `${base}/terraform`, headers: JSON_TYPE, payload: lockInfo() }),
        'a seed Terraform LOCK',
      )
      return { revs, bodies, lockId: TF_LOCK_ID }
    }
    case 'sealed-old': {
      // Revs sealed with the old key by a root that knows only it: the re-seal path's input.
      const old = makeRoot(ctx.dir, { encrypter: new Keyring(OLD), clock })
      for (let i = 0; i < 3; i++) {
        clock.advanceMs(1000)
        const body = sampleSnapshot(`${stack}-${i}`)
        const rev = (await old.stack(FACTORY, stack).write(body, { payloadType: 'state', makeCurrent: true })).rev
        revs.push(rev)
        bodies.set(rev, body)
      }
      old.close()
      return { revs, bodies }
    }
  }
}

// --- the mutation paths ------------------------------------------------------

/** A mutation route: the stack it starts from, the request, and the status it answers without faults. */
interface MutationPath {
  readonly name: string
  readonly shape: Shape
  readonly request: (facts: Facts) => Call
  readonly success: number
}

const lockIdOf = (f: Facts): string => {
  if (f.lockId === undefined) throw new Error('this path needs a seeded lock')
  return f.lockId
}
const rev = (f: Facts, i: number): string => f.revs.at(i)!
const snapshotWrite = (path: string, body: Buffer, headers: Record<string, string> = {}): Call => ({
  method: 'POST',
  path,
  headers: { ...JSON_TYPE, ...headers },
  payload: body,
  writes: body,
})
const tfWrite = (path: string, serial: number): Call => {
  const body = stateFile(serial, LINEAGE)
  return { method: 'POST', path, headers: JSON_TYPE, payload: body, writes: body }
}

const PATHS: readonly MutationPath[] = [
  // Writes: a new rev (leaving current), a new current, and the holder's fenced write.
  {
    name: 'POST snapshots',
    shape: 'history',
    success: 201,
    request: () => snapshotWrite('/snapshots', sampleSnapshot('sweep')),
  },
  {
    name: 'POST snapshots?current=true',
    shape: 'history',
    success: 201,
    request: () => snapshotWrite('/snapshots?current=true', sampleSnapshot('sweep')),
  },
  {
    name: 'POST snapshots?current=true fenced by Lock-Id',
    shape: 'locked',
    success: 201,
    request: (f) => snapshotWrite('/snapshots?current=true', sampleSnapshot('sweep'), { 'lock-id': lockIdOf(f) }),
  },
  // The current pointer: rollback, and a CAS rollback by the holder.
  {
    name: 'PUT current (rollback)',
    shape: 'history',
    success: 200,
    request: (f) => ({ method: 'PUT', path: '/current', payload: { rev: rev(f, 0) } }),
  },
  {
    name: 'PUT current (If-Match, fenced by Lock-Id)',
    shape: 'locked',
    success: 200,
    request: (f) => ({
      method: 'PUT',
      path: '/current',
      headers: { 'if-match': `"${rev(f, -1)}"`, 'lock-id': lockIdOf(f) },
      payload: { rev: rev(f, 1) },
    }),
  },
  // History: delete an old rev, force-delete the current one, gc, prune (with a purge), restore.
  {
    name: 'DELETE snapshots/{rev}',
    shape: 'history',
    success: 200,
    request: (f) => ({ method: 'DELETE', path: `/snapshots/${rev(f, 0)}` }),
  },
  {
    name: 'DELETE snapshots/{rev} fenced by Lock-Id',
    shape: 'locked',
    success: 200,
    request: (f) => ({ method: 'DELETE', path: `/snapshots/${rev(f, 1)}`, headers: { 'lock-id': lockIdOf(f) } }),
  },
  {
    name: 'DELETE snapshots/{current}?force=true',
    shape: 'history',
    success: 200,
    request: (f) => ({ method: 'DELETE', path: `/snapshots/${rev(f, -1)}?force=true` }),
  },
  {
    name: 'POST snapshots:gc',
    shape: 'history',
    success: 200,
    request: () => ({ method: 'POST', path: '/snapshots:gc', payload: { keep: 1 } }),
  },
  {
    name: 'POST snapshots:gc fenced by Lock-Id',
    shape: 'locked',
    success: 200,
    request: (f) => ({
      method: 'POST',
      path: '/snapshots:gc',
      headers: { 'lock-id': lockIdOf(f) },
      payload: { keep: 1 },
    }),
  },
  {
    name: 'POST snapshots:prune (and purge)',
    shape: 'pruned',
    success: 200,
    request: () => ({ method: 'POST', path: '/snapshots:prune', payload: { keep: 1 } }),
  },
  {
    name: 'POST snapshots:restore',
    shape: 'pruned',
    success: 200,
    request: (f) => ({ method: 'POST', path: '/snapshots:restore', payload: { rev: rev(f, 1) } }),
  },
  // The lock: take (free, and over an expired lease), renew, unlock, force-unlock.
  {
    name: 'POST lock',
    shape: 'history',
    success: 201,
    request: () => ({ method: 'POST', path: '/lock', payload: { who: 'sweep', operation: 'apply' } }),
  },
  {
    name: 'POST lock over an expired lease',
    shape: 'expired',
    success: 201,
    request: () => ({ method: 'POST', path: '/lock', payload: { who: 'sweep', operation: 'apply' } }),
  },
  {
    name: 'PUT lock (renew)',
    shape: 'locked',
    success: 200,
    request: (f) => ({ method: 'PUT', path: '/lock', payload: { id: lockIdOf(f), ttl: 600 } }),
  },
  {
    name: 'DELETE lock?id=',
    shape: 'locked',
    success: 200,
    request: (f) => ({ method: 'DELETE', path: `/lock?id=${lockIdOf(f)}` }),
  },
  {
    name: 'DELETE lock?force=true',
    shape: 'locked',
    success: 200,
    request: () => ({ method: 'DELETE', path: '/lock?force=true&reason=sweep' }),
  },
  // Terraform: writes (free and fenced by ?ID=), LOCK/UNLOCK on both addresses, force-unlock, DELETE.
  { name: 'Terraform POST state', shape: 'terraform', success: 200, request: () => tfWrite('/terraform', 3) },
  {
    name: 'Terraform POST state?ID=',
    shape: 'terraform-locked',
    success: 200,
    request: (f) => tfWrite(`/terraform?ID=${lockIdOf(f)}`, 3),
  },
  {
    name: 'Terraform LOCK',
    shape: 'terraform',
    success: 200,
    request: () => ({ method: 'LOCK', path: '/terraform', headers: JSON_TYPE, payload: lockInfo() }),
  },
  {
    name: 'Terraform POST terraform/lock',
    shape: 'terraform',
    success: 200,
    request: () => ({ method: 'POST', path: '/terraform/lock', headers: JSON_TYPE, payload: lockInfo() }),
  },
  {
    name: 'Terraform UNLOCK',
    shape: 'terraform-locked',
    success: 200,
    request: () => ({ method: 'UNLOCK', path: '/terraform', headers: JSON_TYPE, payload: lockInfo() }),
  },
  {
    name: 'Terraform DELETE terraform/lock',
    shape: 'terraform-locked',
    success: 200,
    request: () => ({ method: 'DELETE', path: '/terraform/lock', headers: JSON_TYPE, payload: lockInfo() }),
  },
  {
    name: 'Terraform force-unlock (UNLOCK, empty body)',
    shape: 'terraform-locked',
    success: 200,
    request: () => ({ method: 'UNLOCK', path: '/terraform' }),
  },
  {
    name: 'Terraform DELETE state',
    shape: 'terraform',
    success: 200,
    request: () => ({ method: 'DELETE', path: '/terraform' }),
  },
  // Key rotation: re-seal every rev (no client sees a change; the envelopes on disk name the new key).
  {
    name: 'POST snapshots:reseal',
    shape: 'sealed-old',
    success: 200,
    request: () => ({ method: 'POST', path: '/snapshots:reseal' }),
  },
]

// --- observing a stack -------------------------------------------------------

/** What a client can observe of a stack, independent of rev names the sweep cannot predict. */
interface Observed {
  /** Digests of the listed revs' bodies, oldest first. */
  readonly history: string[]
  /** `none`, or the position of current in the history and its digest. */
  readonly current: string
  /** `free`, or who holds the lock (ids the seed knows by name, others as `new`). */
  readonly lock: string
  /** Trash entries as rev@deletedAt (they are seeded revs: names are fixed). */
  readonly trash: string[]
}

const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 8)

function send(app: App, base: string, call: Call): Promise<LightMyRequestResponse> {
  return app.inject({
    method: call.method as 'GET',
    url: `${base}${call.path}`,
    ...(call.headers === undefined ? {} : { headers: call.headers }),
    ...(call.payload === undefined ? {} : { payload: call.payload }),
  })
}

/** Names of the stack layout (see src/store/stack/layout.ts); `.tmp-` names are leftovers, never read as data. */
const STACK_FILES = new Set([
  'current',
  'lock',
  '.lock-released',
  '.lock-lost',
  'snapshots',
  '.trash',
  '.mutex',
  '.lock-ids',
  '.meta',
])

/** Files on disk that are not part of the layout, and how many temp leftovers there are. */
function diskDefects(stackDir: string): { defects: string[]; temps: number } {
  const defects: string[] = []
  let temps = 0
  const scan = (dir: string, allowed: (name: string) => boolean) => {
    if (!existsSync(dir)) return
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.tmp-')) temps++
      else if (!allowed(name)) defects.push(`unexpected file ${join(dir, name).slice(stackDir.length + 1)}`)
    }
  }
  scan(stackDir, (name) => STACK_FILES.has(name))
  scan(
    join(stackDir, 'snapshots'),
    (name) => name.endsWith('.json.enc') && parseRev(name.slice(0, -'.json.enc'.length)) !== undefined,
  )
  scan(join(stackDir, '.trash'), (name) => /^[^@]+@[^@]+\.(json\.enc|meta\.json)$/.test(name))
  scan(
    join(stackDir, '.meta'),
    (name) => name.endsWith('.json') && parseRev(name.slice(0, -'.json'.length)) !== undefined,
  )
  return { defects, temps }
}

/**
 * The key each stored envelope (history and trash) names, by file name: not
 * something a client sees, but what a re-seal changes. Re-sealing goes rev by
 * rev and resumes on a rerun, so only a finished run (fault-free, tolerated,
 * or retried) is compared.
 */
function sealedWith(stackDir: string): string {
  const keys: string[] = []
  for (const sub of ['snapshots', '.trash']) {
    const at = join(stackDir, sub)
    if (!existsSync(at)) continue
    for (const name of readdirSync(at).sort()) {
      if (!name.endsWith('.json.enc')) continue
      let key = 'unreadable'
      try {
        const envelope = JSON.parse(readFileSync(join(at, name), 'utf8')) as {
          encrypter?: { body?: Record<string, unknown> }
        }
        key = String(envelope.encrypter?.body?.['env-var'] ?? 'none')
      } catch {
        // an envelope that does not parse is reported by the reads as torn
      }
      keys.push(`${sub}/${name.replace(/\d{4}-\d\d-\d\dT[0-9:.]+Z(_\d+)?/g, '<rev>')}: ${key}`)
    }
  }
  return keys.join(', ')
}

/**
 * Reads the whole stack back (fault off) and lists every defect: a listed
 * name that is not a rev, a rev that does not read back byte-equal to what
 * was written to it (seeded revs keep their names in a copy; any new rev must
 * hold `written`), a current that does not read or is not listed, a lock
 * that reads as a torn marker, files outside the layout. Reads run in
 * parallel: nothing changes the stack meanwhile.
 */
async function observe(
  app: App,
  base: string,
  stackDir: string,
  facts: Facts,
  written: Buffer | undefined,
  knownIds: ReadonlySet<string>,
): Promise<{ state: Observed; defects: string[]; temps: number; sealed: string }> {
  const defects: string[] = []
  const get = (path: string) => app.inject({ method: 'GET', url: `${base}${path}` })
  const [list, cur, held, trashRes] = await Promise.all([
    get('/snapshots'),
    get('/current'),
    get('/lock'),
    get('/trash'),
  ])
  let revs: string[] = []
  if (list.statusCode === 200) revs = list.json<{ revs: string[] }>().revs
  else defects.push(`list answered ${list.statusCode} ${list.body}`)
  const reads = await Promise.all(revs.map((name) => get(`/snapshots/${name}`)))
  const history = revs.map((name, i) => {
    const got = reads[i]!
    if (parseRev(name) === undefined) defects.push(`listed name ${name} is not a rev`)
    if (got.statusCode !== 200) {
      defects.push(`listed rev ${name} answered ${got.statusCode} ${got.body}`)
      return `unreadable ${got.statusCode}`
    }
    const expected = facts.bodies.get(name) ?? written
    if (expected === undefined || !got.rawPayload.equals(expected))
      defects.push(`rev ${name} does not read back what was written to it`)
    const meta = join(stackDir, '.meta', `${name}.json`)
    if (existsSync(meta)) {
      // A rev's metadata may be missing after a fault, but never describe another document.
      const recorded = (JSON.parse(readFileSync(meta, 'utf8')) as { sha256?: string }).sha256
      if (recorded !== createHash('sha256').update(got.rawPayload).digest('hex'))
        defects.push(`rev ${name} has metadata of another document`)
    }
    return digest(got.rawPayload)
  })
  let current = 'none'
  if (cur.statusCode === 200) {
    const name = String(cur.headers.etag ?? '').replace(/^"(.*)"$/, '$1')
    const at = revs.indexOf(name)
    if (at < 0) defects.push(`current names ${name}, which is not listed`)
    current = `#${at} ${digest(cur.rawPayload)}`
  } else if (!(cur.statusCode === 404 && cur.json<{ code: string }>().code === 'no-current')) {
    defects.push(`current answered ${cur.statusCode} ${cur.body}`)
    current = `broken ${cur.statusCode}`
  }
  let lock = 'free'
  if (held.statusCode === 200) {
    const h = held.json<{
      id: string
      generation: number
      who: string
      operation: string
      expires: string | null
      legacy: boolean
    }>()
    if (h.legacy) defects.push(`the lock reads as a torn or foreign marker (${h.id})`)
    lock = `${knownIds.has(h.id) ? h.id.slice(0, 8) : 'new'} gen ${h.generation} who ${h.who} op ${h.operation} expires ${h.expires}`
  } else if (!(held.statusCode === 404 && held.json<{ code: string }>().code === 'not-locked')) {
    defects.push(`lock answered ${held.statusCode} ${held.body}`)
    lock = `broken ${held.statusCode}`
  }
  let trash: string[] = []
  if (trashRes.statusCode === 200)
    trash = trashRes
      .json<{ revs: Array<{ rev: string; deletedAt: string }> }>()
      .revs.map((e) => `${e.rev}@${e.deletedAt}`)
  else defects.push(`trash answered ${trashRes.statusCode} ${trashRes.body}`)
  const disk = diskDefects(stackDir)
  defects.push(...disk.defects)
  return { state: { history, current, lock, trash }, defects, temps: disk.temps, sealed: sealedWith(stackDir) }
}

/** A state on one line, for messages. */
function render(s: Observed): string {
  return `history [${s.history.join(' ')}] current ${s.current} lock ${s.lock} trash [${s.trash.join(' ')}]`
}

/** A success body with ids the sweep cannot predict (a fresh lock's) replaced, for comparing answers. */
function normalized(res: LightMyRequestResponse, knownIds: ReadonlySet<string>): string {
  if (res.body === '') return ''
  return JSON.stringify(res.json(), (key, value: unknown) =>
    key === 'id' && typeof value === 'string' && !knownIds.has(value) ? '<new>' : value,
  )
}

// --- the sweep -----------------------------------------------------------------

interface Ctx {
  readonly app: App
  readonly fs: FaultyFs
  readonly clock: ManualClock
  readonly dir: string
}

/** Figures of the whole sweep. */
const figures = { paths: 0, faultsInjected: 0, answered5xx: 0, toleratedAsSuccess: 0, retriesSucceeded: 0 }
/** Which calls were tolerated (method and file name pattern), with counts, for the report. */
const tolerated = new Map<string, number>()
let leftoverTemps = 0

/** A call as `method name`, the name relative to the stack with uuids and revs generalised, to tell kinds of calls apart. */
function describeCall(call: FsCall, dir: string): string {
  const parts = call.path.startsWith(`${dir}/`) ? call.path.slice(dir.length + 1).split('/') : []
  const name =
    call.path === dir
      ? '<data dir>'
      : parts.length === 1
        ? '<factory dir>'
        : parts.length === 2
          ? '<stack dir>'
          : parts.length === 0
            ? call.path
            : parts.slice(2).join('/')
  return `${call.method} ${name.replace(/\.tmp-[0-9a-z-]+/, '.tmp-*').replace(/\d{4}-\d\d-\d\dT[0-9:.]+Z(_\d+)?/g, '<rev>')}`
}

/**
 * Copies a seeded stack by hard links: cheaper than copying, and as good,
 * because the store never writes a file in place (it writes a temp file and
 * renames or links it), so no case can change the seed's files.
 */
function cloneTree(from: string, to: string): void {
  mkdirSync(to)
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.isDirectory()) cloneTree(join(from, entry.name), join(to, entry.name))
    else linkSync(join(from, entry.name), join(to, entry.name))
  }
}

/** File names a server reads (never directories: opening one is the first half of a directory fsync). */
const isDataFile = (name: string): boolean =>
  name === 'current' ||
  name === 'lock' ||
  name === '.lock-released' ||
  name === '.lock-lost' ||
  name.endsWith('.json.enc')

/**
 * The calls a server may survive failing and still answer success: removing
 * its own temp files (best-effort cleanup), and reads it can do without.
 * Never a write, an fsync, a rename, a link, a mkdir, the removal of data,
 * or a directory open (the first half of a directory fsync): swallowing one
 * of those would lose durability without changing anything a read can see.
 */
function mayTolerate(call: FsCall): boolean {
  const name = basename(call.path)
  switch (call.method) {
    // Its own temp files, and the release of the internal mutex (retried once; the change it guarded is done).
    case 'unlink':
      return name.startsWith('.tmp-') || name === '.mutex'
    case 'readFile':
    case 'lstat':
    case 'readdir':
      return true
    case 'open':
      return isDataFile(name)
    default:
      return false
  }
}

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
