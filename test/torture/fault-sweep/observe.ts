/** What the fault sweep can observe of a stack: its revs, current, lock and trash as a client reads them, and the disk's defects. */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import type { App } from '../../../src/http/app-type.js'
import { parseRev } from '../../../src/store/rev.js'
import type { Call, Facts } from './seeds.js'

// --- observing a stack -------------------------------------------------------

/** What a client can observe of a stack, independent of rev names the sweep cannot predict. */
export interface Observed {
  /** Digests of the listed revs' bodies, oldest first. */
  readonly history: string[]
  /** `none`, or the position of current in the history and its digest. */
  readonly current: string
  /** `free`, or who holds the lock (ids the seed knows by name, others as `new`). */
  readonly lock: string
  /** Trash entries as rev@deletedAt (they are seeded revs: names are fixed). */
  readonly trash: string[]
}

export const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 8)

export function send(app: App, base: string, call: Call): Promise<LightMyRequestResponse> {
  return app.inject({
    method: call.method as 'GET',
    url: `${base}${call.path}`,
    ...(call.headers === undefined ? {} : { headers: call.headers }),
    ...(call.payload === undefined ? {} : { payload: call.payload }),
  })
}

/** Names of the stack layout (see src/store/stack/layout.ts); `.tmp-` names are leftovers, never read as data. */
export const STACK_FILES = new Set([
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
export function diskDefects(stackDir: string): { defects: string[]; temps: number } {
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
export function sealedWith(stackDir: string): string {
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
export async function observe(
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
export function render(s: Observed): string {
  return `history [${s.history.join(' ')}] current ${s.current} lock ${s.lock} trash [${s.trash.join(' ')}]`
}

/** A success body with ids the sweep cannot predict (a fresh lock's) replaced, for comparing answers. */
export function normalized(res: LightMyRequestResponse, knownIds: ReadonlySet<string>): string {
  if (res.body === '') return ''
  return JSON.stringify(res.json(), (key, value: unknown) =>
    key === 'id' && typeof value === 'string' && !knownIds.has(value) ? '<new>' : value,
  )
}
