/**
 * The OpenAPI document as a checklist. Every (method, path, status) it
 * declares is produced by a real request against a built app, with whatever
 * it takes (revs, a held lock, a lease run out on a ManualClock, a FaultyFs
 * for disk faults, credentials that are missing, wrong, over their rate or
 * unverifiable); each answer has exactly the declared status, and every
 * problem answer is application/problem+json with a code of the contract.
 * Then two coverage checks: the triples with a scenario are exactly the
 * triples of the document (a route or status added to the API without a
 * scenario here fails, naming it), and every error code was seen.
 *
 * LOCK and UNLOCK on …/terraform (Terraform's default methods) are in the
 * document's additionalOperations (OpenAPI 3.2) and are exercised like any
 * other operation.
 */
import { mkdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { keyFromEnv } from '../../src/crypto/keys.js'
import { Keyring } from '../../src/crypto/keyring.js'
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js'
import { STATUS, WWW_AUTHENTICATE } from '../../src/http/problems.js'
import { loadUiAssets } from '../../src/http/ui-assets.js'
import { UNOBIN_PAYLOAD } from '../../src/store/envelope.js'
import { LOCK_BODY_LIMIT } from '../../src/terraform/lock-info.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import {
  ManualTime,
  authFromText,
  bearer,
  deadUrl,
  lockInfo,
  newSigningKey,
  newToken,
  signIdToken,
  terraformState,
  tokensFileText,
} from '../helpers/auth.js'
import { ManualClock } from '../helpers/clock.js'
import { type FaultCode, FaultyFs, type FaultyMethod } from '../helpers/faulty-fs.js'
import { FIXTURE_KEY, makeRoot, sampleSnapshot } from '../helpers/store.js'

/**
 * Error codes no request can produce. Empty: every code of the contract is
 * answered by some request below (route-not-found and uri-too-long only
 * outside the declared responses: see ANSWERS_OUTSIDE_THE_DOCUMENT). A code
 * that becomes unreachable goes here with the reason; a code listed here that
 * a scenario produces fails the coverage test, so the list stays true.
 */
const CODES_NO_REQUEST_CAN_PRODUCE: ReadonlyMap<ErrorCode, string> = new Map()

type Response = LightMyRequestResponse
type Built = Awaited<ReturnType<typeof buildTestApp>>
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'LOCK' | 'UNLOCK'

/** One way to make a route answer one status. */
interface Scenario {
  /** What the request is, in words (shown in assertion messages). */
  readonly name: string
  /** The code a problem answer must carry. */
  readonly code?: ErrorCode
  /** Extra assertions on the answer. */
  readonly check?: (t: Test, res: Response) => void
  /** Sets up what it needs and sends the request; `t` owns anything built for it. */
  readonly run: (t: Test) => Promise<Response>
}

/** Scenarios by status, for one route. */
type StatusScenarios = Partial<Record<number, readonly Scenario[]>>

const sc = (name: string, code: ErrorCode | undefined, run: Scenario['run'], check?: Scenario['check']): Scenario => ({
  name,
  ...(code === undefined ? {} : { code }),
  run,
  ...(check === undefined ? {} : { check }),
})

// --- the apps -----------------------------------------------------------------

const BODY_LIMIT = 4096
const base = t.testdir()
let dirs = 0
/** A folder of its own under the file's testdir. */
async function newDir(label: string): Promise<string> {
  const dir = join(base, `${label}-${++dirs}`)
  await mkdir(dir, { recursive: true })
  return dir
}

/** The clock of `plain`: leases run out when the test says so. */
const clock = new ManualClock()
/** No credentials, a small body limit and a short wait cap. */
const plain = await buildTestApp(t, {
  dir: await newDir('plain'),
  clock,
  bodyLimitBytes: BODY_LIMIT,
  maxWaitSeconds: 0.05,
})
/** Every mutation needs a held lock. */
const strict = await buildTestApp(t, { dir: await newDir('strict'), requireLock: true })
/** Disk faults on demand; seals with a key and still opens noop envelopes, so a re-seal has work to do. */
const faultyFs = new FaultyFs()
const faulty = await buildTestApp(t, {
  dir: await newDir('faulty'),
  fs: faultyFs,
  encrypter: new Keyring(keyFromEnv({ UNOBIN_STATE_KEY: FIXTURE_KEY }, 'UNOBIN_STATE_KEY'), [], { openNoop: true }),
})

/** Credentials on; the stranger may only read another factory. */
const STRANGER = newToken()
const authed = await buildTestApp(t, {
  dir: await newDir('authed'),
  auth: authFromText(
    tokensFileText([{ name: 'stranger', token: STRANGER, grants: [{ scope: 'elsewhere/*', allow: ['read'] }] }]),
  ),
})

/** One failed authentication spends the whole allowance of the address, and its time never moves. */
const limited = await buildTestApp(t, {
  dir: await newDir('limited'),
  auth: authFromText(
    tokensFileText([{ name: 'someone', token: newToken(), grants: [{ scope: '*/*', allow: ['*'] }] }]),
    { rateLimit: { perMinute: 1, burst: 1 }, now: new ManualTime().now },
  ),
})
await expectSetup(
  limited.app.inject({ url: '/v1/factories', headers: bearer(newToken()) }),
  401,
  'spending the allowance of the address',
)

/** An OIDC issuer whose JWKS cannot be fetched (nothing listens there). */
const ISSUER = 'https://ci.example.test'
const AUDIENCE = 'https://state.example.test'
const oidc = await buildTestApp(t, {
  dir: await newDir('oidc'),
  auth: authFromText(
    tokensFileText(
      [],
      [
        {
          issuer: ISSUER,
          jwks: await deadUrl(),
          audience: AUDIENCE,
          cooldown: 0,
          rules: [{ match: { repository: 'acme/infra' }, grants: [{ scope: '*/*', allow: ['*'] }] }],
        },
      ],
    ),
  ),
})
const ID_TOKEN = await signIdToken(
  await newSigningKey('k1'),
  { sub: 'repo:acme/infra:ref:refs/heads/main', repository: 'acme/infra' },
  { issuer: ISSUER, audience: AUDIENCE },
)

/** One lock per caller, and the caller already holds one. */
const CI = newToken()
const capped = await buildTestApp(t, {
  dir: await newDir('capped'),
  auth: authFromText(tokensFileText([{ name: 'ci', token: CI, grants: [{ scope: '*/*', allow: ['*'] }] }]), {
    maxLocksPerCaller: 1,
  }),
})
await expectSetup(
  capped.app.inject({ method: 'POST', url: `${stackUrl('cov', 'held')}/lock`, headers: bearer(CI), payload: {} }),
  201,
  'taking the one lock ci may hold',
)

/** Serves a console build of one script (the page's routes do not depend on what it does). */
const consoleDir = await newDir('console')
await mkdir(join(consoleDir, 'assets'))
await writeFile(
  join(consoleDir, 'index.html'),
  '<!doctype html><script type="module" src="assets/app-ABCDEFGH.js"></script>',
)
await writeFile(join(consoleDir, 'assets', 'app-ABCDEFGH.js'), 'export {}')
const withConsole = await buildTestApp(t, { dir: await newDir('with-console'), ui: await loadUiAssets(consoleDir) })

/** Waits until `b` serves `n` event streams (they answer only when they end, so inject cannot tell). */
async function openStreams(b: Built, n: number): Promise<void> {
  const gauge = b.metrics.registry.getSingleMetric('unobin_state_event_streams')!
  const deadline = Date.now() + 10_000
  while (((await gauge.get()).values[0]?.value ?? 0) < n) {
    if (Date.now() > deadline) throw new Error(`${n} event streams never opened`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** A fresh app (closed with `t`) whose shutdown has begun or is about to. */
async function closingApp(t: Test): Promise<Built> {
  return buildTestApp(t, { dir: await newDir('closing'), maxWaitSeconds: 30 })
}

// --- stacks and requests --------------------------------------------------------

const JSON_TYPE = { 'content-type': 'application/json' }
const SOME_REV = '2026-07-10T12:00:00Z'

/** A stack no other scenario touches. */
interface Stack {
  readonly factory: string
  readonly stack: string
  readonly url: string
  /** Its directory in `b`'s data directory. */
  readonly dir: string
}

let stacks = 0
function fresh(b: Built): Stack {
  const stack = `s${++stacks}`
  return { factory: 'cov', stack, url: stackUrl('cov', stack), dir: join(b.dir, 'cov', stack) }
}

interface RequestOptions {
  /** A JSON body (sent with application/json). */
  readonly json?: unknown
  /** A body sent as is. */
  readonly raw?: string | Buffer
  readonly headers?: Record<string, string>
}

function send(b: Built, method: Method, url: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {
    ...(options.json !== undefined || options.raw !== undefined ? JSON_TYPE : {}),
    ...options.headers,
  }
  const payload = options.json !== undefined ? JSON.stringify(options.json) : options.raw
  return b.app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) })
}

/** Awaits a setup request and throws (failing the scenario) unless it answered `status`. */
async function expectSetup(pending: Promise<Response>, status: number, what: string): Promise<Response> {
  const res = await pending
  if (res.statusCode !== status)
    throw new Error(`setup step "${what}" answered ${res.statusCode}, not ${status}: ${res.body.slice(0, 300)}`)
  return res
}

let markers = 0
/** Writes a unobin snapshot through the API; returns its rev. */
async function writeRev(b: Built, s: Stack, options: { current?: boolean; lockId?: string } = {}): Promise<string> {
  const query = options.current === false ? '' : '?current=true'
  const res = await expectSetup(
    send(b, 'POST', `${s.url}/snapshots${query}`, {
      raw: sampleSnapshot(++markers),
      headers: options.lockId === undefined ? {} : { 'lock-id': options.lockId },
    }),
    201,
    'writing a rev',
  )
  return (res.json() as { rev: string }).rev
}

/** Writes a rev straight through the store (no fence): seeds the requireLock app. */
async function seedRev(b: Built, s: Stack): Promise<string> {
  return (
    await b.root
      .stack(s.factory, s.stack)
      .write(sampleSnapshot(++markers), { payloadType: UNOBIN_PAYLOAD, makeCurrent: true })
  ).rev
}

/** Takes the lock of a stack; returns its id. */
async function takeLock(b: Built, s: Stack, body: Record<string, unknown> = {}): Promise<string> {
  const res = await expectSetup(send(b, 'POST', `${s.url}/lock`, { json: body }), 201, 'taking the lock')
  return (res.json() as { id: string }).id
}

async function forceUnlock(b: Built, s: Stack): Promise<void> {
  await expectSetup(send(b, 'DELETE', `${s.url}/lock?force=true&reason=coverage`), 200, 'force-unlocking')
}

/** Writes Terraform state through the Terraform route. */
async function writeState(b: Built, s: Stack, serial = 1): Promise<void> {
  await expectSetup(
    send(b, 'POST', `${s.url}/terraform`, { raw: terraformState(serial) }),
    200,
    'writing Terraform state',
  )
}

/** Takes the lock the Terraform way (POST …/terraform/lock with a LockInfo). */
async function terraformLock(b: Built, s: Stack, id: string): Promise<void> {
  await expectSetup(
    send(b, 'POST', `${s.url}/terraform/lock`, { raw: lockInfo(id) }),
    200,
    'taking the lock with a LockInfo',
  )
}

let lockIds = 0
const newLockId = (): string => `0c0ffee0-0000-4000-8000-${String(++lockIds).padStart(12, '0')}`

/** Sends a request while `method` of the faulty filesystem fails with `code` under the stack's directory. */
async function withFault(
  s: Stack,
  method: FaultyMethod,
  code: FaultCode,
  request: () => Promise<Response>,
): Promise<Response> {
  faultyFs.failNth(method, 1, code, (path) => path === s.dir || path.startsWith(`${s.dir}/`))
  try {
    const res = await request()
    if (!faultyFs.fired)
      throw new Error(
        `the ${code} fault on ${method} under ${s.dir} was never injected (the request answered ${res.statusCode})`,
      )
    return res
  } finally {
    faultyFs.clear()
  }
}

/** A scenario that meets a disk fault: 507 no-space for ENOSPC, 500 storage-failure otherwise. */
function fault(
  name: string,
  method: FaultyMethod,
  code: FaultCode,
  prepare: (s: Stack) => Promise<() => Promise<Response>>,
): Scenario {
  return sc(
    `${name} while ${method} fails with ${code}`,
    code === 'ENOSPC' ? 'no-space' : 'storage-failure',
    async () => {
      const s = fresh(faulty)
      const request = await prepare(s)
      return withFault(s, method, code, request)
    },
  )
}

/** Asserts a LockInfo answer (the holder's, for Terraform's -lock-timeout retries). */
const isLockInfo =
  (holder?: () => string) =>
  (t: Test, res: Response): void => {
    const body = res.json() as { ID?: unknown }
    t.type(body.ID, 'string', 'the answer is a LockInfo')
    if (holder !== undefined) t.equal(body.ID, holder(), 'naming the holder')
  }

// --- scenarios shared by twin routes ------------------------------------------------

/** POST and PUT …/terraform (update_method POST or PUT). */
function terraformWrite(method: 'POST' | 'PUT'): StatusScenarios {
  const write = (
    b: Built,
    s: Stack,
    body: string,
    options: { query?: string; headers?: Record<string, string> } = {},
  ) =>
    send(b, method, `${s.url}/terraform${options.query ?? ''}`, {
      raw: body,
      ...(options.headers === undefined ? {} : { headers: options.headers }),
    })
  return {
    200: [sc('state over no state', undefined, async () => write(plain, fresh(plain), terraformState(1)))],
    400: [
      sc('state that is not JSON', 'malformed-json', async () => write(plain, fresh(plain), '{"serial":')),
      sc('a Content-MD5 that does not match the body', 'content-md5-mismatch', async () =>
        write(plain, fresh(plain), terraformState(1), { headers: { 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' } }),
      ),
    ],
    409: [
      sc('state of another lineage', 'state-conflict', async () => {
        const s = fresh(plain)
        await writeState(plain, s, 1)
        return write(plain, s, terraformState(2, '7b0c1e2a-0000-4000-8000-00000000beef'))
      }),
      sc('state over a unobin snapshot', 'payload-type-mismatch', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return write(plain, s, terraformState(1))
      }),
    ],
    413: [
      sc('state over the body limit', 'body-too-large', async () =>
        write(
          plain,
          fresh(plain),
          terraformState(1).replace('"outputs": {}', `"outputs": {"pad": "${'x'.repeat(BODY_LIMIT)}"}`),
        ),
      ),
    ],
    423: [
      sc('a write without ?ID while Terraform holds the lock', 'locked', async () => {
        const s = fresh(plain)
        await terraformLock(plain, s, newLockId())
        return write(plain, s, terraformState(1))
      }),
      sc('a write with the ?ID of a lock that was force-unlocked', 'lock-lost', async () => {
        const s = fresh(plain)
        const id = newLockId()
        await terraformLock(plain, s, id)
        await forceUnlock(plain, s)
        return write(plain, s, terraformState(1), { query: `?ID=${id}` })
      }),
    ],
    428: [
      sc('a write without a lock when every mutation needs one', 'lock-required', async () =>
        write(strict, fresh(strict), terraformState(1)),
      ),
    ],
    500: [fault('a write', 'writeFile', 'EIO', async (s) => () => write(faulty, s, terraformState(1)))],
    507: [fault('a write', 'writeFile', 'ENOSPC', async (s) => () => write(faulty, s, terraformState(1)))],
  }
}

/** POST …/terraform/lock and LOCK …/terraform. */
function terraformLockRoute(method: 'POST' | 'LOCK', urlOf: (s: Stack) => string): StatusScenarios {
  let holder = ''
  return {
    200: [
      sc(
        'a LockInfo on a free stack',
        undefined,
        async () => send(plain, method, urlOf(fresh(plain)), { raw: lockInfo(newLockId()) }),
        isLockInfo(),
      ),
    ],
    400: [
      sc('a body that is not a LockInfo object', 'invalid-request', async () =>
        send(plain, method, urlOf(fresh(plain)), { raw: '[]' }),
      ),
      sc('a body that is not JSON', 'malformed-json', async () =>
        send(plain, method, urlOf(fresh(plain)), { raw: '{"ID":' }),
      ),
    ],
    409: [
      sc('a LockInfo whose ID held the stack before', 'lock-id-reused', async () => {
        const s = fresh(plain)
        const id = newLockId()
        await terraformLock(plain, s, id)
        await expectSetup(
          send(plain, 'DELETE', `${s.url}/terraform/lock`, { raw: lockInfo(id) }),
          200,
          'releasing the lock',
        )
        return send(plain, method, urlOf(s), { raw: lockInfo(id) })
      }),
    ],
    423: [
      sc(
        'a LockInfo while another ID holds the lock',
        undefined,
        async () => {
          const s = fresh(plain)
          holder = newLockId()
          await terraformLock(plain, s, holder)
          return send(plain, method, urlOf(s), { raw: lockInfo(newLockId()) })
        },
        isLockInfo(() => holder),
      ),
    ],
    413: [
      sc('a LockInfo over the lock body limit', 'body-too-large', async () =>
        send(plain, method, urlOf(fresh(plain)), { raw: `"${'x'.repeat(LOCK_BODY_LIMIT)}"` }),
      ),
    ],
    429: [
      sc('a caller at its lock cap', 'too-many-locks', async () =>
        send(capped, method, urlOf(fresh(capped)), { raw: lockInfo(newLockId()), headers: bearer(CI) }),
      ),
    ],
    500: [
      fault(
        'taking the lock',
        'writeFile',
        'EIO',
        async (s) => () => send(faulty, method, urlOf(s), { raw: lockInfo(newLockId()) }),
      ),
    ],
    507: [
      fault(
        'taking the lock',
        'writeFile',
        'ENOSPC',
        async (s) => () => send(faulty, method, urlOf(s), { raw: lockInfo(newLockId()) }),
      ),
    ],
  }
}

/** DELETE …/terraform/lock and UNLOCK …/terraform. */
function terraformUnlockRoute(method: 'DELETE' | 'UNLOCK', urlOf: (s: Stack) => string): StatusScenarios {
  let holder = ''
  return {
    200: [
      sc('the LockInfo that took the lock', undefined, async () => {
        const s = fresh(plain)
        const id = newLockId()
        await terraformLock(plain, s, id)
        return send(plain, method, urlOf(s), { raw: lockInfo(id) })
      }),
    ],
    400: [
      sc('a body that is not JSON', 'malformed-json', async () =>
        send(plain, method, urlOf(fresh(plain)), { raw: '{"ID":' }),
      ),
    ],
    413: [
      sc('a LockInfo over the lock body limit', 'body-too-large', async () =>
        send(plain, method, urlOf(fresh(plain)), { raw: `"${'x'.repeat(LOCK_BODY_LIMIT)}"` }),
      ),
    ],
    409: [
      sc('a LockInfo that never held the free stack', 'lock-not-held', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, method, urlOf(s), { raw: lockInfo(newLockId()) })
      }),
    ],
    423: [
      sc(
        'a LockInfo of another ID while the lock is held',
        undefined,
        async () => {
          const s = fresh(plain)
          holder = newLockId()
          await terraformLock(plain, s, holder)
          return send(plain, method, urlOf(s), { raw: lockInfo(newLockId()) })
        },
        isLockInfo(() => holder),
      ),
    ],
    500: [
      fault('releasing the lock', 'rename', 'EIO', async (s) => {
        const id = newLockId()
        await terraformLock(faulty, s, id)
        return () => send(faulty, method, urlOf(s), { raw: lockInfo(id) })
      }),
    ],
    507: [
      fault('a force-unlock (empty body) recording the release', 'writeFile', 'ENOSPC', async (s) => {
        await terraformLock(faulty, s, newLockId())
        return () => send(faulty, method, urlOf(s), { raw: '' })
      }),
    ],
  }
}

// --- scenarios by route ---------------------------------------------------------------

const STACK = '/v1/factories/{factory}/stacks/{stack}'

const SCENARIOS: Readonly<Record<string, StatusScenarios>> = {
  'GET /metrics': {
    200: [
      sc(
        'a scrape',
        undefined,
        async () => send(plain, 'GET', '/metrics'),
        (t, res) => t.match(String(res.headers['content-type']), /^text\/plain/, 'Prometheus text'),
      ),
    ],
  },
  'GET /openapi.yaml': {
    200: [
      sc(
        'a read of the document',
        undefined,
        async () => send(plain, 'GET', '/openapi.yaml'),
        (t, res) => t.match(String(res.headers['content-type']), /yaml/, 'YAML'),
      ),
    ],
  },
  'GET /openapi.json': {
    200: [
      sc(
        'a read of the document',
        undefined,
        async () => send(plain, 'GET', '/openapi.json'),
        (t, res) => t.type((res.json() as { paths?: unknown }).paths, 'object', 'the document'),
      ),
    ],
  },
  'GET /': {
    302: [
      sc(
        "a visit of the server's root",
        undefined,
        async () => send(withConsole, 'GET', '/'),
        (t, res) => t.equal(res.headers.location, '/ui/'),
      ),
    ],
  },
  'GET /ui/': {
    200: [
      sc(
        'a visit of the console',
        undefined,
        async () => send(withConsole, 'GET', '/ui/'),
        (t, res) => t.match(String(res.headers['content-security-policy']), /script-src 'self'/),
      ),
    ],
    304: [
      sc("If-None-Match with the page's ETag", undefined, async () => {
        const page = await expectSetup(send(withConsole, 'GET', '/ui/'), 200, 'reading the page')
        return send(withConsole, 'GET', '/ui/', { headers: { 'if-none-match': String(page.headers.etag) } })
      }),
    ],
    404: [sc('a server built without the console', 'console-not-built', async () => send(plain, 'GET', '/ui/'))],
  },
  'GET /ui/assets/{file}': {
    200: [
      sc(
        "the page's script",
        undefined,
        async () => send(withConsole, 'GET', '/ui/assets/app-ABCDEFGH.js'),
        (t, res) => t.match(String(res.headers['cache-control']), /immutable/),
      ),
    ],
    304: [
      sc("If-None-Match with the script's ETag", undefined, async () => {
        const asset = await expectSetup(
          send(withConsole, 'GET', '/ui/assets/app-ABCDEFGH.js'),
          200,
          'reading the script',
        )
        return send(withConsole, 'GET', '/ui/assets/app-ABCDEFGH.js', {
          headers: { 'if-none-match': String(asset.headers.etag) },
        })
      }),
    ],
    400: [
      sc('a file name with a percent-encoded slash', 'invalid-name', async () =>
        send(withConsole, 'GET', '/ui/assets/..%2findex.html'),
      ),
    ],
    404: [
      sc('a script of an older build', 'asset-not-found', async () =>
        send(withConsole, 'GET', '/ui/assets/app-OLDBUILD.js'),
      ),
    ],
    414: [
      sc('a file name longer than the router accepts', 'uri-too-long', async () =>
        send(withConsole, 'GET', `/ui/assets/${'a'.repeat(300)}.js`),
      ),
    ],
  },
  'GET /healthz': {
    200: [sc('a probe', undefined, async () => send(plain, 'GET', '/healthz'))],
  },
  'GET /readyz': {
    200: [
      sc(
        'a probe of a writable data directory',
        undefined,
        async () => send(plain, 'GET', '/readyz'),
        (t, res) => t.equal((res.json() as { status: string }).status, 'ready'),
      ),
    ],
    503: [
      sc(
        'a probe once shutdown has begun',
        undefined,
        async (t) => {
          const b = await closingApp(t)
          b.beginShutdown()
          return send(b, 'GET', '/readyz')
        },
        (t, res) => t.equal((res.json() as { status: string }).status, 'unavailable'),
      ),
    ],
  },
  'GET /v1/factories': {
    200: [sc('a listing', undefined, async () => send(plain, 'GET', '/v1/factories'))],
    400: [sc('limit=0', 'invalid-request', async () => send(plain, 'GET', '/v1/factories?limit=0'))],
  },
  'GET /v1/factories/{factory}/stacks': {
    200: [
      sc('a factory with a stack', undefined, async () => {
        await writeRev(plain, fresh(plain))
        return send(plain, 'GET', '/v1/factories/cov/stacks')
      }),
    ],
    404: [
      sc('a factory without stacks', 'factory-not-found', async () =>
        send(plain, 'GET', '/v1/factories/no-such-factory/stacks'),
      ),
    ],
  },

  [`GET ${STACK}/current`]: {
    200: [
      sc('a stack with a current rev', undefined, async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'GET', `${s.url}/current`)
      }),
    ],
    304: [
      sc(
        'If-None-Match with the current rev',
        undefined,
        async () => {
          const s = fresh(plain)
          const rev = await writeRev(plain, s)
          return send(plain, 'GET', `${s.url}/current`, { headers: { 'if-none-match': `"${rev}"` } })
        },
        (t, res) => t.equal(res.body, '', 'no body'),
      ),
    ],
    404: [sc('a stack without current', 'no-current', async () => send(plain, 'GET', `${fresh(plain).url}/current`))],
    500: [
      sc('current names a rev whose file is gone', 'dangling-current', async () => {
        const s = fresh(plain)
        const rev = await writeRev(plain, s)
        await unlink(join(s.dir, 'snapshots', `${rev}.json.enc`))
        return send(plain, 'GET', `${s.url}/current`)
      }),
      sc('current holds garbage', 'unreadable-snapshot', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        await writeFile(join(s.dir, 'current'), 'not a rev\n')
        return send(plain, 'GET', `${s.url}/current`)
      }),
    ],
  },

  [`PUT ${STACK}/current`]: {
    200: [
      sc('a rollback to an older rev', undefined, async () => {
        const s = fresh(plain)
        const older = await writeRev(plain, s)
        await writeRev(plain, s)
        return send(plain, 'PUT', `${s.url}/current`, { json: { rev: older } })
      }),
    ],
    400: [
      sc('a body that is not JSON', 'malformed-json', async () =>
        send(plain, 'PUT', `${fresh(plain).url}/current`, { raw: '{"rev":' }),
      ),
    ],
    404: [
      sc('a rev that is not stored', 'rev-not-found', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'PUT', `${s.url}/current`, { json: { rev: '2020-01-01T00:00:00Z' } })
      }),
    ],
    409: [
      sc('a Lock-Id on a stack nobody locked', 'lock-not-held', async () => {
        const s = fresh(plain)
        const rev = await writeRev(plain, s)
        return send(plain, 'PUT', `${s.url}/current`, { json: { rev }, headers: { 'lock-id': 'not-a-lock' } })
      }),
    ],
    412: [
      sc('a stale If-Match', 'current-mismatch', async () => {
        const s = fresh(plain)
        const rev = await writeRev(plain, s)
        return send(plain, 'PUT', `${s.url}/current`, {
          json: { rev },
          headers: { 'if-match': '"2020-01-01T00:00:00Z"' },
        })
      }),
    ],
    415: [
      sc('a form-encoded body', 'unsupported-media-type', async () =>
        send(plain, 'PUT', `${fresh(plain).url}/current`, {
          raw: `rev=${SOME_REV}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      ),
    ],
    423: [
      sc('no Lock-Id while the stack is locked', 'locked', async () => {
        const s = fresh(plain)
        const rev = await writeRev(plain, s)
        await takeLock(plain, s)
        return send(plain, 'PUT', `${s.url}/current`, { json: { rev } })
      }),
    ],
    428: [
      sc('no lock when every mutation needs one', 'lock-required', async () => {
        const s = fresh(strict)
        const rev = await seedRev(strict, s)
        return send(strict, 'PUT', `${s.url}/current`, { json: { rev } })
      }),
    ],
    500: [
      fault('a rollback', 'writeFile', 'EIO', async (s) => {
        const rev = await writeRev(faulty, s)
        return () => send(faulty, 'PUT', `${s.url}/current`, { json: { rev } })
      }),
    ],
    507: [
      fault('a rollback', 'writeFile', 'ENOSPC', async (s) => {
        const rev = await writeRev(faulty, s)
        return () => send(faulty, 'PUT', `${s.url}/current`, { json: { rev } })
      }),
    ],
  },

  [`POST ${STACK}/snapshots`]: {
    201: [
      sc(
        'a valid snapshot',
        undefined,
        async () => send(plain, 'POST', `${fresh(plain).url}/snapshots`, { raw: sampleSnapshot(1) }),
        (t, res) => t.ok(res.headers.location, 'with a Location'),
      ),
    ],
    400: [
      sc('a body that is not JSON', 'malformed-json', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots`, { raw: '{"format-version":' }),
      ),
      sc('an unknown query parameter', 'invalid-request', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots?currnet=true`, { raw: sampleSnapshot(1) }),
      ),
    ],
    409: [
      sc('a Lock-Id on a stack nobody locked', 'lock-not-held', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots`, {
          raw: sampleSnapshot(1),
          headers: { 'lock-id': 'not-a-lock' },
        }),
      ),
    ],
    413: [
      sc('a snapshot over the body limit', 'body-too-large', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots`, { raw: Buffer.alloc(BODY_LIMIT + 1, 0x20) }),
      ),
    ],
    415: [
      sc('a Content-Type that is not a media type', 'unsupported-media-type', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots`, {
          raw: sampleSnapshot(1),
          headers: { 'content-type': 'snapshot' },
        }),
      ),
    ],
    422: [
      sc('a JSON array instead of a snapshot', 'invalid-snapshot', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots`, { raw: '[]' }),
      ),
    ],
    423: [
      sc('no Lock-Id while the stack is locked', 'locked', async () => {
        const s = fresh(plain)
        await takeLock(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots`, { raw: sampleSnapshot(1) })
      }),
      sc('the Lock-Id of a lock that was force-unlocked', 'lock-lost', async () => {
        const s = fresh(plain)
        const id = await takeLock(plain, s)
        await forceUnlock(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots`, { raw: sampleSnapshot(1), headers: { 'lock-id': id } })
      }),
    ],
    428: [
      sc('no lock when every mutation needs one', 'lock-required', async () =>
        send(strict, 'POST', `${fresh(strict).url}/snapshots`, { raw: sampleSnapshot(1) }),
      ),
    ],
    500: [
      fault(
        'a write',
        'writeFile',
        'EIO',
        async (s) => () => send(faulty, 'POST', `${s.url}/snapshots`, { raw: sampleSnapshot(1) }),
      ),
    ],
    507: [
      fault(
        'a write',
        'writeFile',
        'ENOSPC',
        async (s) => () => send(faulty, 'POST', `${s.url}/snapshots`, { raw: sampleSnapshot(1) }),
      ),
    ],
  },

  [`GET ${STACK}/snapshots`]: {
    200: [
      sc('a stack with revs', undefined, async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'GET', `${s.url}/snapshots`)
      }),
      sc('with detail, newest first', undefined, async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'GET', `${s.url}/snapshots?detail=true&order=desc`)
      }),
    ],
    400: [sc('limit=0', 'invalid-request', async () => send(plain, 'GET', `${fresh(plain).url}/snapshots?limit=0`))],
    500: [
      sc('current holds garbage', 'unreadable-snapshot', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        await writeFile(join(s.dir, 'current'), 'not a rev\n')
        return send(plain, 'GET', `${s.url}/snapshots`)
      }),
      ((): Scenario => {
        let retried = 0
        return sc(
          'the snapshots directory was removed under the running server',
          'storage-failure',
          async () => {
            const s = fresh(plain)
            await writeRev(plain, s)
            await rm(join(s.dir, 'snapshots'), { recursive: true })
            const res = await send(plain, 'GET', `${s.url}/snapshots`)
            retried = (await send(plain, 'GET', `${s.url}/snapshots`)).statusCode
            return res
          },
          (t, res) => {
            t.match(res.json<{ detail: string }>().detail, /disappeared.*ENOENT/, 'saying what happened')
            t.equal(
              retried,
              200,
              'and the stack is looked at afresh by the next request (an empty history, not a stuck stack)',
            )
          },
        )
      })(),
      // `internal` is for errors nobody classified: a programming error, here a TypeError from the filesystem layer.
      sc('the filesystem layer throws a plain TypeError (a bug)', 'internal', async () => {
        const s = fresh(faulty)
        await writeRev(faulty, s)
        return withFault(s, 'readdir', 'BUG', () => send(faulty, 'GET', `${s.url}/snapshots`))
      }),
    ],
  },

  [`GET ${STACK}/snapshots/{rev}`]: {
    200: [
      sc('a stored rev', undefined, async () => {
        const s = fresh(plain)
        const rev = await writeRev(plain, s)
        return send(plain, 'GET', `${s.url}/snapshots/${rev}`)
      }),
    ],
    304: [
      sc(
        'If-None-Match with the rev',
        undefined,
        async () => {
          const s = fresh(plain)
          const rev = await writeRev(plain, s)
          return send(plain, 'GET', `${s.url}/snapshots/${rev}`, { headers: { 'if-none-match': `"${rev}"` } })
        },
        (t, res) => t.equal(res.body, '', 'no body'),
      ),
    ],
    400: [
      sc('a rev with a trailing zero in its fraction', 'invalid-rev', async () =>
        send(plain, 'GET', `${fresh(plain).url}/snapshots/2026-07-10T12:00:00.10Z`),
      ),
    ],
    404: [
      sc('a rev that is not stored', 'rev-not-found', async () =>
        send(plain, 'GET', `${fresh(plain).url}/snapshots/${SOME_REV}`),
      ),
    ],
    500: [
      sc('a truncated rev', 'unreadable-snapshot', async () => {
        const s = fresh(plain)
        const rev = await writeRev(plain, s)
        const path = join(s.dir, 'snapshots', `${rev}.json.enc`)
        const bytes = await readFile(path)
        await writeFile(path, bytes.subarray(0, bytes.length >> 1))
        return send(plain, 'GET', `${s.url}/snapshots/${rev}`)
      }),
    ],
  },

  [`DELETE ${STACK}/snapshots/{rev}`]: {
    200: [
      sc('an older rev', undefined, async () => {
        const s = fresh(plain)
        const older = await writeRev(plain, s)
        await writeRev(plain, s)
        return send(plain, 'DELETE', `${s.url}/snapshots/${older}`)
      }),
    ],
    400: [
      sc('a rev with an offset instead of Z', 'invalid-rev', async () =>
        send(plain, 'DELETE', `${fresh(plain).url}/snapshots/2026-07-10T12:00:00+00:00`),
      ),
    ],
    409: [
      sc('the current rev without force', 'rev-is-current', async () => {
        const s = fresh(plain)
        const rev = await writeRev(plain, s)
        return send(plain, 'DELETE', `${s.url}/snapshots/${rev}`)
      }),
    ],
    423: [
      sc('no Lock-Id while the stack is locked', 'locked', async () => {
        const s = fresh(plain)
        const older = await writeRev(plain, s)
        await writeRev(plain, s)
        await takeLock(plain, s)
        return send(plain, 'DELETE', `${s.url}/snapshots/${older}`)
      }),
    ],
    428: [
      sc('no lock when every mutation needs one', 'lock-required', async () => {
        const s = fresh(strict)
        await seedRev(strict, s)
        return send(strict, 'DELETE', `${s.url}/snapshots/${SOME_REV}`)
      }),
    ],
    500: [
      fault('a delete', 'rename', 'EIO', async (s) => {
        const older = await writeRev(faulty, s)
        await writeRev(faulty, s)
        return () => send(faulty, 'DELETE', `${s.url}/snapshots/${older}`)
      }),
    ],
    507: [
      fault('a delete', 'sync', 'ENOSPC', async (s) => {
        const older = await writeRev(faulty, s)
        await writeRev(faulty, s)
        return () => send(faulty, 'DELETE', `${s.url}/snapshots/${older}`)
      }),
    ],
  },

  [`POST ${STACK}/snapshots:gc`]: {
    200: [
      sc('keep 0', undefined, async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        await writeRev(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:gc`, { json: { keep: 0 } })
      }),
    ],
    400: [
      sc('a body without keep', 'invalid-request', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots:gc`, { json: {} }),
      ),
    ],
    415: [
      sc('an XML body', 'unsupported-media-type', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots:gc`, {
          raw: '<keep>0</keep>',
          headers: { 'content-type': 'application/xml' },
        }),
      ),
    ],
    423: [
      sc('no Lock-Id while the stack is locked', 'locked', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        await takeLock(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:gc`, { json: { keep: 0 } })
      }),
    ],
    428: [
      sc('no lock when every mutation needs one', 'lock-required', async () => {
        const s = fresh(strict)
        await seedRev(strict, s)
        return send(strict, 'POST', `${s.url}/snapshots:gc`, { json: { keep: 0 } })
      }),
    ],
    500: [
      fault('a gc', 'rename', 'EIO', async (s) => {
        await writeRev(faulty, s)
        await writeRev(faulty, s)
        return () => send(faulty, 'POST', `${s.url}/snapshots:gc`, { json: { keep: 0 } })
      }),
    ],
    507: [
      fault('a gc', 'sync', 'ENOSPC', async (s) => {
        await writeRev(faulty, s)
        await writeRev(faulty, s)
        return () => send(faulty, 'POST', `${s.url}/snapshots:gc`, { json: { keep: 0 } })
      }),
    ],
  },

  [`GET ${STACK}/lock`]: {
    200: [
      sc('a held lock', undefined, async () => {
        const s = fresh(plain)
        await takeLock(plain, s)
        return send(plain, 'GET', `${s.url}/lock`)
      }),
    ],
    404: [sc('a free stack', 'not-locked', async () => send(plain, 'GET', `${fresh(plain).url}/lock`))],
    500: [
      sc('a stack directory that is a symlink', 'unsafe-path', async () => {
        const s = fresh(plain)
        await mkdir(join(plain.dir, s.factory), { recursive: true })
        await symlink(await newDir('symlink-target'), s.dir)
        return send(plain, 'GET', `${s.url}/lock`)
      }),
    ],
  },

  [`POST ${STACK}/lock`]: {
    201: [
      sc('a free stack', undefined, async () =>
        send(plain, 'POST', `${fresh(plain).url}/lock`, { json: { who: 'coverage' } }),
      ),
    ],
    400: [
      sc('a body that is not JSON', 'malformed-json', async () =>
        send(plain, 'POST', `${fresh(plain).url}/lock`, { raw: '{"who":' }),
      ),
    ],
    415: [
      sc('a text/plain body', 'unsupported-media-type', async () =>
        send(plain, 'POST', `${fresh(plain).url}/lock`, { raw: 'who=me', headers: { 'content-type': 'text/plain' } }),
      ),
    ],
    423: [
      sc('a held lock', 'locked', async () => {
        const s = fresh(plain)
        await takeLock(plain, s)
        return send(plain, 'POST', `${s.url}/lock`, { json: {} })
      }),
      sc('a lock that stays held for the whole wait', 'wait-timeout', async () => {
        const s = fresh(plain)
        await takeLock(plain, s)
        const waiting = send(plain, 'POST', `${s.url}/lock?wait=1`, { json: {} })
        // The wait reads the app's ManualClock: once the waiter is queued, move the clock past the capped wait.
        const store = plain.root.stack(s.factory, s.stack)
        for (let i = 0; i < 1000 && store.waiting === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
        clock.advanceMs(1000)
        return waiting
      }),
    ],
    429: [
      sc('a caller at its lock cap', 'too-many-locks', async () =>
        send(capped, 'POST', `${fresh(capped).url}/lock`, { json: {}, headers: bearer(CI) }),
      ),
    ],
    500: [
      fault(
        'taking the lock',
        'writeFile',
        'EIO',
        async (s) => () => send(faulty, 'POST', `${s.url}/lock`, { json: {} }),
      ),
    ],
    503: [
      sc(
        'a waiter when shutdown begins',
        'shutting-down',
        async (t) => {
          const b = await closingApp(t)
          const s = fresh(b)
          await takeLock(b, s)
          const waiting = send(b, 'POST', `${s.url}/lock?wait=30`, { json: {} })
          const store = b.root.stack(s.factory, s.stack)
          for (let i = 0; i < 1000 && store.waiting === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
          b.beginShutdown()
          return waiting
        },
        (t, res) => t.ok(res.headers['retry-after'], 'with Retry-After'),
      ),
    ],
    507: [
      fault(
        'taking the lock',
        'writeFile',
        'ENOSPC',
        async (s) => () => send(faulty, 'POST', `${s.url}/lock`, { json: {} }),
      ),
    ],
  },

  [`PUT ${STACK}/lock`]: {
    200: [
      sc('a renewal by the holder', undefined, async () => {
        const s = fresh(plain)
        const id = await takeLock(plain, s)
        return send(plain, 'PUT', `${s.url}/lock`, { json: { id } })
      }),
    ],
    400: [
      sc('no lock id', 'invalid-request', async () => send(plain, 'PUT', `${fresh(plain).url}/lock`, { json: {} })),
    ],
    409: [
      sc('an id that never held the free stack', 'lock-not-held', async () =>
        send(plain, 'PUT', `${fresh(plain).url}/lock`, { json: { id: 'not-a-lock' } }),
      ),
    ],
    415: [
      sc('a text/plain body', 'unsupported-media-type', async () =>
        send(plain, 'PUT', `${fresh(plain).url}/lock`, { raw: 'id=x', headers: { 'content-type': 'text/plain' } }),
      ),
    ],
    423: [
      sc('another id while the lock is held', 'locked', async () => {
        const s = fresh(plain)
        await takeLock(plain, s)
        return send(plain, 'PUT', `${s.url}/lock`, { json: { id: 'not-the-holder' } })
      }),
      sc('the holder after its lease ran out', 'lock-lost', async () => {
        const s = fresh(plain)
        const id = await takeLock(plain, s, { ttl: 60 })
        clock.advanceMs(61_000)
        return send(plain, 'PUT', `${s.url}/lock`, { json: { id } })
      }),
    ],
    500: [
      fault('a renewal', 'writeFile', 'EIO', async (s) => {
        const id = await takeLock(faulty, s)
        return () => send(faulty, 'PUT', `${s.url}/lock`, { json: { id, ttl: 60 } })
      }),
    ],
    507: [
      fault('a renewal', 'writeFile', 'ENOSPC', async (s) => {
        const id = await takeLock(faulty, s)
        return () => send(faulty, 'PUT', `${s.url}/lock`, { json: { id, ttl: 60 } })
      }),
    ],
  },

  [`DELETE ${STACK}/lock`]: {
    200: [
      sc('an unlock by the holder', undefined, async () => {
        const s = fresh(plain)
        const id = await takeLock(plain, s)
        return send(plain, 'DELETE', `${s.url}/lock?id=${id}`)
      }),
    ],
    400: [
      sc('neither an id nor force', 'invalid-request', async () => send(plain, 'DELETE', `${fresh(plain).url}/lock`)),
    ],
    409: [
      sc('an id that never held the free stack', 'lock-not-held', async () =>
        send(plain, 'DELETE', `${fresh(plain).url}/lock?id=not-a-lock`),
      ),
    ],
    423: [
      sc('another id while the lock is held', 'locked', async () => {
        const s = fresh(plain)
        await takeLock(plain, s)
        return send(plain, 'DELETE', `${s.url}/lock?id=not-the-holder`)
      }),
      sc('the id of a lock that was force-unlocked', 'lock-lost', async () => {
        const s = fresh(plain)
        const id = await takeLock(plain, s)
        await forceUnlock(plain, s)
        return send(plain, 'DELETE', `${s.url}/lock?id=${id}`)
      }),
    ],
    500: [
      fault('an unlock', 'rename', 'EIO', async (s) => {
        const id = await takeLock(faulty, s)
        return () => send(faulty, 'DELETE', `${s.url}/lock?id=${id}`)
      }),
    ],
    507: [
      fault('a force-unlock recording the release', 'writeFile', 'ENOSPC', async (s) => {
        await takeLock(faulty, s)
        return () => send(faulty, 'DELETE', `${s.url}/lock?force=true&reason=coverage`)
      }),
    ],
  },

  [`GET ${STACK}/terraform`]: {
    200: [
      sc('a stack with Terraform state', undefined, async () => {
        const s = fresh(plain)
        await writeState(plain, s)
        return send(plain, 'GET', `${s.url}/terraform`)
      }),
    ],
    204: [
      sc(
        'a stack without state',
        undefined,
        async () => send(plain, 'GET', `${fresh(plain).url}/terraform`),
        (t, res) => t.equal(res.body, '', 'no body'),
      ),
    ],
    400: [
      sc('a Content-MD5 that does not match the empty body', 'content-md5-mismatch', async () =>
        send(plain, 'GET', `${fresh(plain).url}/terraform`, { headers: { 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' } }),
      ),
    ],
    409: [
      sc('a stack holding a unobin snapshot', 'payload-type-mismatch', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'GET', `${s.url}/terraform`)
      }),
    ],
    500: [
      sc('current holds garbage', 'unreadable-snapshot', async () => {
        const s = fresh(plain)
        await writeState(plain, s)
        await writeFile(join(s.dir, 'current'), 'not a rev\n')
        return send(plain, 'GET', `${s.url}/terraform`)
      }),
    ],
  },
  [`POST ${STACK}/terraform`]: terraformWrite('POST'),
  [`PUT ${STACK}/terraform`]: terraformWrite('PUT'),
  [`DELETE ${STACK}/terraform`]: {
    200: [
      sc('a stack with state', undefined, async () => {
        const s = fresh(plain)
        await writeState(plain, s)
        return send(plain, 'DELETE', `${s.url}/terraform`)
      }),
    ],
    400: [
      sc('a Content-MD5 that does not match the empty body', 'content-md5-mismatch', async () =>
        send(plain, 'DELETE', `${fresh(plain).url}/terraform`, {
          headers: { 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' },
        }),
      ),
    ],
    423: [
      sc('a delete while Terraform holds the lock', 'locked', async () => {
        const s = fresh(plain)
        await writeState(plain, s)
        await terraformLock(plain, s, newLockId())
        return send(plain, 'DELETE', `${s.url}/terraform`)
      }),
    ],
    428: [
      sc('no lock when every mutation needs one', 'lock-required', async () => {
        const s = fresh(strict)
        await seedRev(strict, s)
        return send(strict, 'DELETE', `${s.url}/terraform`)
      }),
    ],
    500: [
      fault('clearing current', 'rename', 'EIO', async (s) => {
        await writeState(faulty, s)
        return () => send(faulty, 'DELETE', `${s.url}/terraform`)
      }),
    ],
    507: [
      fault('clearing current', 'sync', 'ENOSPC', async (s) => {
        await writeState(faulty, s)
        return () => send(faulty, 'DELETE', `${s.url}/terraform`)
      }),
    ],
  },
  [`POST ${STACK}/terraform/lock`]: terraformLockRoute('POST', (s) => `${s.url}/terraform/lock`),
  [`DELETE ${STACK}/terraform/lock`]: terraformUnlockRoute('DELETE', (s) => `${s.url}/terraform/lock`),
  [`LOCK ${STACK}/terraform`]: terraformLockRoute('LOCK', (s) => `${s.url}/terraform`),
  [`UNLOCK ${STACK}/terraform`]: terraformUnlockRoute('UNLOCK', (s) => `${s.url}/terraform`),

  [`POST ${STACK}/snapshots:prune`]: {
    200: [
      sc('keep 0 over three revs', undefined, async () => {
        const s = fresh(plain)
        for (let i = 0; i < 3; i++) await writeRev(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } })
      }),
    ],
    400: [
      sc('no rules on a server without a policy', 'invalid-request', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:prune`, { json: {} })
      }),
    ],
    415: [
      sc('a text/plain body', 'unsupported-media-type', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots:prune`, {
          raw: 'keep=0',
          headers: { 'content-type': 'text/plain' },
        }),
      ),
    ],
    423: [
      sc('no Lock-Id while the stack is locked', 'locked', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        await takeLock(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } })
      }),
    ],
    428: [
      sc('no lock when every mutation needs one', 'lock-required', async () => {
        const s = fresh(strict)
        await seedRev(strict, s)
        return send(strict, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } })
      }),
    ],
    500: [
      fault('moving a rev to the trash', 'rename', 'EIO', async (s) => {
        for (let i = 0; i < 3; i++) await writeRev(faulty, s)
        return () => send(faulty, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } })
      }),
    ],
    507: [
      fault('creating the trash', 'mkdir', 'ENOSPC', async (s) => {
        for (let i = 0; i < 3; i++) await writeRev(faulty, s)
        return () => send(faulty, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } })
      }),
    ],
  },

  [`GET ${STACK}/trash`]: {
    200: [
      sc('a stack with a pruned rev', undefined, async () => {
        const s = fresh(plain)
        for (let i = 0; i < 3; i++) await writeRev(plain, s)
        await expectSetup(send(plain, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } }), 200, 'pruning')
        return send(plain, 'GET', `${s.url}/trash`)
      }),
    ],
    500: [
      sc('a trash that is a symlink', 'unsafe-path', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        await symlink(await newDir('symlink-target'), join(s.dir, '.trash'))
        return send(plain, 'GET', `${s.url}/trash`)
      }),
    ],
  },

  [`POST ${STACK}/snapshots:restore`]: {
    200: [
      sc('a pruned rev', undefined, async () => {
        const s = fresh(plain)
        const oldest = await writeRev(plain, s)
        for (let i = 0; i < 2; i++) await writeRev(plain, s)
        await expectSetup(send(plain, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } }), 200, 'pruning')
        return send(plain, 'POST', `${s.url}/snapshots:restore`, { json: { rev: oldest } })
      }),
    ],
    400: [
      sc('a rev that is not a rev', 'invalid-request', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots:restore`, { json: { rev: '../current' } }),
      ),
    ],
    404: [
      sc('a rev the trash does not hold', 'rev-not-found', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:restore`, { json: { rev: SOME_REV } })
      }),
    ],
    415: [
      sc('a text/plain body', 'unsupported-media-type', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots:restore`, {
          raw: `rev=${SOME_REV}`,
          headers: { 'content-type': 'text/plain' },
        }),
      ),
    ],
    423: [
      sc('no Lock-Id while the stack is locked', 'locked', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        await takeLock(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:restore`, { json: { rev: SOME_REV } })
      }),
    ],
    428: [
      sc('no lock when every mutation needs one', 'lock-required', async () => {
        const s = fresh(strict)
        await seedRev(strict, s)
        return send(strict, 'POST', `${s.url}/snapshots:restore`, { json: { rev: SOME_REV } })
      }),
    ],
    ...(() => {
      const prepare = async (s: Stack) => {
        const oldest = await writeRev(faulty, s)
        for (let i = 0; i < 2; i++) await writeRev(faulty, s)
        await expectSetup(send(faulty, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } }), 200, 'pruning')
        return () => send(faulty, 'POST', `${s.url}/snapshots:restore`, { json: { rev: oldest } })
      }
      return {
        500: [fault('linking the rev back', 'link', 'EIO', prepare)],
        507: [fault('linking the rev back', 'link', 'ENOSPC', prepare)],
      }
    })(),
  },

  [`POST ${STACK}/snapshots:reseal`]: {
    200: [
      sc('a stack with revs', undefined, async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:reseal`)
      }),
    ],
    500: [
      fault('listing the revs', 'readdir', 'EIO', async (s) => {
        await writeRev(faulty, s)
        return () => send(faulty, 'POST', `${s.url}/snapshots:reseal`)
      }),
    ],
    507: [
      fault('re-sealing a noop rev with the key', 'writeFile', 'ENOSPC', async (s) => {
        const noop = makeRoot(faulty.dir)
        try {
          await noop
            .stack(s.factory, s.stack)
            .write(sampleSnapshot(++markers), { payloadType: UNOBIN_PAYLOAD, makeCurrent: true })
        } finally {
          noop.close()
        }
        return () => send(faulty, 'POST', `${s.url}/snapshots:reseal`)
      }),
    ],
  },
  [`GET ${STACK}/diff`]: {
    200: [
      sc(
        'two revs of a stack',
        undefined,
        async () => {
          const s = fresh(plain)
          await writeRev(plain, s)
          await writeRev(plain, s)
          return send(plain, 'GET', `${s.url}/diff`)
        },
        (t, res) => t.equal((res.json() as { kind: string }).kind, 'unobin'),
      ),
    ],
    400: [
      sc('a from that is not a canonical rev', 'invalid-rev', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'GET', `${s.url}/diff?from=2026-07-10T12:00:00.10Z`)
      }),
    ],
    404: [
      sc('a stack without current and no to', 'no-current', async () => send(plain, 'GET', `${fresh(plain).url}/diff`)),
      sc('a from that is not stored', 'rev-not-found', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'GET', `${s.url}/diff?from=${SOME_REV}`)
      }),
    ],
    409: [
      sc('an unobin snapshot against a Terraform state', 'incomparable-revs', async () => {
        const s = fresh(plain)
        const unobin = await writeRev(plain, s)
        await expectSetup(
          send(plain, 'POST', `${s.url}/terraform?force=true`, { raw: terraformState(1) }),
          200,
          'writing Terraform state over the snapshot',
        )
        return send(plain, 'GET', `${s.url}/diff?from=${unobin}`)
      }),
    ],
    500: [
      sc('a truncated rev', 'unreadable-snapshot', async () => {
        const s = fresh(plain)
        const rev = await writeRev(plain, s)
        const path = join(s.dir, 'snapshots', `${rev}.json.enc`)
        await writeFile(path, (await readFile(path)).subarray(0, 10))
        return send(plain, 'GET', `${s.url}/diff?to=${rev}`)
      }),
    ],
  },
  [`GET ${STACK}/outputs`]: {
    200: [
      sc(
        'the current rev',
        undefined,
        async () => {
          const s = fresh(plain)
          await writeRev(plain, s)
          return send(plain, 'GET', `${s.url}/outputs`)
        },
        (t, res) => t.type((res.json() as { outputs: unknown }).outputs, 'object'),
      ),
    ],
    400: [
      sc('a rev that is not canonical', 'invalid-rev', async () =>
        send(plain, 'GET', `${fresh(plain).url}/outputs?rev=2026-07-10T12:00:00.10Z`),
      ),
    ],
    404: [
      sc('a stack without current', 'no-current', async () => send(plain, 'GET', `${fresh(plain).url}/outputs`)),
      sc('a rev that is not stored', 'rev-not-found', async () =>
        send(plain, 'GET', `${fresh(plain).url}/outputs?rev=${SOME_REV}`),
      ),
    ],
    409: [
      sc('a state its client encrypted', 'opaque-state', async () => {
        const s = fresh(plain)
        await expectSetup(
          send(plain, 'POST', `${s.url}/terraform`, {
            raw: JSON.stringify({ serial: 1, lineage: 'l', encrypted_data: 'AAAA', encryption_version: 'v0' }),
          }),
          200,
          'writing an encrypted state',
        )
        return send(plain, 'GET', `${s.url}/outputs`)
      }),
    ],
    500: [
      sc('a truncated current rev', 'unreadable-snapshot', async () => {
        const s = fresh(plain)
        const rev = await writeRev(plain, s)
        const path = join(s.dir, 'snapshots', `${rev}.json.enc`)
        await writeFile(path, (await readFile(path)).subarray(0, 10))
        return send(plain, 'GET', `${s.url}/outputs`)
      }),
    ],
  },
  [`GET ${STACK}/events`]: {
    200: [
      sc(
        'a stream, ended by the server shutting down',
        undefined,
        async (t) => {
          const b = await buildTestApp(t, { dir: await newDir('events') })
          const pending = send(b, 'GET', `${fresh(b).url}/events`)
          await openStreams(b, 1)
          b.beginShutdown()
          return pending
        },
        (t, res) => {
          t.match(String(res.headers['content-type']), /^text\/event-stream/, 'an event stream')
          t.match(res.body, /event: hello\n/, 'that starts with hello')
        },
      ),
    ],
    503: [
      sc(
        'a stream beyond --max-event-streams',
        'too-many-streams',
        async (t) => {
          const b = await buildTestApp(t, { dir: await newDir('events-cap'), events: { maxStreams: 1 } })
          const s = fresh(b)
          const first = send(b, 'GET', `${s.url}/events`)
          await openStreams(b, 1)
          const refused = await send(b, 'GET', `${s.url}/events`)
          b.beginShutdown()
          await first
          return refused
        },
        (t, res) => t.ok(res.headers['retry-after'], 'with Retry-After'),
      ),
    ],
  },
  'GET /v1/whoami': {
    200: [
      sc(
        'an anonymous caller',
        undefined,
        async () => send(plain, 'GET', '/v1/whoami?factory=cov&stack=x'),
        (t, res) => t.equal((res.json() as { principal: string }).principal, 'anonymous'),
      ),
    ],
    400: [
      sc('a stack without its factory', 'invalid-request', async () => send(plain, 'GET', '/v1/whoami?stack=x')),
      sc('a factory name the pattern refuses', 'invalid-request', async () =>
        send(plain, 'GET', '/v1/whoami?factory=-bad'),
      ),
    ],
  },
}

/**
 * Answers no declared response covers: a path no route matches, and a path
 * parameter the router refuses before any route is chosen.
 */
const ANSWERS_OUTSIDE_THE_DOCUMENT: ReadonlyArray<{
  readonly status: number
  readonly problem: boolean
  readonly scenario: Scenario
}> = [
  {
    status: 404,
    problem: true,
    scenario: sc('a path no route matches', 'route-not-found', async () => send(plain, 'GET', '/v1/no-such-route')),
  },
  {
    status: 414,
    problem: true,
    scenario: sc('a path parameter longer than the router accepts', 'uri-too-long', async () =>
      send(plain, 'GET', `/v1/factories/${'f'.repeat(300)}/stacks`),
    ),
  },
]

/**
 * Scenarios every route of a kind gets: 400 invalid-name for a factory the
 * name pattern refuses, and for protected routes 401 without credentials,
 * 403 for a caller without the permission, 429 from an address over its
 * rate, and 503 when an identity token's issuer keys cannot be fetched.
 */
function genericScenarios(method: Method, path: string, isProtected: boolean): StatusScenarios {
  const url = (factory: string): string =>
    path.replace('{factory}', factory).replace('{stack}', `s${++stacks}`).replace('{rev}', SOME_REV)
  const body: RequestOptions = method === 'GET' ? {} : { raw: '{}' }
  const out: Record<number, Scenario[]> = {}
  if (path.includes('{factory}')) {
    out[400] = [
      sc('a factory name the pattern refuses', 'invalid-name', async () => send(plain, method, url('-bad'), body)),
    ]
    out[414] = [
      sc('a path parameter longer than the router accepts', 'uri-too-long', async () =>
        send(plain, method, url('f'.repeat(300)), body),
      ),
    ]
  }
  if (BODY_METHODS.has(method)) {
    out[413] = [
      sc('a body over the limit', 'body-too-large', async () =>
        send(plain, method, url('cov'), { raw: `"${'x'.repeat(BODY_LIMIT)}"` }),
      ),
    ]
    if (!RAW_BODY_ROUTES.has(`${method} ${path}`))
      out[415] = [
        sc('a body that is not JSON', 'unsupported-media-type', async () =>
          send(plain, method, url('cov'), { raw: 'rev=x', headers: { 'content-type': 'text/plain' } }),
        ),
      ]
  }
  if (isProtected) {
    out[401] = [
      sc(
        'no credentials',
        'unauthenticated',
        async () => send(authed, method, url('cov'), body),
        (t, res) => t.equal(res.headers['www-authenticate'], WWW_AUTHENTICATE, 'with the challenge'),
      ),
    ]
    if (!ANY_CREDENTIAL.has(`${method} ${path}`))
      out[403] = [
        sc('a caller without the permission', 'forbidden', async () =>
          send(authed, method, url('cov'), { ...body, headers: bearer(STRANGER) }),
        ),
      ]
    out[429] = [
      sc(
        'an address over its rate of failed authentications',
        'rate-limited',
        async () => send(limited, method, url('cov'), body),
        (t, res) => t.ok(res.headers['retry-after'], 'with Retry-After'),
      ),
    ]
    out[503] = [
      sc(
        'an identity token whose issuer keys cannot be fetched',
        'auth-unavailable',
        async () => send(oidc, method, url('cov'), { ...body, headers: bearer(ID_TOKEN) }),
        (t, res) => t.ok(res.headers['retry-after'], 'with Retry-After'),
      ),
    ]
  }
  return out
}

/** Routes any valid credential may call (permission `authenticated`): they never answer 403. */
const ANY_CREDENTIAL: ReadonlySet<string> = new Set(['GET /v1/whoami'])
/** Methods whose bodies the server parses: any route of theirs can answer 413, and 415 unless it takes its body raw. */
const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'LOCK', 'UNLOCK'])
/** The routes that store or read their body as raw bytes, whatever its media type (config.rawBody). */
const RAW_BODY_ROUTES: ReadonlySet<string> = new Set([
  'POST /v1/factories/{factory}/stacks/{stack}/snapshots',
  'POST /v1/factories/{factory}/stacks/{stack}/terraform',
  'PUT /v1/factories/{factory}/stacks/{stack}/terraform',
  'DELETE /v1/factories/{factory}/stacks/{stack}/terraform',
  'POST /v1/factories/{factory}/stacks/{stack}/terraform/lock',
  'DELETE /v1/factories/{factory}/stacks/{stack}/terraform/lock',
  'LOCK /v1/factories/{factory}/stacks/{stack}/terraform',
  'UNLOCK /v1/factories/{factory}/stacks/{stack}/terraform',
])

/** The scenarios of a route: its own and the generic ones, by status (a generic one only where the route has none of its own for that status). */
function scenariosOf(
  method: Method,
  path: string,
  isProtected: boolean,
  own: StatusScenarios | undefined,
): Map<number, Scenario[]> {
  const out = new Map<number, Scenario[]>()
  for (const [i, table] of [own ?? {}, genericScenarios(method, path, isProtected)].entries()) {
    for (const [status, list] of Object.entries(table)) {
      if (list === undefined || list.length === 0) continue
      if (i === 1 && [413, 414, 415].includes(Number(status)) && out.has(Number(status))) continue
      out.set(Number(status), [...(out.get(Number(status)) ?? []), ...list])
    }
  }
  return out
}

// --- the document ---------------------------------------------------------------------

interface OpenApiResponse {
  readonly content?: Record<string, { readonly schema?: { readonly $ref?: string } }>
}
interface OpenApiOperation {
  readonly responses?: Record<string, OpenApiResponse>
  readonly security?: unknown[]
}
/** A path item: operations by lower-case method, and (OpenAPI 3.2) the other methods by their name as sent. */
type OpenApiPathItem = Record<string, OpenApiOperation> & {
  readonly additionalOperations?: Record<string, OpenApiOperation>
}
interface OpenApiDocument {
  readonly paths: Record<string, OpenApiPathItem>
  readonly components: {
    readonly schemas: { readonly Problem: { readonly properties: { readonly code: { readonly enum: string[] } } } }
  }
}

/** One operation of the document: whether it needs credentials, and each status with whether it is a problem answer. */
interface Operation {
  readonly method: Method
  readonly path: string
  readonly isProtected: boolean
  readonly statuses: ReadonlyMap<number, boolean>
}

const doc = (
  await expectSetup(send(plain, 'GET', '/openapi.json'), 200, 'reading the OpenAPI document')
).json() as OpenApiDocument
const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'])
/** A problem answer is declared as the server sends it: application/problem+json (and only that). */
const isProblem = (response: OpenApiResponse): boolean =>
  response.content?.['application/problem+json']?.schema?.$ref === '#/components/schemas/Problem'
/** Every operation of a path item, by upper-case method. */
const operationsOf = (item: OpenApiPathItem): Array<[string, OpenApiOperation]> => [
  ...Object.entries(item)
    .filter(([method]) => HTTP_METHODS.has(method))
    .map(([method, op]) => [method.toUpperCase(), op] as [string, OpenApiOperation]),
  ...Object.entries(item.additionalOperations ?? {}),
]
const misdeclared = Object.entries(doc.paths).flatMap(([path, ops]) =>
  operationsOf(ops).flatMap(([method, op]) =>
    Object.entries(op.responses ?? {}).flatMap(([status, response]) =>
      Object.entries(response.content ?? {})
        .filter(
          ([media, m]) => m.schema?.$ref === '#/components/schemas/Problem' && media !== 'application/problem+json',
        )
        .map(([media]) => `${method} ${path} ${status}: ${media}`),
    ),
  ),
)

const OPERATIONS = new Map<string, Operation>()
for (const [path, ops] of Object.entries(doc.paths)) {
  for (const [method, op] of operationsOf(ops)) {
    const statuses = new Map(
      Object.entries(op.responses ?? {})
        .filter(([status]) => /^\d{3}$/.test(status))
        .map(([status, response]) => [Number(status), isProblem(response)] as const),
    )
    OPERATIONS.set(`${method} ${path}`, {
      method: method as Method,
      path,
      isProtected: (op.security ?? []).length > 0,
      statuses,
    })
  }
}
const CODES = new Set<string>(doc.components.schemas.Problem.properties.code.enum)

// --- answers --------------------------------------------------------------------------

/** Each code seen, with where. */
const seen = new Map<string, string[]>()

/** Asserts the answer of `scenario` is `status`, a valid problem when `problem`; records its code. */
function assertAnswer(
  t: Test,
  where: string,
  res: Response,
  status: number,
  problem: boolean,
  scenario: Scenario,
): void {
  const facts = { body: res.body.slice(0, 400) }
  t.equal(res.statusCode, status, `${where}: status`, facts)
  if (problem) {
    t.match(String(res.headers['content-type']), /^application\/problem\+json/, `${where}: application/problem+json`)
    let body: { code?: unknown; status?: unknown } = {}
    try {
      body = res.json() as typeof body
    } catch {
      t.fail(`${where}: the problem body is JSON`, facts)
    }
    const code = String(body.code)
    t.ok(CODES.has(code), `${where}: ${code} is a code of the contract`)
    t.equal(body.status, res.statusCode, `${where}: the body carries the status`)
    if (CODES.has(code))
      t.equal(STATUS[code as ErrorCode], res.statusCode, `${where}: ${code} is a ${res.statusCode} code`)
    if (scenario.code !== undefined) t.equal(code, scenario.code, `${where}: code`, facts)
    if (res.statusCode === status && CODES.has(code)) seen.set(code, [...(seen.get(code) ?? []), where])
  } else if (status >= 400) {
    t.match(
      String(res.headers['content-type']),
      /^application\/json/,
      `${where}: a JSON answer as documented, not a problem`,
    )
    t.notOk(Object.hasOwn(res.json() as object, 'code'), `${where}: not a problem body`)
  }
  scenario.check?.(t, res)
}

/** Runs every scenario of every declared status of one route. */
async function exercise(
  t: Test,
  method: Method,
  path: string,
  statuses: ReadonlyMap<number, boolean>,
  scenarios: ReadonlyMap<number, Scenario[]>,
): Promise<void> {
  for (const [status, problem] of [...statuses].sort(([a], [b]) => a - b)) {
    for (const scenario of scenarios.get(status) ?? []) {
      const res = await scenario.run(t)
      assertAnswer(t, `${method} ${path} ${status} (${scenario.name})`, res, status, problem, scenario)
    }
  }
}

// --- the tests --------------------------------------------------------------------------

t.test("the Problem schema's code enum is the error codes of the contract", async (t) => {
  t.strictSame([...CODES].sort(), Object.keys(ERROR_CODES).sort())
})

for (const [key, op] of OPERATIONS) {
  t.test(`${key} answers every status the document declares`, async (t) => {
    await exercise(t, op.method, op.path, op.statuses, scenariosOf(op.method, op.path, op.isProtected, SCENARIOS[key]))
  })
}

t.test('the answers outside the document are what clients expect, problems with their codes', async (t) => {
  for (const { status, problem, scenario } of ANSWERS_OUTSIDE_THE_DOCUMENT) {
    assertAnswer(t, `${status} (${scenario.name})`, await scenario.run(t), status, problem, scenario)
  }
})

t.test(
  'every (method, path, status) of the document has a scenario, and every scenario a declared status',
  async (t) => {
    const declared = new Set<string>()
    const covered = new Set<string>()
    for (const [key, op] of OPERATIONS) {
      for (const status of op.statuses.keys()) declared.add(`${key} ${status}`)
      for (const status of scenariosOf(op.method, op.path, op.isProtected, SCENARIOS[key]).keys())
        covered.add(`${key} ${status}`)
    }
    for (const key of Object.keys(SCENARIOS)) t.ok(OPERATIONS.has(key), `${key} has scenarios and is in the document`)
    t.strictSame([...declared].filter((x) => !covered.has(x)).sort(), [], 'declared statuses without a scenario')
    t.strictSame(
      [...covered].filter((x) => !declared.has(x)).sort(),
      [],
      'scenarios for statuses the document does not declare',
    )
    t.ok(declared.size >= 250, `${declared.size} declared (method, path, status) triples, LOCK and UNLOCK included`)
    t.strictSame(misdeclared, [], 'every problem answer is declared as application/problem+json')
  },
)

t.test('every error code of the contract is answered by some request', async (t) => {
  const missing = Object.keys(ERROR_CODES).filter(
    (code) => !seen.has(code) && !CODES_NO_REQUEST_CAN_PRODUCE.has(code as ErrorCode),
  )
  t.strictSame(
    missing,
    [],
    'codes no scenario produced (add a scenario, or list the code in CODES_NO_REQUEST_CAN_PRODUCE with why)',
  )
  const produced = [...CODES_NO_REQUEST_CAN_PRODUCE.keys()].filter((code) => seen.has(code))
  t.strictSame(produced, [], 'codes listed as impossible that a request produced (take them off the list)')
})
