/** The apps the scenarios run against, each configured for one family of answers (built once per test process). */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { SystemClock } from '../../../src/clock.js'
import { keyFromEnv } from '../../../src/crypto/keys.js'
import { Keyring } from '../../../src/crypto/keyring.js'
import { NoopEncrypter } from '../../../src/crypto/noop.js'
import { loadUiAssets } from '../../../src/http/ui-assets.js'
import { StoreRoot } from '../../../src/store/store-root.js'
import { buildTestApp, stackUrl } from '../../helpers/app.js'
import {
  ManualTime,
  authFromText,
  bearer,
  deadUrl,
  newSigningKey,
  newToken,
  signIdToken,
  tokensFileText,
} from '../../helpers/auth.js'
import { ManualClock } from '../../helpers/clock.js'
import { caseFoldingFs } from '../../helpers/case-folding-fs.js'
import { FaultyFs } from '../../helpers/faulty-fs.js'
import { FIXTURE_KEY, sampleSnapshot } from '../../helpers/store.js'
import type { Built } from './scenario.js'
import { expectSetup } from './requests.js'

// --- the apps -----------------------------------------------------------------

export const BODY_LIMIT = 4096
export const base = t.testdir()
let dirs = 0
/** A folder of its own under the file's testdir. */
export async function newDir(label: string): Promise<string> {
  const dir = join(base, `${label}-${++dirs}`)
  await mkdir(dir, { recursive: true })
  return dir
}

/** The clock of `plain`: leases run out when the test says so. */
export const clock = new ManualClock()
/** No credentials, a small body limit and a short wait cap. */
export const plain = await buildTestApp(t, {
  dir: await newDir('plain'),
  clock,
  bodyLimitBytes: BODY_LIMIT,
  maxWaitSeconds: 0.05,
})
/** Every mutation needs a held lock. */
export const strict = await buildTestApp(t, { dir: await newDir('strict'), requireLock: true })
/** Disk faults on demand; seals with a key and still opens noop envelopes, so a re-seal has work to do. */
export const faultyFs = new FaultyFs()
export const faulty = await buildTestApp(t, {
  dir: await newDir('faulty'),
  fs: faultyFs,
  encrypter: new Keyring(keyFromEnv({ UNOBIN_STATE_KEY: FIXTURE_KEY }, 'UNOBIN_STATE_KEY'), [], { openNoop: true }),
})

/** Credentials on; the stranger may only read another factory. */
export const STRANGER = newToken()
export const authed = await buildTestApp(t, {
  dir: await newDir('authed'),
  auth: authFromText(
    tokensFileText([{ name: 'stranger', token: STRANGER, grants: [{ scope: 'elsewhere/*', allow: ['read'] }] }]),
  ),
})

/** One failed authentication spends the whole allowance of the address, and its time never moves. */
export const limited = await buildTestApp(t, {
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
export const ISSUER = 'https://ci.example.test'
export const AUDIENCE = 'https://state.example.test'
export const oidc = await buildTestApp(t, {
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
export const ID_TOKEN = await signIdToken(
  await newSigningKey('k1'),
  { sub: 'repo:acme/infra:ref:refs/heads/main', repository: 'acme/infra' },
  { issuer: ISSUER, audience: AUDIENCE },
)

/** One lock per caller, and the caller already holds one. */
export const CI = newToken()
export const capped = await buildTestApp(t, {
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
/** One large body at a time (--max-large-bodies 1). */
export const busy = await buildTestApp(t, { dir: await newDir('busy'), maxLargeBodies: 1 })

export const consoleDir = await newDir('console')
await mkdir(join(consoleDir, 'assets'))
await writeFile(
  join(consoleDir, 'index.html'),
  '<!doctype html><script type="module" src="assets/app-ABCDEFGH.js"></script>',
)
await writeFile(join(consoleDir, 'assets', 'app-ABCDEFGH.js'), 'export {}')
export const withConsole = await buildTestApp(t, {
  dir: await newDir('with-console'),
  ui: await loadUiAssets(consoleDir),
})

/** A data volume that folds case (simulated), holding the stack `cased/app`. */
const foldingDir = await newDir('folding')
export const folding = await buildTestApp(t, {
  dir: foldingDir,
  root: new StoreRoot({
    root: foldingDir,
    encrypter: new NoopEncrypter(),
    clock: new SystemClock(),
    identity: { pid: process.pid, host: 'test-host' },
    fs: caseFoldingFs(foldingDir),
    foldsCase: true,
  }),
})
await expectSetup(
  folding.app.inject({
    method: 'POST',
    url: `${stackUrl('cased', 'app')}/snapshots?current=true`,
    headers: { 'content-type': 'application/json' },
    payload: sampleSnapshot(1),
  }),
  201,
  'writing cased/app on the folding volume',
)

/** Waits until `b` serves `n` event streams (they answer only when they end, so inject cannot tell). */
export async function openStreams(b: Built, n: number): Promise<void> {
  const gauge = b.metrics.registry.getSingleMetric('unobin_state_event_streams')!
  const deadline = Date.now() + 10_000
  while (((await gauge.get()).values[0]?.value ?? 0) < n) {
    if (Date.now() > deadline) throw new Error(`${n} event streams never opened`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** A fresh app (closed with `t`) whose shutdown has begun or is about to. */
export async function closingApp(t: Test): Promise<Built> {
  return buildTestApp(t, { dir: await newDir('closing'), maxWaitSeconds: 30 })
}
