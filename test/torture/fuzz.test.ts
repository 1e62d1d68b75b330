/**
 * Torture: property-based fuzzing with fast-check (issue 7, item 2, last
 * bullet): route parameters, headers and bodies. Three properties, each on
 * its own in-process app over its own data root, seeded with stacks that give
 * the routes something to hit (two revs with a current and a held lock; an
 * unlocked stack with a rev in its trash; a Terraform stack locked through
 * LOCK; a lock marker left by the Go tool):
 *
 * 1. route parameters: arbitrary factory/stack names and revs (unicode,
 *    percent-encodings incl. double encoding and overlong UTF-8, `..`, `/`,
 *    `\`, NUL, overlong names, look-alike letters, valid names too) on every
 *    route the app registers and every method (its own, LOCK/UNLOCK, and
 *    methods no route has). A model of the router (URL normalisation as the
 *    client does it, then find-my-way's matching, decoding and 256-character
 *    parameter limit) says what each request must get: 400 `invalid-name` /
 *    `invalid-rev` for the first invalid parameter, 404 `route-not-found`,
 *    414 `uri-too-long`, 400 `invalid-request` for a path that does not
 *    decode; all of them before any filesystem call (SPEC §5). Valid names
 *    and revs get anything but those codes and never a 5xx.
 * 2. headers, on an app with a tokens file (static tokens and an OIDC
 *    issuer served from 127.0.0.1): arbitrary Lock-Id, If-Match,
 *    If-None-Match, Content-Type, Content-MD5, Authorization (Bearer/Basic
 *    garbage, near-miss tokens, bad JWTs, and valid credentials in every
 *    spelling the contract allows), Content-Encoding and Accept. Never a
 *    5xx; credentials that are not valid always get 401 `unauthenticated`
 *    with a challenge, valid ones never do.
 * 3. bodies: arbitrary JSON texts (huge and odd numbers, `__proto__` /
 *    `constructor` keys, wrong types), raw bytes, truncated JSON, deep
 *    nesting, oversize bodies, almost-valid unobin snapshots, Terraform
 *    states with odd lineage/serial and LockInfos, on every route that takes
 *    a body, mostly presenting the holder's lock id so the body is what is
 *    judged. Never a 5xx.
 *
 * Every case of every property also checks:
 *
 * * no 5xx, and every 4xx is a problem body with a known `code` whose
 *   `status` is the answer's (Terraform's 423 answers carry a LockInfo);
 * * every path the store handed to its filesystem (the FsOps wrapper
 *   FaultyFs records every call, no fault armed) resolves inside the data
 *   root of that app and holds no NUL;
 * * a 4xx changes nothing: a digest of the data tree (every relative path
 *   with its kind, and for files the size and a SHA-1 of the bytes) taken
 *   after the answer equals the digest before it. A digest rather than "no
 *   mutating call happened": a refused request may legitimately take and
 *   release the stack's internal mutex or write a temp file it removes,
 *   which leave nothing behind; what must not happen is a trace in the
 *   tree. 2xx answers may change the tree (the digest moves on with them).
 *
 * At the end the sentinel directory next to the data roots (same parent)
 * holds the same bytes and the parent lists the same names as at the start.
 *
 * The worlds move on as 2xx answers change them (locks taken, revs written
 * and deleted); a world is rebuilt from its seed (new app, wiped root) when
 * its tree grows large or after many changes, so the fuzz keeps hitting
 * seeded, locked and unlocked stacks. Runs replay from the printed seed
 * (UNOBIN_TORTURE_SEED); fast-check prints the seed, the path and the shrunk
 * counterexample of a failure. Short mode runs a few hundred cases per
 * property; long mode (UNOBIN_TORTURE_MODE=long) twenty times as many.
 */
import { createHash } from 'node:crypto'
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { ERROR_CODES } from '../../src/errors.js'
import type { App } from '../../src/http/app-type.js'
import type { AuthOptions, RouteEntry } from '../../src/http/auth.js'
import { formatRev, isRev } from '../../src/store/rev.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import {
  authFromText,
  lockInfo,
  newSigningKey,
  newToken,
  signIdToken,
  startJwks,
  terraformState,
  tokensFileText,
} from '../helpers/auth.js'
import { type FsCall, FaultyFs } from '../helpers/faulty-fs.js'
import { sampleSnapshot } from '../helpers/store.js'
import { MODE, SEED, reportFigures, sized } from '../helpers/torture.js'

t.setTimeout(sized(120_000, 3_600_000))

const RUNS = { routes: sized(400, 8000), headers: sized(300, 6000), bodies: sized(500, 10_000) }
/** Longest lock wait a request may ask for (seconds): a wait on a held lock costs this much. */
const MAX_WAIT_SECONDS = 0.05
/** Body limit of the body world (413 above); deep and oversize bodies cross it. */
const BODY_LIMIT = 256 * 1024
/** A world is rebuilt from its seed when its tree holds more entries than this... */
const MAX_TREE_ENTRIES = 300
/** ...or after this many answers that changed it. */
const MAX_CHANGES = 120
/** find-my-way's parameter limit as src/app.ts configures it (routerOptions.maxParamLength). */
const MAX_PARAM_LENGTH = 256
/** The contract's name pattern (README, SPEC §5). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
const JSON_TYPE = 'application/json'
const LINEAGE = '7b0c1e2a-0000-4000-8000-00000000f022'
const TF_LOCK_ID = 'c0ffee00-0000-4000-8000-00000000f022'
const GITHUB = 'https://token.actions.githubusercontent.com'
const AUDIENCE = 'https://state.example.test'

/** Placeholders in generated bodies, headers and queries, filled from the world at run time (so counterexamples stay readable and replayable). */
const HOLDER = '@HOLDER@'
const REV0 = '@REV0@'
const REV1 = '@REV1@'
const TRASHED = '@TRASHED@'

// --- figures -----------------------------------------------------------------

const figures = { casesFuzzed: 0, answered4xx: 0, answered2xx: 0, fsCallsChecked: 0 }
/** Answers by status and code, per property (printed as a comment, to see what the fuzz reached). */
const answers = new Map<string, number>()
/** The properties (and end checks) that failed. */
const failed: string[] = []

// --- the data tree -------------------------------------------------------------

interface Digest {
  readonly text: string
  readonly entries: ReadonlyMap<string, string>
}

/** Every entry under `root`: relative path → kind (dir, link target, or file size and SHA-1). */
function digestTree(root: string): Digest {
  const entries = new Map<string, string>()
  const walk = (rel: string): void => {
    for (const name of readdirSync(rel === '' ? root : join(root, rel)).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`
      const abs = join(root, path)
      const st = lstatSync(abs)
      if (st.isSymbolicLink()) entries.set(path, `link:${readlinkSync(abs)}`)
      else if (st.isDirectory()) {
        entries.set(path, 'dir')
        walk(path)
      } else entries.set(path, `file:${st.size}:${createHash('sha1').update(readFileSync(abs)).digest('hex')}`)
    }
  }
  walk('')
  return { text: [...entries].map(([k, v]) => `${k}=${v}`).join('\n'), entries }
}

/** What differs between two digests, for a failure message. */
function describeChange(before: Digest, after: Digest): string {
  const keys = new Set([...before.entries.keys(), ...after.entries.keys()])
  const out: string[] = []
  for (const k of [...keys].sort()) {
    const a = before.entries.get(k)
    const b = after.entries.get(k)
    if (a !== b) out.push(`${k}: ${a ?? 'absent'} -> ${b ?? 'absent'}`)
  }
  return out.slice(0, 12).join('; ')
}

/** True when `url` has an `after` query parameter that is not a canonical rev. */
function badAfter(url: string): boolean {
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : ''
  let after: string | null
  try {
    after = new URLSearchParams(query).get('after')
  } catch {
    return false
  }
  return after !== null && !isRev(after)
}

/** True when `path` is `root` or below it (lexically, after resolving `..`). */
function inside(root: string, path: string): boolean {
  const rel = relative(root, resolve(path))
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))
}

// --- worlds --------------------------------------------------------------------

/** What a seeded world knows: its revs (f1/s1's two, f1/s2's two, f2/tf's one), the rev in f1/s2's trash, f1/s1's lock id. */
interface Known {
  readonly revs: string[]
  readonly trashed: string
  readonly holder: string
}

interface WorldOptions {
  readonly auth?: AuthOptions
  /** Headers the seeding requests send (credentials on the auth world). */
  readonly seedHeaders?: Record<string, string>
  readonly bodyLimitBytes?: number
}

/** One app over one data root, seeded; rebuilt from the seed when it has drifted far. */
class World {
  app!: App
  fs!: FaultyFs
  routes!: readonly RouteEntry[]
  known!: Known
  digest!: Digest
  changes = 0
  rebuilds = 0
  #close: (() => Promise<void>) | undefined

  constructor(
    readonly t: Test,
    readonly dir: string,
    readonly options: WorldOptions,
  ) {}

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true })
    this.fs = new FaultyFs()
    const built = await buildTestApp(this.t, {
      dir: this.dir,
      fs: this.fs,
      auth: this.options.auth,
      maxWaitSeconds: MAX_WAIT_SECONDS,
      bodyLimitBytes: this.options.bodyLimitBytes ?? 1024 * 1024,
    })
    this.app = built.app
    this.routes = built.routes
    this.#close = async () => {
      await built.app.close()
      built.root.close()
    }
    this.known = await seed(this.app, this.dir, this.options.seedHeaders ?? {})
    this.drain('seeding')
    this.digest = digestTree(this.dir)
    this.changes = 0
  }

  /** Rebuilds the world when it drifted far from its seed. */
  async refresh(): Promise<void> {
    if (this.digest.entries.size <= MAX_TREE_ENTRIES && this.changes < MAX_CHANGES) return
    this.drain('before a rebuild')
    await this.#close?.()
    rmSync(this.dir, { recursive: true, force: true })
    this.rebuilds++
    await this.start()
  }

  /** Checks and forgets the filesystem calls recorded since the last drain; returns them. */
  drain(label: string): FsCall[] {
    const calls = this.fs.calls.splice(0)
    figures.fsCallsChecked += calls.length
    for (const call of calls) {
      if (call.path.includes('\u0000') || !inside(this.dir, call.path)) {
        throw new Error(
          `${label}: the store called ${call.method} on ${JSON.stringify(call.path)}, outside its data root ${this.dir}`,
        )
      }
    }
    return calls
  }

  /** Fills the placeholders of a generated text. */
  fill(text: string): string {
    return text
      .replaceAll(HOLDER, this.known.holder)
      .replaceAll(REV0, this.known.revs[0]!)
      .replaceAll(REV1, this.known.revs[1]!)
      .replaceAll(TRASHED, this.known.trashed)
  }
}

/**
 * Seeds a world over HTTP: f1/s1 with two revs, the second current, locked
 * (no lease); f1/s2 with a current rev and an older one pruned into its
 * trash; f2/tf with Terraform state, locked by Terraform's LOCK; f2/legacy
 * with the lock marker the Go tool writes ("<pid>\n").
 */
async function seed(app: App, dir: string, auth: Record<string, string>): Promise<Known> {
  const send = async (method: string, url: string, payload?: string | Buffer): Promise<LightMyRequestResponse> => {
    const headers = payload === undefined ? auth : { ...auth, 'content-type': JSON_TYPE }
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload === undefined ? {} : { payload }),
    })
    if (res.statusCode >= 300) throw new Error(`seeding: ${method} ${url} answered ${res.statusCode} ${res.body}`)
    return res
  }
  const s1 = stackUrl('f1', 's1')
  const s2 = stackUrl('f1', 's2')
  const tf = stackUrl('f2', 'tf')
  const r0 = (await send('POST', `${s1}/snapshots`, sampleSnapshot('s1-a', 's1'))).json<{ rev: string }>().rev
  const r1 = (await send('POST', `${s1}/snapshots?current=true`, sampleSnapshot('s1-b', 's1'))).json<{ rev: string }>()
    .rev
  const holder = (await send('POST', `${s1}/lock`, JSON.stringify({ who: 'seed', operation: 'apply' }))).json<{
    id: string
  }>().id
  const r2 = (await send('POST', `${s2}/snapshots`, sampleSnapshot('s2-a', 's2'))).json<{ rev: string }>().rev
  const r3 = (await send('POST', `${s2}/snapshots?current=true`, sampleSnapshot('s2-b', 's2'))).json<{ rev: string }>()
    .rev
  const pruned = (await send('POST', `${s2}/snapshots:prune`, JSON.stringify({ keep: 1 }))).json<{
    trashed: string[]
  }>().trashed
  if (pruned.length !== 1 || pruned[0] !== r2)
    throw new Error(`seeding: the prune trashed ${JSON.stringify(pruned)}, not ${r2}`)
  const r4 = (await send('POST', `${tf}/terraform`, terraformState(3, LINEAGE))).json<{ rev: string }>().rev
  await send('LOCK', `${tf}/terraform`, lockInfo(TF_LOCK_ID, 'seed@terraform'))
  mkdirSync(join(dir, 'f2', 'legacy', 'snapshots'), { recursive: true })
  writeFileSync(join(dir, 'f2', 'legacy', 'lock'), '4242\n')
  return { revs: [r0, r1, r2, r3, r4], trashed: r2, holder }
}

// --- one exchange ----------------------------------------------------------------

interface Request {
  readonly method: string
  readonly url: string
  readonly headers?: Record<string, string>
  readonly payload?: string | Buffer
}

interface Exchange {
  readonly res: LightMyRequestResponse
  readonly calls: FsCall[]
  readonly code: string | undefined
  readonly label: string
}

const TERRAFORM_LOCKINFO_ROUTE = /\/terraform(\/lock)?$/

/** The path the server sees for `url` once the client normalised it (light-my-request, like a browser, reads a leading "//" as a path). */
function pathOf(url: string): string {
  return new URL(url.startsWith('//') ? `http://localhost${url}` : url, 'http://localhost').pathname
}

/** That path percent-decoded as the router matches it (as sent when it does not decode). */
function decodedPathOf(url: string): string {
  try {
    return decodeURI(pathOf(url))
  } catch {
    return pathOf(url)
  }
}

/** The `code` of a problem answer, if the body is one. */
function codeOf(res: LightMyRequestResponse): string | undefined {
  try {
    const body = JSON.parse(res.body) as { code?: unknown }
    return typeof body.code === 'string' ? body.code : undefined
  } catch {
    return undefined
  }
}

/**
 * Sends one request and applies the checks every case shares: the store
 * stayed inside its root, no 5xx, a 4xx is a problem body and left the tree
 * as it was. Returns the answer for the property's own checks.
 */
async function exchange(world: World, req: Request): Promise<Exchange> {
  const label = `${req.method} ${req.url.length > 300 ? `${req.url.slice(0, 300)}…` : req.url}`
  world.drain('between requests')
  const res = await world.app.inject({
    method: req.method as 'GET',
    url: req.url,
    headers: req.headers ?? {},
    ...(req.payload === undefined ? {} : { payload: req.payload }),
  })
  const calls = world.drain(label)
  const code = codeOf(res)
  figures.casesFuzzed++
  const answer = `${res.statusCode}${code === undefined ? '' : ` ${code}`}`
  answers.set(answer, (answers.get(answer) ?? 0) + 1)
  const before = world.digest
  const after = digestTree(world.dir)
  world.digest = after // also on failure: shrinking replays compare against the tree as it now is
  if (res.statusCode >= 500) throw new Error(`${label}: answered ${res.statusCode} ${res.body.slice(0, 400)}`)
  if (res.statusCode >= 400) {
    figures.answered4xx++
    if (after.text !== before.text)
      throw new Error(
        `${label}: answered ${res.statusCode} ${code ?? ''} but changed the data tree: ${describeChange(before, after)}`,
      )
    if (req.method !== 'HEAD') {
      const type = String(res.headers['content-type'] ?? '')
      if (
        res.statusCode === 423 &&
        TERRAFORM_LOCKINFO_ROUTE.test(decodedPathOf(req.url)) &&
        type.startsWith(JSON_TYPE)
      ) {
        const id = (JSON.parse(res.body) as { ID?: unknown }).ID
        if (typeof id !== 'string' || id === '')
          throw new Error(`${label}: a Terraform 423 without the holder's LockInfo ID: ${res.body.slice(0, 200)}`)
      } else {
        if (!type.startsWith('application/problem+json'))
          throw new Error(
            `${label}: a ${res.statusCode} that is not a problem body (content-type ${type}): ${res.body.slice(0, 200)}`,
          )
        const status = (JSON.parse(res.body) as { status?: unknown }).status
        if (code === undefined || !Object.hasOwn(ERROR_CODES, code) || status !== res.statusCode)
          throw new Error(
            `${label}: a ${res.statusCode} problem with code ${String(code)} and status ${String(status)}`,
          )
      }
    }
  } else {
    figures.answered2xx++ // 2xx, and 304 answers to If-None-Match
    if (after.text !== before.text) world.changes++
  }
  return { res, calls, code, label }
}

/** Runs a property; a counterexample fails the test with fast-check's report (seed, path, shrunk input, error). */
async function check<T>(
  t: Test,
  name: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (input: T) => Promise<void>,
  numRuns: number,
): Promise<void> {
  const before = figures.casesFuzzed
  answers.clear()
  try {
    await fc.assert(fc.asyncProperty(arbitrary, predicate), { numRuns, seed: SEED })
    t.pass(`${name}: ${numRuns} runs, ${figures.casesFuzzed - before} requests, no counterexample`)
  } catch (err) {
    failed.push(name)
    // fast-check's report (seed, path, shrunk counterexample) is the message; the property's own error is the cause.
    const report = (err as Error).message
    const cause =
      (err as Error).cause instanceof Error
        ? ((err as Error).cause as Error).message
        : String((err as Error).cause ?? '')
    t.fail(
      `${name}: ${cause}\n${report.length > 4000 ? `${report.slice(0, 4000)}… (${report.length} characters)` : report}`,
    )
  }
  t.comment(
    `${name} answers: ${[...answers]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ')}`,
  )
}

// --- encodings and the router model ------------------------------------------------

type Encoding = 'component' | 'bytes' | 'double' | 'raw' | 'specials' | 'overlong'

const hex = (b: number, upper: boolean): string => {
  const h = b.toString(16).padStart(2, '0')
  return `%${upper ? h.toUpperCase() : h}`
}

/** encodeURIComponent, or every UTF-8 byte escaped where it refuses. */
function component(s: string): string {
  try {
    return encodeURIComponent(s)
  } catch {
    return [...Buffer.from(s, 'utf8')].map((b) => hex(b, true)).join('')
  }
}

/** How a decoded intent travels in the path. */
function encode(intent: string, encoding: Encoding, upper: boolean): string {
  switch (encoding) {
    case 'component':
      return component(intent)
    case 'bytes':
      return [...Buffer.from(intent, 'utf8')].map((b) => hex(b, upper)).join('')
    case 'double':
      return component(component(intent))
    case 'raw':
      return intent
    case 'specials': {
      const map: Record<string, string> = {
        '.': hex(0x2e, upper),
        '/': hex(0x2f, upper),
        '\\': hex(0x5c, upper),
        '\u0000': '%00',
        '%': '%25',
        ' ': '%20',
        '?': hex(0x3f, upper),
        '#': '%23',
      }
      return [...intent].map((c) => map[c] ?? c).join('')
    }
    case 'overlong': {
      const map: Record<string, string> = {
        '.': upper ? '%C0%AE' : '%c0%ae',
        '/': upper ? '%C0%AF' : '%c0%af',
        '\\': upper ? '%C1%9C' : '%c1%9c',
      }
      return [...intent].map((c) => map[c] ?? component(c)).join('')
    }
  }
}

interface Template {
  readonly method: string
  readonly url: string
  readonly segs: ReadonlyArray<{ readonly text: string } | { readonly param: string }>
}

/** The route table as the router sees it (`::` is a literal colon). */
function templatesOf(routes: readonly RouteEntry[]): Template[] {
  return routes.map((r) => ({
    method: r.method,
    url: r.url,
    segs: r.url
      .replaceAll('::', '\u0000')
      .split('/')
      .slice(1)
      .map((s) => (s.startsWith(':') ? { param: s.slice(1) } : { text: s.replaceAll('\u0000', ':') })),
  }))
}

/**
 * The shape the route schema checks a rev against; a rev of this shape that
 * is not canonical (`.10Z`, February 30) passes the schema and is refused by
 * the store, after the query and headers were validated.
 */
const REV_SHAPE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z(_[1-9]\d{0,8})?$/

/** A canonical rev, as SPEC §3 defines it (checked independently of src/store/rev.ts). */
function isCanonicalRev(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z(?:_([1-9]\d{0,8}))?$/.exec(s)
  if (m === null) return false
  const [, y, mo, d, h, mi, se, frac] = m
  if (frac?.endsWith('0')) return false
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  if (month < 1 || month > 12 || day < 1) return false
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!
  return day <= days && Number(h) <= 23 && Number(mi) <= 59 && Number(se) <= 59
}

/** The console's asset file names, as `GET /ui/assets/:file` validates them. */
const ASSET_NAME = /^[A-Za-z0-9._-]{1,128}$/

type Expectation =
  | { readonly kind: 'bad-url' }
  | { readonly kind: 'no-route' }
  | { readonly kind: 'too-long'; readonly param: string }
  | {
      readonly kind: 'invalid'
      readonly code: 'invalid-name' | 'invalid-rev'
      readonly param: string
      readonly value: string
      readonly schemaPasses: boolean
    }
  | { readonly kind: 'valid'; readonly route: string }

/**
 * What the server must answer for `method url`, from a model of the path's
 * journey: the client normalises the URL (WHATWG: dot segments, `\` as `/`,
 * tabs and newlines dropped, unsafe characters escaped), the router rejects
 * a path that does not percent-decode, matches static segments after
 * decodeURI and parameters up to the next `/` (refusing a decoded parameter
 * longer than 256 characters with 414), and the params are then validated in
 * order: factory, stack, rev.
 */
function expectationOf(method: string, url: string, templates: readonly Template[]): Expectation {
  const path = pathOf(url)
  try {
    decodeURI(path)
  } catch {
    return { kind: 'bad-url' }
  }
  const segs = path.split('/').slice(1)
  let candidates = templates.filter((tpl) => tpl.method === method)
  const params: Array<[string, string]> = []
  for (let i = 0; i < segs.length && candidates.length > 0; i++) {
    const seg = segs[i]!
    const statics = candidates.filter((tpl) => {
      const s = tpl.segs[i]
      return s !== undefined && 'text' in s && s.text === decodeURI(seg)
    })
    if (statics.length > 0) {
      candidates = statics
      continue
    }
    const parametric = candidates.filter((tpl) => {
      const s = tpl.segs[i]
      return s !== undefined && 'param' in s
    })
    if (parametric.length === 0) return { kind: 'no-route' }
    let value: string
    try {
      value = decodeURIComponent(seg)
    } catch {
      return { kind: 'bad-url' }
    }
    const name = (parametric[0]!.segs[i] as { param: string }).param
    if (value.length > MAX_PARAM_LENGTH) return { kind: 'too-long', param: name }
    params.push([name, value])
    candidates = parametric
  }
  const matched = candidates.find((tpl) => tpl.segs.length === segs.length)
  if (matched === undefined) return { kind: 'no-route' }
  for (const [name, value] of params) {
    if ((name === 'factory' || name === 'stack') && !NAME.test(value))
      return { kind: 'invalid', code: 'invalid-name', param: name, value, schemaPasses: false }
    if (name === 'rev' && !isCanonicalRev(value))
      return {
        kind: 'invalid',
        code: 'invalid-rev',
        param: name,
        value,
        schemaPasses: REV_SHAPE.test(value) && value.length <= 40,
      }
    // The console's asset names (GET /ui/assets/:file) are refused like names when they leave the asset alphabet.
    if (name === 'file' && !ASSET_NAME.test(value))
      return { kind: 'invalid', code: 'invalid-name', param: name, value, schemaPasses: false }
  }
  return { kind: 'valid', route: `${matched.method} ${matched.url}` }
}

// --- arbitraries: names, revs, paths -------------------------------------------------

const LOOKALIKES = [
  '\u0430',
  '\u0435',
  '\u043e',
  '\u0455',
  '\u0456',
  '\u03bf',
  '\uff46',
  '\uff53',
  '\uff11',
  '\u0131',
  '\u212a',
  '\u017f',
  '\u200b',
  '\u00a0',
  '\u2024',
  '\u2215',
  '\u2044',
  '\uff0f',
  '\uff0e',
  '\ufe52',
  '\u0301',
  '\u0130',
  '\u1d00',
  '\u0660',
]
const TRAVERSAL_PARTS = [
  '..',
  '.',
  '/',
  '\\',
  '%',
  '\u0000',
  '%00',
  '..%2f',
  '%2e%2e',
  'etc',
  'passwd',
  'current',
  'lock',
  'snapshots',
  '.mutex',
  '.trash',
  '.meta',
  '.lock-released',
  '~',
  'C:',
  '//',
  '..\\',
  '../',
  '.json.enc',
  '*',
  '?',
  '#',
  ' ',
  '\n',
  '\r\n',
  '\t',
  'f1',
  's1',
  '\u202e',
  ';',
  '@',
  ':',
]
const SPECIAL_NAMES = [
  '',
  '.',
  '..',
  '...',
  '.git',
  '-rf',
  '_x',
  'a/b',
  'a\\b',
  'f1\u0000',
  'f1\n',
  ' f1',
  'f1 ',
  'F1',
  '%',
  '%2e',
  'con',
  'nul',
  '*',
  '?',
  '#',
  '~root',
  '$HOME',
  '${x}',
  'snapshots',
  'current',
  'lock',
  'f1.',
  'a'.repeat(128),
  'a'.repeat(129),
  'a'.repeat(256),
  'a'.repeat(257),
  'é'.repeat(128),
]

/** A decoded name-ish string: valid names, traversal, look-alikes, unicode, overlong. */
const nameIntent: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,12}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{120,135}$/) },
  {
    weight: 3,
    arbitrary: fc.array(fc.constantFrom(...TRAVERSAL_PARTS), { minLength: 1, maxLength: 7 }).map((a) => a.join('')),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('f1', 's1', 'tf', 'stack', 'prod'), fc.nat(), fc.constantFrom(...LOOKALIKES), fc.boolean())
      .map(([name, at, c, insert]) => {
        const i = at % (name.length + 1)
        return name.slice(0, i) + c + name.slice(insert ? i : i + 1)
      }),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 100, max: 320 }), fc.constantFrom('a', '.', 'é', '\u0100', '\u{1f600}', '%'))
      .map(([n, c]) => c.repeat(n)),
  },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_NAMES) },
)

const MIN_NANOS = -62167219200n * 1_000_000_000n
const MAX_NANOS = 253402300799n * 1_000_000_000n + 999_999_999n

/** Instants at the edges: the first and last a rev can name, the epoch, a leap day, the last second of a leap year. */
const EDGE_NANOS = [
  MIN_NANOS,
  MAX_NANOS - 999_999_999n,
  MAX_NANOS,
  0n,
  -1n,
  951_782_400n * 1_000_000_000n,
  1_483_228_799n * 1_000_000_000n,
]

/** A canonical rev (its nanos rounded to whole seconds or milliseconds at times; edge instants often). */
const canonicalRev: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.bigInt({ min: MIN_NANOS, max: MAX_NANOS }) },
      { weight: 2, arbitrary: fc.constantFrom(...EDGE_NANOS) },
    ),
    fc.constantFrom(1n, 1_000_000n, 1_000_000_000n),
    fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 999_999_999 })),
  )
  .map(([ns, unit, suffix]) => formatRev({ nanos: ns - (((ns % unit) + unit) % unit), suffix }))

/** Ways to break a canonical rev a little. */
const REV_MUTATIONS: ReadonlyArray<(rev: string, at: number) => string> = [
  (r) => (r.includes('.') ? r.replace('Z', '0Z') : r.replace('Z', '.0Z')),
  (r) => r.replace('Z', '+00:00'),
  (r) => r.replace('Z', 'z'),
  (r) => r.replace('T', 't'),
  (r) => r.replace('T', ' '),
  (r) => `${r.replace(/_\d+$/, '')}_0`,
  (r) => `${r.replace(/_\d+$/, '')}_01`,
  (r) => `${r.replace(/_\d+$/, '')}_1234567890`,
  (r) => `${r.slice(0, 5)}13${r.slice(7)}`,
  (r) => `${r.slice(0, 5)}00${r.slice(7)}`,
  (r) => `${r.slice(0, 8)}00${r.slice(10)}`,
  (r) => `${r.slice(0, 5)}02-30${r.slice(10)}`,
  (r) => `${r.slice(0, 8)}32${r.slice(10)}`,
  (r) => `${r.slice(0, 11)}24${r.slice(13)}`,
  (r) => `${r.slice(0, 17)}60${r.slice(19)}`,
  (r) => `1${r}`,
  (r) => `${r}.json.enc`,
  (r) => `../${r}`,
  (r) => `${r}/..`,
  (r) => `${r}\u0000`,
  (r) => `${r} `,
  (r, at) => {
    const i = at % r.length
    return r.slice(0, i) + r.slice(i + 1)
  },
  (r, at) => {
    const i = at % r.length
    return r.slice(0, i) + r[i]! + r.slice(i)
  },
  (r, at) => {
    const i = [...r].findIndex((c, j) => j >= at % r.length && /\d/.test(c))
    return i < 0 ? r : `${r.slice(0, i)}\uff10${r.slice(i + 1)}`
  },
  (r, at) => {
    const i = [...r].findIndex((c, j) => j >= at % r.length && /\d/.test(c))
    return i < 0 ? r : `${r.slice(0, i)}\u0663${r.slice(i + 1)}`
  },
]

/** Rev-shaped strings built from calendar edges: edge years with months, days and times in and just out of range. */
const calendarRev: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('0000', '0001', '1969', '1970', '2000', '2024', '2100', '9999'),
    fc.constantFrom('00', '01', '02', '12', '13'),
    fc.constantFrom('00', '01', '28', '29', '30', '31', '32'),
    fc.constantFrom('00:00:00', '23:59:59', '24:00:00', '23:59:60', '23:60:00'),
    fc.constantFrom('', '.5', '.999999999', '.1000000000', '.0'),
    fc.constantFrom('', '', '_1', '_999999999'),
  )
  .map(([y, mo, d, time, frac, suffix]) => `${y}-${mo}-${d}T${time}${frac}Z${suffix}`)

/** A decoded rev-ish string: canonical, broken a little, calendar edges, or any name-ish string. */
const revIntent: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: canonicalRev },
  { weight: 4, arbitrary: calendarRev },
  {
    weight: 3,
    arbitrary: fc
      .tuple(canonicalRev, fc.integer({ min: 0, max: REV_MUTATIONS.length - 1 }), fc.nat())
      .map(([r, m, at]) => REV_MUTATIONS[m]!(r, at)),
  },
  { weight: 2, arbitrary: nameIntent },
)

/** A route parameter: a seeded value (by index), or a fuzzed intent in some encoding. */
type ParamInput =
  | { readonly known: number }
  | { readonly intent: string; readonly encoding: Encoding; readonly upper: boolean }

const encoding = fc.constantFrom<Encoding>(
  'component',
  'component',
  'bytes',
  'double',
  'raw',
  'raw',
  'specials',
  'overlong',
)
const paramInput = (intent: fc.Arbitrary<string>): fc.Arbitrary<ParamInput> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.record({ known: fc.nat(9) }) },
    { weight: 5, arbitrary: fc.record({ intent, encoding, upper: fc.boolean() }) },
  )

const FACTORIES = ['f1', 'f2']
const STACKS = ['s1', 's2', 'tf', 'legacy']

type Noise =
  | 'none'
  | 'encode-static'
  | 'upper-static'
  | 'dot-segment'
  | 'encoded-dot-segment'
  | 'dotdot-pair'
  | 'double-slash'
  | 'trailing-slash'
const noise = fc.record({
  kind: fc.oneof(
    { weight: 12, arbitrary: fc.constant<Noise>('none') },
    {
      weight: 5,
      arbitrary: fc.constantFrom<Noise>(
        'encode-static',
        'upper-static',
        'dot-segment',
        'encoded-dot-segment',
        'dotdot-pair',
        'double-slash',
        'trailing-slash',
      ),
    },
  ),
  at: fc.nat(),
})

const QUERIES = [
  '?current=true',
  '?force=true',
  '?force=true&reason=fuzz',
  '?dryRun=1',
  '?limit=1',
  '?limit=0',
  '?wait=1',
  '?ID=x',
  `?ID=${TF_LOCK_ID}`,
  `?id=${HOLDER}`,
  '?id=..%2F..%2Fcurrent',
  '?after=..%2F',
  '?x=%zz',
  '?=&&=',
  '?current=true&current=false',
  `?after=${REV0}`,
]
const query: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constant('') },
  { weight: 3, arbitrary: fc.constantFrom(...QUERIES) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('wait', 'limit', 'after', 'force', 'current', 'id', 'ID', 'reason', 'x'), nameIntent)
      .map(([k, v]) => `?${k}=${component(v)}`),
  },
  { weight: 1, arbitrary: revIntent.map((r) => `?after=${component(r)}`) },
)

const FOREIGN_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'LOCK', 'UNLOCK', 'PATCH', 'HEAD', 'OPTIONS', 'PROPFIND']

// --- arbitraries: bodies -------------------------------------------------------------

type BodyKind =
  | 'none'
  | 'set-current'
  | 'snapshot'
  | 'lock'
  | 'renew'
  | 'gc'
  | 'prune'
  | 'restore'
  | 'tf-state'
  | 'lockinfo'
  | 'unlockinfo'

/** Which body a route takes (by its method and URL template). */
function bodyKindOf(method: string, url: string): BodyKind {
  if (url.endsWith('/current')) return method === 'PUT' ? 'set-current' : 'none'
  if (url.endsWith('/snapshots')) return method === 'POST' ? 'snapshot' : 'none'
  if (url.endsWith('/terraform/lock'))
    return method === 'POST' ? 'lockinfo' : method === 'DELETE' ? 'unlockinfo' : 'none'
  if (url.endsWith('/lock')) return method === 'POST' ? 'lock' : method === 'PUT' ? 'renew' : 'none'
  if (url.endsWith('::gc')) return 'gc'
  if (url.endsWith('::prune')) return 'prune'
  if (url.endsWith('::restore')) return 'restore'
  if (url.endsWith('/terraform'))
    return method === 'POST' || method === 'PUT'
      ? 'tf-state'
      : method === 'LOCK'
        ? 'lockinfo'
        : method === 'UNLOCK'
          ? 'unlockinfo'
          : 'none'
  return 'none'
}

/** A body a well-behaved client would send for `kind` (placeholders filled later). */
function plausibleBody(kind: BodyKind, choice: number): string | undefined {
  switch (kind) {
    case 'none':
      return undefined
    case 'set-current':
      return JSON.stringify({ rev: choice % 2 === 0 ? REV0 : REV1 })
    case 'snapshot':
      return sampleSnapshot(`fuzz-${choice}`).toString('utf8')
    case 'lock':
      return JSON.stringify({ who: 'fuzz', operation: 'plan', ttl: 1 })
    case 'renew':
      return JSON.stringify({ ttl: 60 })
    case 'gc':
      return JSON.stringify({ keep: choice % 4, dryRun: choice % 3 !== 0 })
    case 'prune':
      return JSON.stringify({ keep: 1 + (choice % 3), dryRun: choice % 2 === 0 })
    case 'restore':
      return JSON.stringify({ rev: TRASHED })
    case 'tf-state':
      return terraformState(3 + (choice % 5), LINEAGE)
    case 'lockinfo':
      return lockInfo(choice % 3 === 0 ? TF_LOCK_ID : `fuzz-lock-${choice % 5}`)
    case 'unlockinfo':
      return choice % 4 === 0 ? '' : lockInfo(choice % 2 === 0 ? TF_LOCK_ID : `fuzz-lock-${choice % 5}`)
  }
}

const NUMBER_TEXTS = [
  '0',
  '-0',
  '1',
  '-1',
  '1.5',
  '1e3',
  '1E+3',
  '1e400',
  '-1e400',
  '1e-400',
  '9007199254740993',
  '123456789012345678901234567890',
  '0.0000001',
  '1.0',
  '604800',
  '604801',
  '3600',
  '1000000',
  '1000001',
  '2147483648',
  '-2147483649',
  '1e20',
  '1e300',
  '2e305',
  '1e306',
  '8e307',
  '1e308',
  '1.7976931348623157e308',
  '5e-324',
]
const STRING_TEXTS = [
  '""',
  '"__proto__"',
  '"../../etc/passwd"',
  `"${REV0}"`,
  `"${REV1}"`,
  `"${TRASHED}"`,
  `"${HOLDER}"`,
  `"${TF_LOCK_ID}"`,
  `"${LINEAGE}"`,
  '"\\u0000"',
  '"\\ud800"',
  '"2026-02-30T12:00:00Z"',
  '"1"',
  '"true"',
  '"null"',
  `"${'x'.repeat(5000)}"`,
]
const KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'who',
  'operation',
  'info',
  'ttl',
  'id',
  'rev',
  'keep',
  'dryRun',
  'maxAge',
  'ID',
  'Id',
  'Operation',
  'Info',
  'Who',
  'Version',
  'Created',
  'Path',
  'lineage',
  'serial',
  'version',
  'format-version',
  'factory',
  'stack',
  'entries',
  'outputs',
  'address',
  'entry-kind',
  'category',
  'binding',
  'alias',
  'kind',
  'toString',
  'valueOf',
  'hasOwnProperty',
]

const numberText = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...NUMBER_TEXTS) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)) },
)
const stringText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 16 }).map((s) => JSON.stringify(s)),
  fc.constantFrom(...STRING_TEXTS),
)
const keyText = fc
  .oneof({ weight: 3, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) })
  .map((k) => JSON.stringify(k))

/** Arbitrary JSON texts (written out by hand, so `__proto__` keys and odd number spellings survive). */
const { value: jsonText } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthSize: 'small' },
    numberText,
    stringText,
    fc.constantFrom('true', 'false', 'null'),
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }).map((vs) => `[${vs.join(',')}]`),
  object: fc
    .array(fc.tuple(keyText, tie('value')), { maxLength: 5 })
    .map((kvs) => `{${kvs.map(([k, v]) => `${k}:${v}`).join(',')}}`),
}))

/** Values of the kind each field expects, odd ones included (numbers for counts, strings for names, revs for revs). */
const FIELD_VALUES: Readonly<Record<string, fc.Arbitrary<string>>> = {
  ttl: numberText,
  keep: numberText,
  maxAge: numberText,
  serial: numberText,
  version: numberText,
  'format-version': numberText,
  dryRun: fc.constantFrom('true', 'false', '"true"', '1', '0', 'null', '[]'),
  rev: fc.oneof(
    fc.constantFrom(`"${REV0}"`, `"${REV1}"`, `"${TRASHED}"`),
    revIntent.map((r) => JSON.stringify(r)),
  ),
  Created: fc.constantFrom(
    '"2026-07-10T12:00:00Z"',
    '"0001-01-01T00:00:00Z"',
    '""',
    '"not a time"',
    '"2026-07-10T12:00:00.000000001+14:00"',
    'null',
    '0',
  ),
}
const fieldValue = (field: string): fc.Arbitrary<string> =>
  fc.oneof({ weight: 4, arbitrary: FIELD_VALUES[field] ?? stringText }, { weight: 1, arbitrary: jsonText })

/** An object with some of the fields a route expects (each once), values of the expected kind or any other. */
const fieldsText = (fields: readonly string[]): fc.Arbitrary<string> =>
  fc
    .subarray([...fields])
    .chain((keys) =>
      fc
        .tuple(...keys.map((k) => fieldValue(k)))
        .map((values) => `{${keys.map((k, i) => `${JSON.stringify(k)}:${values[i]!}`).join(',')}}`),
    )

/** An object whose keys are mostly the fields a route expects, some repeated or foreign, with values of any type. */
const shapedText = (fields: readonly string[]): fc.Arbitrary<string> =>
  fc
    .array(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constantFrom(...fields).chain((k) => fieldValue(k).map((v): [string, string] => [k, v])),
        },
        { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...KEYS), jsonText) },
      ),
      { maxLength: fields.length + 1 },
    )
    .map((kvs) => `{${kvs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`)

/** A unobin snapshot with one to three things wrong (or, at times, nothing). */
const snapshotText: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.integer({ min: 0, max: 9 }),
      fc.constantFrom('format-version', 'factory', 'stack', 'generated-at', 'entries', 'outputs', '__proto__', 'extra'),
      fc.constantFrom('address', 'entry-kind', 'category', 'binding', 'outputs', 'alias', 'kind'),
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom('leaf', 'library-call', 'action', 'data-source', 'resource', '__proto__', 'toString'),
    ),
    { maxLength: 3 },
  )
  .map((mutations) => {
    const doc = JSON.parse(sampleSnapshot('near').toString('utf8')) as Record<string, unknown>
    const entries = doc.entries as Array<Record<string, unknown>>
    for (const [op, top, field, value, word] of mutations) {
      const entry = entries[0] ?? {}
      switch (op) {
        case 0:
          delete doc[top]
          break
        case 1:
          Object.defineProperty(doc, top, { value, enumerable: true, configurable: true, writable: true })
          break
        case 2:
          delete entry[field]
          break
        case 3:
          entry[field] = value
          break
        case 4:
          entries.push({ ...entry })
          break // a duplicate address
        case 5:
          entry['entry-kind'] = word
          break
        case 6:
          entry.category = word
          break
        case 7:
          entry.binding = { alias: field === 'alias' ? '' : 'aws', kind: field === 'kind' ? value : 'vpc' }
          break
        case 8:
          entries.push({
            address: `extra.${String(word)}`,
            'entry-kind': word,
            category: word === 'leaf' ? 'resource' : word,
            binding: { alias: 'a', kind: 'k' },
          })
          break
        default:
          doc['format-version'] = value
      }
    }
    return JSON.stringify(doc)
  })

/** A Terraform state with odd lineage and serial (sometimes a proper successor). */
const tfStateText: fc.Arbitrary<string> = fc
  .record({
    version: fc.oneof(fc.constant('4'), numberText, stringText),
    serial: fc.oneof(fc.integer({ min: 0, max: 9 }).map(String), numberText, stringText, fc.constant('null')),
    lineage: fc.oneof(fc.constant(JSON.stringify(LINEAGE)), stringText, numberText, fc.constant('null')),
    rest: fc.array(fc.tuple(keyText, jsonText), { maxLength: 2 }),
    drop: fc.constantFrom<Array<'version' | 'serial' | 'lineage' | 'none'>>(
      'none',
      'none',
      'version',
      'serial',
      'lineage',
    ),
  })
  .map(({ version, serial, lineage, rest, drop }) => {
    const kvs: Array<[string, string]> = [
      ['"version"', version],
      ['"serial"', serial],
      ['"lineage"', lineage],
      ['"terraform_version"', '"1.9.0"'],
      ['"resources"', '[]'],
      ...rest,
    ]
    return `{${kvs
      .filter(([k]) => k !== `"${drop}"`)
      .map(([k, v]) => `${k}:${v}`)
      .join(',')}}`
  })

/** A Terraform LockInfo with odd fields. */
const lockInfoText: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        '"ID"',
        '"id"',
        '"Operation"',
        '"Info"',
        '"Who"',
        '"Version"',
        '"Created"',
        '"Path"',
        '"__proto__"',
        '"constructor"',
      ),
      fc.oneof(
        fc.constant(JSON.stringify(TF_LOCK_ID)),
        fc.constant('"0001-01-01T00:00:00Z"'),
        fc.constant('""'),
        stringText,
        numberText,
        fc.constant('null'),
        jsonText,
      ),
    ),
    { maxLength: 7 },
  )
  .map((kvs) => `{${kvs.map(([k, v]) => `${k}:${v}`).join(',')}}`)

/** A body: JSON text, raw bytes, truncated or deeply nested JSON, oversize, or route-shaped values. */
const bodyFor = (kind: BodyKind, fields: readonly string[]): fc.Arbitrary<string | Buffer> => {
  const special: fc.Arbitrary<string> =
    kind === 'snapshot'
      ? snapshotText
      : kind === 'tf-state'
        ? tfStateText
        : kind === 'lockinfo' || kind === 'unlockinfo'
          ? lockInfoText
          : fieldsText(fields)
  return fc.oneof(
    { weight: 5, arbitrary: special },
    { weight: 4, arbitrary: fieldsText(fields) },
    { weight: 3, arbitrary: shapedText(fields) },
    { weight: 2, arbitrary: jsonText },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.nat(), fc.nat()).map(([choice, at]) => {
        const text = plausibleBody(kind, choice) ?? '{"a":[1,2,{"b":"c"}]}'
        return text.slice(0, at % Math.max(1, text.length))
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 1000, max: 12_000 }), fc.constantFrom('[', '{"a":', `{"${fields[0] ?? 'x'}":`))
        .map(([n, open]) => open.repeat(n) + (open === '[' ? '' : '1') + (open === '[' ? ']' : '}').repeat(n)),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        `{"who":"${'x'.repeat(BODY_LIMIT)}"}`,
        `\ufeff${plausibleBody(kind, 1) ?? '{}'}`,
        `${plausibleBody(kind, 1) ?? '{}'}${plausibleBody(kind, 1) ?? '{}'}`,
        `${plausibleBody(kind, 1) ?? '{}'} trailing`,
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        Buffer.from(plausibleBody(kind, 2) ?? '{}', 'utf16le'),
        Buffer.concat([Buffer.from('{"who":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xae]), Buffer.from('"}')]),
      ),
    },
  )
}

const FIELDS: Record<BodyKind, readonly string[]> = {
  none: ['x'],
  'set-current': ['rev'],
  snapshot: ['format-version', 'factory', 'stack', 'entries', 'outputs'],
  lock: ['who', 'operation', 'info', 'ttl'],
  renew: ['id', 'ttl'],
  gc: ['keep', 'dryRun'],
  prune: ['keep', 'maxAge', 'dryRun'],
  restore: ['rev'],
  'tf-state': ['version', 'serial', 'lineage'],
  lockinfo: ['ID', 'Operation', 'Info', 'Who', 'Version', 'Created', 'Path'],
  unlockinfo: ['ID', 'Operation', 'Info', 'Who', 'Version', 'Created', 'Path'],
}

// --- arbitraries: headers -------------------------------------------------------------

/** A character a header value can carry on the wire (latin1, no CR/LF/NUL). */
const headerChar = fc
  .oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
    { weight: 1, arbitrary: fc.constant(9) },
  )
  .map((c) => String.fromCharCode(c))
/** Header text as a server receives it (Node trims surrounding whitespace). */
const headerText = (maxLength = 60): fc.Arbitrary<string> =>
  fc.string({ unit: headerChar, maxLength }).map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''))

const revHeader = fc
  .tuple(
    fc.constantFrom(REV0, REV1, TRASHED),
    fc.constantFrom('raw', 'quoted', 'weak', 'list', 'spaced', 'unterminated'),
  )
  .map(
    ([rev, form]) =>
      ({
        raw: rev,
        quoted: `"${rev}"`,
        weak: `W/"${rev}"`,
        list: `"2020-01-01T00:00:00Z", "${rev}"`,
        spaced: `  "${rev}"`,
        unterminated: `"${rev}`,
      })[form],
  )
const conditional = fc.oneof(revHeader, fc.constantFrom('*', '""', '"', 'W/', 'W/""', ', ,', '"a", *'), headerText())
const lockIdHeader = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(HOLDER, TF_LOCK_ID) },
  { weight: 2, arbitrary: headerText() },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'x'.repeat(257),
      '00000000-0000-0000-0000-000000000000',
      `${HOLDER} `,
      `${HOLDER},${HOLDER}`,
    ),
  },
)
const contentType = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      JSON_TYPE,
      'application/json; charset=utf-8',
      'application/json; charset=utf-16',
      'application/problem+json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      '*/*',
      'application/json, text/plain',
      ';',
      'application/json;;',
      'APPLICATION/JSON',
      'application/json; a="b',
      'application/jsonx',
      'application/vnd.api+json',
      'application/octet-stream',
    ),
  },
  { weight: 1, arbitrary: headerText() },
  { weight: 1, arbitrary: headerText(20).map((s) => `application/json; ${s}`) },
)
const md5Header = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom('@MD5@', '@MD5-HEX@', '@MD5-OTHER@', '@MD5@ ', 'AAAAAAAAAAAAAAAAAAAAAA==', '=', ''),
  },
  { weight: 1, arbitrary: headerText(30) },
)
const contentEncoding = fc.oneof(
  fc.constantFrom('gzip', 'deflate', 'br', 'zstd', 'identity', 'x-garbage', 'gzip, gzip', 'chunked'),
  headerText(20),
)
const accept = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/problem+json',
    'text/html',
    '*/*',
    'application/xml;q=0.9',
    'text/plain;q=x',
    'application/*',
    'image/png',
  ),
  headerText(30),
)

/** Optional headers of a header case (undefined: not sent). */
interface HeaderSet {
  readonly 'lock-id'?: string | undefined
  readonly 'if-match'?: string | undefined
  readonly 'if-none-match'?: string | undefined
  readonly 'content-type'?: string | undefined
  readonly 'content-md5'?: string | undefined
  readonly 'content-encoding'?: string | undefined
  readonly accept?: string | undefined
}

const headerSet: fc.Arbitrary<HeaderSet> = fc.record({
  'lock-id': fc.option(lockIdHeader, { nil: undefined, freq: 2 }),
  'if-match': fc.option(conditional, { nil: undefined, freq: 3 }),
  'if-none-match': fc.option(conditional, { nil: undefined, freq: 3 }),
  'content-type': fc.option(contentType, { nil: undefined, freq: 4 }),
  'content-md5': fc.option(md5Header, { nil: undefined, freq: 3 }),
  'content-encoding': fc.option(contentEncoding, { nil: undefined, freq: 3 }),
  accept: fc.option(accept, { nil: undefined, freq: 3 }),
})

/** A stack a header or body case targets: a seeded one, or a fresh valid name. */
const stackTarget: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('f1/s1', 'f1/s2', 'f2/tf', 'f2/legacy') },
  { weight: 1, arbitrary: fc.stringMatching(/^fz[a-z0-9]{1,5}$/).map((s) => `f3/${s}`) },
)
const urlOf = (target: string): string => {
  const [f, s] = target.split('/') as [string, string]
  return stackUrl(f, s)
}
/** The lock id that holds a seeded stack (placeholder or constant), if any. */
const holderOf = (target: string): string | undefined =>
  target === 'f1/s1' ? HOLDER : target === 'f2/tf' ? TF_LOCK_ID : undefined

/** The operations of the header and body properties: method, path under the stack, body kind. */
const OPERATIONS: ReadonlyArray<{ readonly method: string; readonly path: string; readonly body: BodyKind }> = [
  { method: 'GET', path: '/current', body: 'none' },
  { method: 'PUT', path: '/current', body: 'set-current' },
  { method: 'GET', path: '/snapshots', body: 'none' },
  { method: 'POST', path: '/snapshots', body: 'snapshot' },
  { method: 'POST', path: '/snapshots?current=true', body: 'snapshot' },
  { method: 'GET', path: `/snapshots/${REV1}`, body: 'none' },
  { method: 'DELETE', path: `/snapshots/${REV0}`, body: 'none' },
  { method: 'POST', path: '/snapshots:gc', body: 'gc' },
  { method: 'POST', path: '/snapshots:prune', body: 'prune' },
  { method: 'POST', path: '/snapshots:restore', body: 'restore' },
  { method: 'GET', path: '/trash', body: 'none' },
  { method: 'GET', path: '/lock', body: 'none' },
  { method: 'POST', path: '/lock', body: 'lock' },
  { method: 'PUT', path: '/lock', body: 'renew' },
  { method: 'DELETE', path: '/lock', body: 'none' },
  { method: 'GET', path: '/terraform', body: 'none' },
  { method: 'POST', path: `/terraform?ID=${TF_LOCK_ID}`, body: 'tf-state' },
  { method: 'PUT', path: '/terraform', body: 'tf-state' },
  { method: 'DELETE', path: '/terraform', body: 'none' },
  { method: 'LOCK', path: '/terraform', body: 'lockinfo' },
  { method: 'UNLOCK', path: '/terraform', body: 'unlockinfo' },
  { method: 'POST', path: '/terraform/lock', body: 'lockinfo' },
  { method: 'DELETE', path: '/terraform/lock', body: 'unlockinfo' },
]

// --- the test ----------------------------------------------------------------------------

const parent = t.testdir({
  sentinel: { 'canary.txt': 'the fuzz must never touch this\n', nested: { 'deeper.txt': 'nor this\n' } },
})
const sentinelBefore = digestTree(join(parent, 'sentinel'))
const worlds: World[] = []

t.test(
  'route parameters: invalid names and revs are refused by code before any filesystem call, never 5xx',
  async (t) => {
    const world = new World(t, join(parent, 'data-routes'), {})
    worlds.push(world)
    await world.start()
    const templates = templatesOf(world.routes)
    t.ok(
      templates.some((tpl) => tpl.method === 'LOCK') && templates.some((tpl) => tpl.url.endsWith('/snapshots/:rev')),
      `the route table has ${templates.length} method/route pairs, LOCK and …/snapshots/:rev among them`,
    )

    const routeCase = fc.record({
      // A GET of …/events with valid names opens a stream that never ends, which inject would wait on for ever:
      // the stream route is exercised over real sockets in test/http/events.test.ts (HEAD answers at once and stays here).
      route: fc.constantFrom(
        ...templates
          .filter((tpl) => !(tpl.method === 'GET' && tpl.url.endsWith('/events')))
          .map((tpl) => `${tpl.method} ${tpl.url}`),
      ),
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constantFrom(...FOREIGN_METHODS) },
      ),
      factory: paramInput(nameIntent),
      stack: paramInput(nameIntent),
      rev: paramInput(revIntent),
      noise,
      query,
      lockId: fc.option(fc.constantFrom(HOLDER, TF_LOCK_ID, 'not-a-holder'), { nil: undefined }),
      choice: fc.nat(99),
    })

    await check(
      t,
      'route parameters',
      routeCase,
      async (c) => {
        await world.refresh()
        const tpl = templates.find((x) => `${x.method} ${x.url}` === c.route)!
        const method = c.method ?? tpl.method
        const wire = (p: ParamInput, known: readonly string[]): string =>
          'known' in p ? known[p.known % known.length]! : encode(p.intent, p.encoding, p.upper)
        const statics: number[] = []
        const segs = tpl.segs.map((s, i) => {
          if ('text' in s) {
            statics.push(i)
            return s.text
          }
          if (s.param === 'factory') return wire(c.factory, FACTORIES)
          if (s.param === 'stack') return wire(c.stack, STACKS)
          return wire(c.rev, world.known.revs)
        })
        const at = c.noise.at % Math.max(1, segs.length)
        const st = statics.length > 0 ? statics[c.noise.at % statics.length]! : -1
        switch (c.noise.kind) {
          case 'encode-static':
            if (st >= 0) segs[st] = encode(segs[st]!, 'bytes', c.noise.at % 2 === 0)
            break
          case 'upper-static':
            if (st >= 0) segs[st] = segs[st]!.toUpperCase()
            break
          case 'dot-segment':
            segs.splice(at, 0, '.')
            break
          case 'encoded-dot-segment':
            segs.splice(at, 0, '%2E')
            break
          case 'dotdot-pair':
            segs.splice(at, 0, 'x', '..')
            break
          case 'double-slash':
            segs.splice(at, 0, '')
            break
          case 'trailing-slash':
            segs.push('')
            break
          case 'none':
            break
        }
        const url = world.fill(`/${segs.join('/')}${c.query}`)
        const kind = c.method === null ? bodyKindOf(method, tpl.url) : 'none'
        const body = plausibleBody(kind, c.choice)
        const headers: Record<string, string> = {}
        if (body !== undefined) headers['content-type'] = JSON_TYPE
        if (c.lockId !== undefined) headers['lock-id'] = world.fill(c.lockId)
        const expected = expectationOf(method, url, templates)
        const { res, calls, code, label } = await exchange(world, {
          method,
          url,
          headers,
          ...(body === undefined ? {} : { payload: world.fill(body) }),
        })
        const head = method === 'HEAD'
        const want = (status: number, wantCode: string, why: string): void => {
          if (res.statusCode !== status || (!head && code !== wantCode))
            throw new Error(
              `${label}: expected ${status} ${wantCode} (${why}), got ${res.statusCode} ${code ?? res.body.slice(0, 200)}`,
            )
        }
        switch (expected.kind) {
          case 'bad-url':
            want(400, 'invalid-request', 'the path does not percent-decode')
            break
          case 'no-route':
            want(404, 'route-not-found', 'no route has this method and path')
            break
          case 'too-long':
            want(
              414,
              'uri-too-long',
              `the ${expected.param} is longer than ${MAX_PARAM_LENGTH} characters once decoded`,
            )
            break
          case 'invalid':
            // A rev of the right shape is judged after the query: a bad query may be refused first (still 400, before any file).
            if (expected.schemaPasses && c.query !== '' && res.statusCode === 400 && code === 'invalid-request') break
            want(
              400,
              expected.code,
              `the ${expected.param} ${JSON.stringify(expected.value.slice(0, 80))} is not valid`,
            )
            break
          case 'valid':
            // A query `after` that is not a canonical rev (hour 24, day 32, ...) is refused like a rev in the path.
            if (badAfter(url) && res.statusCode === 400 && (code === 'invalid-rev' || code === 'invalid-request')) break
            if (
              code === 'invalid-name' ||
              code === 'invalid-rev' ||
              code === 'route-not-found' ||
              code === 'uri-too-long'
            )
              throw new Error(
                `${label}: valid names and revs on ${expected.route}, yet answered ${res.statusCode} ${code}`,
              )
            break
        }
        if (expected.kind !== 'valid' && calls.length > 0) {
          throw new Error(
            `${label}: refused with ${res.statusCode} ${code ?? ''} after ${calls.length} filesystem calls (first: ${calls[0]!.method} ${calls[0]!.path}); a bad name, rev or path is refused before any filesystem call`,
          )
        }
      },
      RUNS.routes,
    )
    t.comment(`route world rebuilt ${world.rebuilds} times`)
  },
)

t.test('headers, with credentials configured: bad credentials get 401, nothing gets a 5xx', async (t) => {
  const admin = newToken()
  const reader = newToken()
  const writer = newToken()
  const key = await newSigningKey('fuzz-key')
  const otherKey = await newSigningKey('fuzz-key')
  const jwks = await startJwks(t, [key])
  const oidc = [
    {
      issuer: GITHUB,
      jwks: jwks.url,
      audience: AUDIENCE,
      algorithms: ['RS256'],
      cooldown: 0,
      rules: [{ match: { repository: 'acme/infra' }, grants: [{ scope: '*/*', allow: ['*'] }] }],
    },
  ]
  const text = tokensFileText(
    [
      { name: 'admin', token: admin, grants: [{ scope: '*/*', allow: ['*'] }] },
      { name: 'reader', token: reader, grants: [{ scope: 'f1/*', allow: ['read'] }] },
      { name: 'writer', token: writer, grants: [{ scope: '*/*', allow: ['read', 'write', 'lock'] }] },
    ],
    oidc,
  )
  const now = Math.floor(Date.now() / 1000)
  const sign = (
    claims: Record<string, unknown>,
    o: { key?: typeof key; issuer?: string; audience?: string; exp?: number; nbf?: number } = {},
  ) =>
    signIdToken(
      o.key ?? key,
      { sub: 'repo:acme/infra:ref:refs/heads/main', repository: 'acme/infra', ...claims },
      {
        issuer: o.issuer ?? GITHUB,
        audience: o.audience ?? AUDIENCE,
        exp: o.exp ?? now + 6 * 3600,
        ...(o.nbf === undefined ? {} : { nbf: o.nbf }),
      },
    )
  const jwtValid = await sign({})
  const jwtNoRule = await sign({ repository: 'mallory/infra', sub: 'repo:mallory/infra' })
  const badJwts = [
    await sign({}, { exp: now - 3600 }),
    await sign({}, { audience: 'https://elsewhere.example' }),
    await sign({}, { issuer: 'https://unknown.example' }),
    await sign({}, { key: otherKey }),
    await sign({}, { nbf: now + 3600 }),
    `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: GITHUB, aud: AUDIENCE, repository: 'acme/infra', exp: now + 3600 })).toString('base64url')}.`,
    `${jwtValid.slice(0, -4)}AAAA`,
    jwtValid.split('.').slice(0, 2).join('.'),
    'a.b.c',
    `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from('not json').toString('base64url')}.sig`,
  ]
  const adminHeaders = { authorization: `Bearer ${admin}` }
  const world = new World(t, join(parent, 'data-headers'), {
    auth: authFromText(text, { maxLocksPerCaller: 4 }),
    seedHeaders: adminHeaders,
  })
  worlds.push(world)
  await world.start()

  const secrets = [admin, reader, writer, jwtValid, jwtNoRule]
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')
  const username = fc.stringMatching(/^[A-Za-z0-9_.@-]{1,12}$/)
  const scheme = (name: 'Bearer' | 'Basic') =>
    fc.constantFrom(name, name.toLowerCase(), name.toUpperCase(), `${name[0]}${name.slice(1).toUpperCase()}`)
  /** Credentials the contract accepts: Bearer <secret>, or Basic with any username and the secret as password. */
  const validAuth = fc.oneof(
    fc
      .tuple(scheme('Bearer'), fc.integer({ min: 1, max: 3 }), fc.constantFrom(...secrets))
      .map(([s, spaces, secret]) => `${s}${' '.repeat(spaces)}${secret}`),
    fc
      .tuple(scheme('Basic'), username, fc.constantFrom(...secrets))
      .map(([s, user, secret]) => `${s} ${b64(`${user}:${secret}`)}`),
  )
  /** Credentials that must be refused: garbage, near misses, bad identity tokens. */
  const mutate = (secret: string, at: number, how: number): string => {
    const i = at % secret.length
    const c = secret[i] === 'a' ? 'b' : 'a'
    return [
      secret.slice(0, i) + c + secret.slice(i + 1),
      secret.slice(0, i),
      `${secret}x`,
      secret.toUpperCase() === secret ? `${secret}0` : secret.toUpperCase(),
    ][how % 4]!
  }
  const invalidAuth = fc.oneof(
    { weight: 3, arbitrary: headerText(80) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom('Bearer ', 'Basic ', 'Token ', 'Digest ', 'bearer\t', 'Bearer  '), headerText(60))
        .map(([s, v]) => `${s}${v}`),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(admin, reader, writer, jwtValid), fc.nat(), fc.nat())
        .map(([secret, at, how]) => `Bearer ${mutate(secret, at, how)}`),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(admin, writer),
          username,
          fc.constantFrom<'no-colon' | 'empty-password' | 'unpadded' | 'not-base64' | 'extra-colon' | 'raw'>(
            'no-colon',
            'empty-password',
            'unpadded',
            'not-base64',
            'extra-colon',
            'raw',
          ),
        )
        .map(
          ([secret, user, how]) =>
            ({
              'no-colon': `Basic ${b64(secret)}`,
              'empty-password': `Basic ${b64(`${user}:`)}`,
              unpadded: `Basic ${b64(`${user}:${secret}x`).replace(/=+$/, '')}x`,
              'not-base64': `Basic ${user}:${secret}`,
              'extra-colon': `Basic ${b64(`${user}:${secret}:`)}`,
              raw: secret,
            })[how],
        ),
    },
    { weight: 2, arbitrary: fc.constantFrom(...badJwts).map((jwt) => `Bearer ${jwt}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'Bearer',
        'Basic',
        'Bearer ',
        `Bearer ${admin} ${admin}`,
        `Bearer ${'A'.repeat(8000)}`,
        `Basic ${b64(`u:${'x'.repeat(5000)}`)}`,
        `Bearer ${admin}\u00e9`,
      ),
    },
  )
  const authInput = fc.oneof(
    { weight: 3, arbitrary: validAuth.map((header) => ({ valid: true as const, header })) },
    { weight: 3, arbitrary: invalidAuth.map((header) => ({ valid: false as const, header })) },
    { weight: 1, arbitrary: fc.constant({ valid: false as const, header: undefined }) },
  )
  const headerCase = fc.record({
    op: fc.integer({ min: 0, max: OPERATIONS.length + 1 }),
    target: stackTarget,
    auth: authInput,
    headers: headerSet,
    choice: fc.nat(99),
  })

  let refused = 0
  await check(
    t,
    'headers',
    headerCase,
    async (c) => {
      await world.refresh()
      const op = OPERATIONS[c.op]
      const method = op?.method ?? 'GET'
      const url = world.fill(
        op === undefined
          ? c.op === OPERATIONS.length
            ? '/v1/factories'
            : '/v1/factories/f1/stacks'
          : `${urlOf(c.target)}${op.path}`,
      )
      const body = op === undefined ? undefined : plausibleBody(op.body, c.choice)
      const payload = body === undefined ? undefined : world.fill(body)
      const md5 = createHash('md5')
        .update(payload ?? '')
        .digest()
      const headers: Record<string, string> = {}
      if (body !== undefined) headers['content-type'] = JSON_TYPE
      for (const [name, value] of Object.entries(c.headers)) {
        if (value === undefined) continue
        headers[name] = world
          .fill(value)
          .replace('@MD5-HEX@', md5.toString('hex'))
          .replace('@MD5-OTHER@', createHash('md5').update('other').digest('base64'))
          .replace('@MD5@', md5.toString('base64'))
      }
      if (c.auth.header !== undefined) headers.authorization = c.auth.header.replace(/^[ \t]+|[ \t]+$/g, '')
      const { res, code, label } = await exchange(world, {
        method,
        url,
        headers,
        ...(payload === undefined ? {} : { payload }),
      })
      if (c.auth.valid && res.statusCode === 401)
        throw new Error(
          `${label}: valid credentials (${c.auth.header.slice(0, 40)}…) answered 401 ${res.body.slice(0, 200)}`,
        )
      if (!c.auth.valid) {
        refused++
        if (res.statusCode !== 401 || code !== 'unauthenticated')
          throw new Error(
            `${label}: credentials ${JSON.stringify(c.auth.header?.slice(0, 80))} must get 401 unauthenticated, got ${res.statusCode} ${code ?? ''}`,
          )
        if (typeof res.headers['www-authenticate'] !== 'string' || !/Bearer/.test(res.headers['www-authenticate']))
          throw new Error(`${label}: a 401 without a WWW-Authenticate challenge`)
      }
    },
    RUNS.headers,
  )
  t.ok(refused > 0, `${refused} cases presented credentials that had to be refused`)
  t.comment(`header world rebuilt ${world.rebuilds} times`)
})

t.test('bodies: arbitrary JSON, bytes and documents never get a 5xx, and a refusal changes nothing', async (t) => {
  const world = new World(t, join(parent, 'data-bodies'), { bodyLimitBytes: BODY_LIMIT })
  worlds.push(world)
  await world.start()
  const withBody = OPERATIONS.filter((op) => op.body !== 'none' || op.method === 'DELETE')
  const bodyCase = fc.integer({ min: 0, max: withBody.length - 1 }).chain((i) => {
    const op = withBody[i]!
    const kind = op.body === 'none' ? 'lock' : op.body
    return fc.record({
      op: fc.constant(i),
      target: stackTarget,
      body: bodyFor(kind, FIELDS[kind]),
      contentType: fc.oneof(
        { weight: 8, arbitrary: fc.constant(JSON_TYPE) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            'application/problem+json',
            'text/plain',
            'application/octet-stream',
            'application/json; charset=latin1',
          ),
        },
        { weight: 1, arbitrary: fc.constant(undefined) },
      ),
      presentHolder: fc.oneof(
        { weight: 4, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
    })
  })

  await check(
    t,
    'bodies',
    bodyCase,
    async (c) => {
      await world.refresh()
      const op = withBody[c.op]!
      const holder = c.presentHolder ? holderOf(c.target) : undefined
      let url = world.fill(`${urlOf(c.target)}${op.path}`)
      if (op.path.startsWith('/terraform?ID=') && holder !== TF_LOCK_ID)
        url = url.replace(/\?ID=.*$/, holder === undefined ? '' : `?ID=${world.fill(holder)}`)
      const headers: Record<string, string> = {}
      if (c.contentType !== undefined) headers['content-type'] = c.contentType
      if (holder !== undefined) headers['lock-id'] = world.fill(holder)
      const payload = typeof c.body === 'string' ? world.fill(c.body) : c.body
      await exchange(world, { method: op.method, url, headers, payload })
    },
    RUNS.bodies,
  )
  t.comment(`body world rebuilt ${world.rebuilds} times`)
})

t.test('nothing outside the data roots was touched, and the figures are reported', async (t) => {
  t.strictSame(
    readdirSync(parent).sort(),
    ['data-bodies', 'data-headers', 'data-routes', 'sentinel'],
    'the parent of the data roots lists the same names',
  )
  t.equal(
    digestTree(join(parent, 'sentinel')).text,
    sentinelBefore.text,
    'the sentinel directory next to the data roots is byte-identical',
  )
  for (const world of worlds)
    t.doesNotThrow(
      () => world.drain('after the fuzz'),
      `${world.dir}: every recorded filesystem path is inside the root`,
    )
  t.ok(figures.fsCallsChecked > 0, `${figures.fsCallsChecked} filesystem calls checked`)
  if (failed.length === 0)
    t.ok(
      figures.casesFuzzed >= RUNS.routes + RUNS.headers + RUNS.bodies,
      `${figures.casesFuzzed} cases fuzzed, at least one per run`,
    )
  t.ok(
    figures.answered4xx > 0 && figures.answered2xx > 0,
    `${figures.answered4xx} answered 4xx, ${figures.answered2xx} answered 2xx/304`,
  )
  // The figures count as survived only when every property and check held.
  if (t.passing() && failed.length === 0) reportFigures(t, 'fuzzing', { ...figures })
  else
    t.comment(
      `not reported as survived (${[...failed, ...(t.passing() ? [] : ['end checks'])].join(', ')} failed): ${JSON.stringify(figures)} (${MODE}, seed ${SEED})`,
    )
})
