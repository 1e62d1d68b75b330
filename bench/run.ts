/**
 * `npm run bench`: every scenario measured in the same run as its baseline,
 * on this machine, so the ratios survive a noisy host. The server under test
 * runs in its own process; autocannon drives it over loopback, from this
 * process and, for the small-request scenario, from a process of its own
 * (so the baseline is not bound by the load generator), where the server's
 * CPU time per request is read from /proc as well (robust to a busy host). Prints a table,
 * writes bench/results.json and the table into BENCHMARKS.md.
 *
 * BENCH_SECONDS (default 5) sets the length of each load run.
 */
import { createCipheriv, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { copyFile, link, mkdir, mkdtemp, open, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { SystemClock } from '../src/clock.js'
import { Keyring } from '../src/crypto/keyring.js'
import { StoreRoot } from '../src/store/store-root.js'
import { encodeEnvelope } from '../src/store/envelope.js'
import { formatInstant } from '../src/time/instant.js'
import { HELD, countingFs } from './counting-fs.js'
import { terraformDoc, unobinDoc } from './documents.js'
import {
  bareStartMs,
  externalCannon,
  loopDelayMs,
  rssKb,
  rssPeakKb,
  serverStartMs,
  startTarget,
  stop,
} from './processes.js'
import { diffScenario } from './diff.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
/** How many revs the long-history write scenario's stack holds before it is loaded. */
const LONG_HISTORY = 10_000
/** `BENCH_ONLY=diff` runs only the diff scenario and updates only its rows of the table. */
const ONLY = process.env.BENCH_ONLY
const repo = fileURLToPath(new URL('../..', import.meta.url))

interface Row {
  scenario: string
  value: number
  unit: string
  baseline: number | null
  baselineName: string
  ratio: number | null
  target: string
  met: boolean | null
}
const rows: Row[] = []

function record(
  scenario: string,
  value: number,
  unit: string,
  baseline: number | null,
  baselineName: string,
  target: string,
  check: (ratio: number | null, value: number) => boolean,
  /** The ratio is baseline / value (a cost, where less is better): printed and written as such. */
  inverted = false,
): void {
  const ratio = baseline === null ? null : inverted ? baseline / value : value / baseline
  const row = { scenario, value, unit, baseline, baselineName, ratio, target, met: check(ratio, value) }
  rows.push(row)
  const fmt = (n: number | null) => (n === null ? '—' : n >= 100 ? n.toFixed(0) : n.toFixed(2))
  process.stdout.write(
    `${scenario.padEnd(58)} ${fmt(value).padStart(9)} ${unit.padEnd(6)} base ${fmt(baseline).padStart(9)}  ratio ${fmt(ratio).padStart(5)}  target ${target}  ${row.met ? 'met' : 'MISSED'}\n`,
  )
}

// --- load -------------------------------------------------------------------

async function cannon(options: autocannon.Options): Promise<{ rps: number; p50: number; errors: number }> {
  const result = await autocannon({ duration: SECONDS, ...options })
  const bad = result.errors + result.timeouts + result.non2xx
  if (bad > 0) process.stdout.write(`  (${options.url}: ${result.non2xx} non-2xx, ${result.errors} errors)\n`)
  return { rps: result.requests.average, p50: result.latency.p50, errors: bad }
}

async function fetchOk(url: string, init?: RequestInit): Promise<Response> {
  const res = await fetch(url, init)
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`)
  return res
}

// --- baselines outside HTTP -------------------------------------------------

async function durableWrite(dir: string, name: string, data: Buffer): Promise<void> {
  const tmp = join(dir, `.tmp-${randomBytes(8).toString('hex')}`)
  const fh = await open(tmp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600)
  await fh.writeFile(data)
  await fh.sync()
  await fh.close()
  await link(tmp, join(dir, name))
  await unlink(tmp)
  const d = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY)
  await d.sync()
  await d.close()
}

async function plainWriteLoop(dir: string, data: Buffer, concurrency: number): Promise<number> {
  await mkdir(dir, { recursive: true })
  let n = 0
  const until = Date.now() + SECONDS * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (Date.now() < until) await durableWrite(dir, `w${w}-${n++}`, data)
    }),
  )
  return n / SECONDS
}

async function plainLockLoop(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true })
  let n = 0
  const until = Date.now() + SECONDS * 1000
  const marker = join(dir, 'lock')
  while (Date.now() < until) {
    const fh = await open(marker, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600)
    await fh.writeFile(`${process.pid}\n`)
    await fh.sync()
    await fh.close()
    await unlink(marker)
    n++
  }
  return n / SECONDS
}

/**
 * Filesystem calls one store operation makes (the mean over `n` runs on a
 * warm stack), by kind, through a counting FsOps: what each write, lock and
 * unlock pays for durability and for the stack mutex.
 */
async function fsCallsPerOperation(
  dir: string,
  n = 20,
): Promise<Array<{ operation: string; counts: Record<string, number> }>> {
  const counting = countingFs((path) => path.includes('mutex'))
  const root = new StoreRoot({
    root: dir,
    encrypter: new Keyring({ ref: { name: 'env-key' }, key: Buffer.alloc(32, 1) }),
    clock: new SystemClock(),
    identity: { pid: process.pid, host: 'bench' },
    fs: counting.fs,
  })
  const store = root.stack('bench', 'counted')
  const body = unobinDoc(10 * 1024, 5)
  await store.write(body, { payloadType: 'state', makeCurrent: true }) // the stack exists, its directories checked
  const mean = async (operation: string, fn: () => Promise<unknown>) => {
    counting.take()
    for (let i = 0; i < n; i++) await fn()
    const total = counting.take()
    return { operation, counts: Object.fromEntries(Object.entries(total).map(([k, v]) => [k, v / n])) }
  }
  // As the server writes: with the record of who wrote it (the rev's metadata file).
  const record = {
    principal: 'bench',
    remote: null,
    requestId: null,
    kind: 'unobin',
    serial: null,
    lineage: null,
  } as const
  const out = [
    await mean('write', () => store.write(body, { payloadType: 'state', record })),
    await mean('write ?current=true', () => store.write(body, { payloadType: 'state', makeCurrent: true, record })),
  ]
  let id = ''
  counting.take()
  const locks: Record<string, number> = {}
  const unlocks: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    id = (await store.lock({ who: 'bench' }, {})).id
    for (const [k, v] of Object.entries(counting.take())) locks[k] = (locks[k] ?? 0) + v / n
    await store.unlock(id)
    for (const [k, v] of Object.entries(counting.take())) unlocks[k] = (unlocks[k] ?? 0) + v / n
  }
  out.push({ operation: 'lock', counts: locks }, { operation: 'unlock', counts: unlocks })
  // An unlock with a caller of this process waiting: the release and the waiter's grant, and the waiter's own calls.
  const handoffs: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const holder = await store.lock({ who: 'bench' }, {})
    const waiter = store.lock({ who: 'waiter' }, {}, { waitMs: 10_000 })
    while (store.waiting === 0) await new Promise((r) => setTimeout(r, 1))
    counting.take()
    await store.unlock(holder.id)
    const next = await waiter
    for (const [k, v] of Object.entries(counting.take())) handoffs[k] = (handoffs[k] ?? 0) + v / n
    await store.unlock(next.id)
  }
  out.push({ operation: 'handoff (unlock with a waiter, both answered)', counts: handoffs })
  root.close()
  return out
}

/** `fsync 2, link 1, …`: the counts of one operation, most telling first. */
function describeCounts(counts: Record<string, number>): string {
  const order = ['fsync', 'link', 'rename', 'unlink', 'readdir', 'open', 'write', 'read', 'close', 'lstat', 'mkdir']
  const key = (k: string) => {
    const i = order.indexOf(k.replace(/^mutex-/, ''))
    return (k.startsWith('mutex-') ? 100 : 0) + (i < 0 ? 50 : i)
  }
  return Object.entries(counts)
    .filter(([, v]) => v > 0)
    .sort(([a], [b]) => key(a) - key(b))
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(1)}`)
    .join(', ')
}

// --- scenarios --------------------------------------------------------------

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'unobin-bench-'))
  process.stdout.write(
    `unobin-state-server benchmarks — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${SECONDS} s per load run\n\n`,
  )
  try {
    if (ONLY === 'diff') {
      await recordDiff(work)
      return await writeResults(ONLY)
    }
    const bare = await startTarget('bare')
    const app = await startTarget('app', join(work, 'data'))
    const stack = (s: string) => `${app.url}/v1/factories/bench/stacks/${s}`

    // 1. GET current, 10 KB, env-key, 10 connections vs hello world.
    await fetchOk(`${stack('small')}/snapshots?current=true`, { method: 'POST', body: unobinDoc(10 * 1024, 1) })
    const hello = await cannon({ url: `${bare.url}/hello`, connections: 10 })
    const current = await cannon({ url: `${stack('small')}/current`, connections: 10 })
    record(
      'GET current, 10 KB snapshot, env-key, 10 conns',
      current.rps,
      'req/s',
      hello.rps,
      'Fastify hello-world',
      '≥ 0.5×',
      (r) => r !== null && r >= 0.5,
    )
    const helloOut = await externalCannon(`${bare.url}/hello`, bare, SECONDS)
    const currentOut = await externalCannon(`${stack('small')}/current`, app, SECONDS)
    record(
      'GET current, 10 KB, autocannon in its own process',
      currentOut.rps,
      'req/s',
      helloOut.rps,
      'Fastify hello-world, same load process',
      '≥ 0.5×',
      (r) => r !== null && r >= 0.5,
    )
    record(
      'GET current, 10 KB: server CPU per request (ratio inverted)',
      currentOut.cpuUs,
      'µs',
      helloOut.cpuUs,
      'Fastify hello-world, CPU per request',
      '≥ 0.5×',
      (r) => r !== null && r >= 0.5,
      true,
    )

    // 2. GET a rev, 1 MB vs the same bytes from memory.
    const big = (await (
      await fetchOk(`${stack('big')}/snapshots?current=true`, { method: 'POST', body: unobinDoc(1024 * 1024, 1) })
    ).json()) as { rev: string }
    const bytes = await cannon({ url: `${bare.url}/bytes`, connections: 10 })
    const rev = await cannon({ url: `${stack('big')}/snapshots/${big.rev}`, connections: 10 })
    record(
      'GET a rev, 1 MB snapshot, 10 conns',
      rev.rps,
      'req/s',
      bytes.rps,
      'Fastify 1 MB from memory',
      '≥ 0.7×',
      (r) => r !== null && r >= 0.7,
    )

    // 3. POST 10 KB, 8 concurrent writers, distinct stacks and one shared stack.
    const body10k = unobinDoc(10 * 1024, 2)
    const plain = await plainWriteLoop(
      join(work, 'plain-writes'),
      Buffer.from(
        encodeEnvelope({
          payloadType: 'state',
          encrypter: { name: 'env-key', body: { 'env-var': 'X' } },
          ciphertext: new Keyring({ ref: { name: 'env-key' }, key: Buffer.alloc(32, 1) }).seal(body10k),
        }),
      ),
      8,
    )
    let k = 0
    const distinct = await cannon({
      url: app.url,
      connections: 8,
      method: 'POST',
      requests: [
        {
          method: 'POST',
          body: body10k,
          setupRequest: (req) => ({ ...req, path: `/v1/factories/bench/stacks/w${k++ % 8}/snapshots` }),
        },
      ],
    })
    // The write and lock targets are issue 15's (issue 7 first asked 0.8× of the writes and 0.5× of lock + unlock).
    record(
      'POST 10 KB snapshot, 8 writers, distinct stacks',
      distinct.rps,
      'req/s',
      plain,
      'plain durable write ×8',
      '≥ 0.6×',
      (r) => r !== null && r >= 0.6,
    )
    const shared = await cannon({ url: `${stack('shared')}/snapshots`, connections: 8, method: 'POST', body: body10k })
    record(
      'POST 10 KB snapshot, 8 writers, one shared stack',
      shared.rps,
      'req/s',
      plain,
      'plain durable write ×8',
      '≥ 0.4×',
      (r) => r !== null && r >= 0.4,
    )
    // A long history: every write lists the stack's revs (see BENCHMARKS.md, "What limits the misses").
    const long = await fetchOk(`${stack('long')}/snapshots`, { method: 'POST', body: body10k })
    const longRev = ((await long.json()) as { rev: string }).rev
    const longRevs = join(work, 'data', 'bench', 'long', 'snapshots')
    for (let i = 1; i <= LONG_HISTORY; i++)
      await copyFile(
        join(longRevs, `${longRev}.json.enc`),
        join(longRevs, `2020-01-01T00:00:00.${String(i).padStart(9, '0').replace(/0+$/, '')}Z.json.enc`),
      )
    const longShared = await cannon({
      url: `${stack('long')}/snapshots`,
      connections: 8,
      method: 'POST',
      body: body10k,
    })
    record(
      `POST 10 KB snapshot, 8 writers, one stack of ${LONG_HISTORY.toLocaleString('en')} revs`,
      longShared.rps,
      'req/s',
      shared.rps,
      'the same on a new stack',
      '(info)',
      () => true,
    )

    // 4. lock + unlock cycles on one stack (sequential, keep-alive) vs a plain marker.
    const plainLock = await plainLockLoop(join(work, 'plain-lock'))
    let cycles = 0
    const until = Date.now() + SECONDS * 1000
    while (Date.now() < until) {
      const holder = (await (await fetchOk(`${stack('locks')}/lock`, { method: 'POST' })).json()) as { id: string }
      await fetchOk(`${stack('locks')}/lock?id=${holder.id}`, { method: 'DELETE' })
      cycles++
    }
    record(
      'lock + unlock cycles on one stack (HTTP)',
      cycles / SECONDS,
      'cyc/s',
      plainLock,
      'create+fsync+unlink marker',
      '≥ 0.3×',
      (r) => r !== null && r >= 0.3,
    )

    // 4b. What each store operation pays in filesystem calls (counted through the injectable fs).
    for (const { operation, counts: all } of await fsCallsPerOperation(join(work, 'counted'))) {
      const { [HELD]: held = 0, ...counts } = all
      const total = Object.values(counts).reduce((a, b) => a + b, 0)
      record(
        `filesystem calls per ${operation}: ${describeCounts(counts)}; ${Number.isInteger(held) ? held : held.toFixed(1)} of them under the stack mutex`,
        total,
        'calls',
        null,
        '—',
        '(info)',
        () => true,
      )
    }

    // 5. lock handoff: waiter blocked with ?wait, holder unlocks.
    const handoff = async (holderBase: string, waiterBase: string): Promise<number> => {
      const samples: number[] = []
      for (let i = 0; i < 30; i++) {
        const holder = (await (await fetchOk(`${holderBase}/lock`, { method: 'POST' })).json()) as { id: string }
        const waiter = fetchOk(`${waiterBase}/lock?wait=10`, { method: 'POST' }).then(async (r) => ({
          at: performance.now(),
          id: ((await r.json()) as { id: string }).id,
        }))
        await new Promise((r) => setTimeout(r, 20)) // let the waiter block
        const released = performance.now()
        await fetchOk(`${holderBase}/lock?id=${holder.id}`, { method: 'DELETE' })
        const got = await waiter
        samples.push(got.at - released)
        await fetchOk(`${waiterBase}/lock?id=${got.id}`, { method: 'DELETE' })
      }
      samples.sort((a, b) => a - b)
      return samples[Math.floor(samples.length / 2)]!
    }
    const sameProcess = await handoff(stack('handoff'), stack('handoff'))
    record(
      'lock handoff p50, same process (unlock sent → waiter answered)',
      sameProcess,
      'ms',
      null,
      '—',
      '≤ 2 ms',
      (_r, v) => v <= 2,
    )
    const other = await startTarget('app', join(work, 'data'))
    const crossProcess = await handoff(stack('handoff2'), `${other.url}/v1/factories/bench/stacks/handoff2`)
    record(
      'lock handoff p50, across two server processes',
      crossProcess,
      'ms',
      null,
      '—',
      '≤ 50 ms',
      (_r, v) => v <= 50,
    )
    await stop(other)

    // 6. 50 MB snapshot write then read vs AES-GCM + durable write alone.
    const huge = unobinDoc(50 * 1024 * 1024, 3)
    const pid = app.child.pid!
    const rssBefore = await rssKb(pid)
    await loopDelayMs(app)
    const t0 = performance.now()
    const w = (await (await fetchOk(`${stack('huge')}/snapshots`, { method: 'POST', body: huge })).json()) as {
      rev: string
    }
    const t1 = performance.now()
    const writeDelay = await loopDelayMs(app)
    const back = Buffer.from(await (await fetchOk(`${stack('huge')}/snapshots/${w.rev}`)).arrayBuffer())
    const t2 = performance.now()
    const readDelay = await loopDelayMs(app)
    if (!back.equals(huge)) throw new Error('50 MB snapshot did not round-trip')
    const peakGrowthMb = ((await rssPeakKb(pid)) - rssBefore) / 1024
    const s0 = performance.now()
    const nonce = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', Buffer.alloc(32, 1), nonce)
    const sealed = Buffer.concat([nonce, cipher.update(huge), cipher.final(), cipher.getAuthTag()])
    await mkdir(join(work, 'plain-huge'), { recursive: true })
    await durableWrite(join(work, 'plain-huge'), 'x', sealed)
    const s1 = performance.now()
    const mb = huge.length / 2 ** 20
    record(
      '50 MB snapshot write (POST), throughput',
      mb / ((t1 - t0) / 1000),
      'MiB/s',
      mb / ((s1 - s0) / 1000),
      'AES-GCM + durable write alone',
      '≥ 0.5×',
      (r) => r !== null && r >= 0.5,
    )
    record(
      '50 MB snapshot read (GET), throughput',
      mb / ((t2 - t1) / 1000),
      'MiB/s',
      mb / ((s1 - s0) / 1000),
      'AES-GCM + durable write alone',
      '≥ 0.5×',
      (r) => r !== null && r >= 0.5,
    )
    record('50 MB write (POST): longest event-loop delay', writeDelay, 'ms', null, '—', '≤ 50 ms', (_r, v) => v <= 50)
    record('50 MB read (GET): longest event-loop delay', readDelay, 'ms', null, '—', '≤ 50 ms', (_r, v) => v <= 50)
    // A pathological body: 60 MB of empty objects (20 million values to parse); /healthz probed meanwhile.
    const empties = Buffer.from(`{"format-version":1,"entries":[${'{},'.repeat(20_000_000 - 1)}{}]}`)
    await loopDelayMs(app)
    let writing = true
    const pathological = fetch(`${stack('empties')}/snapshots`, { method: 'POST', body: empties }).finally(() => {
      writing = false
    })
    let probeMax = 0
    let probes = 0
    while (writing) {
      const p0 = performance.now()
      await (await fetch(`${app.url}/healthz`)).arrayBuffer()
      probeMax = Math.max(probeMax, performance.now() - p0)
      probes++
    }
    const refused = await pathological
    await refused.arrayBuffer()
    const emptiesDelay = await loopDelayMs(app)
    process.stdout.write(`  (60 MB of empty objects answered ${refused.status}; ${probes} /healthz probes meanwhile)\n`)
    record(
      '60 MB of empty objects (POST): longest event-loop delay',
      emptiesDelay,
      'ms',
      null,
      '—',
      '≤ 50 ms',
      (_r, v) => v <= 50,
    )
    record('60 MB of empty objects (POST): slowest /healthz meanwhile', probeMax, 'ms', null, '—', '(info)', () => true)
    record(
      '50 MB write+read, server peak RSS growth / payload',
      peakGrowthMb / mb,
      '×',
      null,
      '—',
      '≤ 2×',
      (_r, v) => v <= 2,
    )

    // 7. 10,000 revs (paged list), 10,000 stacks (list), start-up with 10,000 stacks.
    const keyring = new Keyring({
      ref: { name: 'env-key', body: { 'env-var': 'UNOBIN_STATE_KEY' } },
      key: Buffer.alloc(32, 3),
    })
    const manyRevs = join(work, 'data', 'bench', 'many', 'snapshots')
    await mkdir(manyRevs, { recursive: true })
    const env = encodeEnvelope({
      payloadType: 'state',
      encrypter: keyring.ref,
      ciphertext: keyring.seal(unobinDoc(1024, 0)),
    })
    const start = 1_780_000_000_000_000_000n
    for (let i = 0; i < 10_000; i++)
      await writeFile(join(manyRevs, `${formatInstant(start + BigInt(i) * 1_000_000n)}.json.enc`), env)
    let l0 = performance.now()
    let after = ''
    let pages = 0
    do {
      const page = (await (
        await fetchOk(`${stack('many')}/snapshots?limit=1000${after ? `&after=${after}` : ''}`)
      ).json()) as { next: string | null }
      after = page.next ?? ''
      pages++
    } while (after !== '')
    const listRevs = (performance.now() - l0) / pages
    record(
      `list 10,000 revs, per page of 1,000 (${pages} pages)`,
      listRevs,
      'ms',
      null,
      '—',
      '≤ 200 ms',
      (_r, v) => v <= 200,
    )

    const stacksRoot = join(work, 'stacks-data')
    for (let i = 0; i < 10_000; i++) {
      const dir = join(stacksRoot, 'wide', `s${String(i).padStart(5, '0')}`)
      await mkdir(join(dir, 'snapshots'), { recursive: true })
      const name = formatInstant(start)
      await writeFile(join(dir, 'snapshots', `${name}.json.enc`), env)
      await writeFile(join(dir, 'current'), `${name}\n`)
    }
    const startupEmpty = await serverStartMs(join(work, 'empty-data'))
    const startup = await serverStartMs(stacksRoot)
    const startupBare = await bareStartMs()
    const wide = await startTarget('app', stacksRoot)
    l0 = performance.now()
    await fetchOk(`${wide.url}/v1/factories/wide/stacks`)
    const listStacks = performance.now() - l0
    l0 = performance.now()
    await fetchOk(`${wide.url}/v1/factories/wide/stacks?limit=1000`)
    const listStacks1000 = performance.now() - l0
    l0 = performance.now()
    await fetchOk(`${wide.url}/v1/factories`)
    const listFactories = performance.now() - l0
    await stop(wide)
    record(
      'list stacks of a factory with 10,000 stacks (default page, 100)',
      listStacks,
      'ms',
      null,
      '—',
      '≤ 200 ms',
      (_r, v) => v <= 200,
    )
    record(
      'list stacks of a factory with 10,000 stacks (page of 1,000)',
      listStacks1000,
      'ms',
      null,
      '—',
      '(info)',
      () => true,
    )
    record(
      'list factories (one factory of 10,000 stacks)',
      listFactories,
      'ms',
      null,
      '—',
      '≤ 200 ms',
      (_r, v) => v <= 200,
    )
    record(
      'start-up to listening, empty data dir (dist/src/server.js)',
      startupEmpty,
      'ms',
      startupBare,
      'bare Fastify, exec to listening',
      '≤ 300 ms',
      (_r, v) => v <= 300,
    )
    record(
      'start-up to listening with 10,000 stacks (dist/src/server.js)',
      startup,
      'ms',
      startupEmpty,
      'start-up with an empty data dir',
      '≤ 300 ms',
      (_r, v) => v <= 300,
    )

    // 7b. Lock + unlock with credentials and the lock cap, 10,000 stacks (the cap reads the caller's index, not every stack).
    const authed = await startTarget('auth', stacksRoot)
    const bearer = { authorization: 'Bearer bench-token' }
    const lockCycle = async (): Promise<number> => {
      const c0 = performance.now()
      const holder = (await (
        await fetchOk(`${authed.url}/v1/factories/wide/stacks/s00042/lock`, { method: 'POST', headers: bearer })
      ).json()) as { id: string }
      await fetchOk(`${authed.url}/v1/factories/wide/stacks/s00042/lock?id=${holder.id}`, {
        method: 'DELETE',
        headers: bearer,
      })
      return performance.now() - c0
    }
    await lockCycle()
    const lockSamples: number[] = []
    for (let i = 0; i < 50; i++) lockSamples.push(await lockCycle())
    lockSamples.sort((a, b) => a - b)
    const concurrent0 = performance.now()
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetchOk(`${authed.url}/v1/factories/wide/stacks/s${String(100 + i).padStart(5, '0')}/lock`, {
          method: 'POST',
          headers: bearer,
        }),
      ),
    )
    const concurrentLocks = performance.now() - concurrent0
    await stop(authed)
    record(
      'lock + unlock p50 with credentials and --max-locks, 10,000 stacks',
      lockSamples[Math.floor(lockSamples.length / 2)]!,
      'ms',
      null,
      '—',
      '≤ 20 ms',
      (_r, v) => v <= 20,
    )
    record(
      '20 concurrent locks with credentials, 10,000 stacks (all answered)',
      concurrentLocks,
      'ms',
      null,
      '—',
      '≤ 500 ms',
      (_r, v) => v <= 500,
    )

    // 8. Terraform GET/POST of a 1 MB state vs native routes.
    const tf = `${app.url}/v1/factories/bench/stacks/tf/terraform`
    await fetchOk(tf, { method: 'POST', body: terraformDoc(1024 * 1024, 1) })
    await fetchOk(`${stack('native1m')}/snapshots?current=true`, { method: 'POST', body: unobinDoc(1024 * 1024, 1) })
    const nativeGet = await cannon({ url: `${stack('native1m')}/current`, connections: 10 })
    const tfGet = await cannon({ url: tf, connections: 10 })
    record(
      'Terraform GET, 1 MB state',
      tfGet.rps,
      'req/s',
      nativeGet.rps,
      'native GET current 1 MB',
      '≥ 0.9×',
      (r) => r !== null && r >= 0.9,
    )
    const native1m = unobinDoc(1024 * 1024, 4)
    const nativePost = await cannon({
      url: `${stack('native1m-w')}/snapshots`,
      connections: 4,
      method: 'POST',
      body: native1m,
    })
    // Each request carries the next serial. The body is built once with room for the digits
    // (JSON allows the spaces after them), and each request copies it and writes its serial in:
    // about 0.1 ms, where rebuilding a 1 MB string per request cost the one client several.
    const template = terraformDoc(1024 * 1024, 0)
    const serialAt = template.indexOf('"serial": 0') + '"serial": '.length
    const spaced = Buffer.concat([
      template.subarray(0, serialAt),
      Buffer.alloc(12, ' '),
      template.subarray(serialAt + 1),
    ])
    let serial = 10
    const tfPost = await cannon({
      url: tf,
      connections: 1,
      requests: [
        {
          method: 'POST',
          setupRequest: (req) => {
            const body = Buffer.from(spaced)
            body.write(String(++serial), serialAt, 'latin1')
            return { ...req, body }
          },
        },
      ],
    })
    // A Terraform write always becomes current, so the native baseline makes its write current too.
    const nativeSerial = await cannon({
      url: `${stack('native1m-s')}/snapshots?current=true`,
      connections: 1,
      method: 'POST',
      body: native1m,
    })
    record(
      'Terraform POST, 1 MB state (one client, serial order)',
      tfPost.rps,
      'req/s',
      nativeSerial.rps,
      'native POST ?current=true 1 MB, one client',
      '≥ 0.9×',
      (r) => r !== null && r >= 0.9,
    )
    process.stdout.write(`  (native POST 1 MB with 4 connections: ${nativePost.rps.toFixed(1)} req/s)\n`)

    await stop(app)
    await stop(bare)
    await recordDiff(work)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  await writeResults(undefined)
}

/** The diff scenario's rows: time of a cold diff of two 10 MB states, and the server's memory growth. */
async function recordDiff(work: string): Promise<void> {
  const d = await diffScenario({ startTarget, stop, rssKb, rssPeakKb, fetchOk }, work)
  const mb = (d.documentBytes / 2 / 2 ** 20).toFixed(1)
  process.stdout.write(
    `  (diff: ${d.resources} resources per state, ${d.changed} changed; warm repeat ${d.warmMs.toFixed(0)} ms)\n`,
  )
  record(
    `diff two ${mb} MB Terraform states, 1% of resources changed (cold)`,
    d.coldMs,
    'ms',
    null,
    '',
    '≤ 1000 ms',
    (_r, v) => v <= 1000,
  )
  record(
    `diff two ${mb} MB Terraform states, server peak RSS growth / both documents`,
    (d.growthKb * 1024) / d.documentBytes,
    '×',
    null,
    '',
    '≤ 5×',
    (_r, v) => v <= 5,
  )
}

/** Writes bench/results.json and the table in BENCHMARKS.md (with `only`: just those rows, the others kept). */
async function writeResults(only: string | undefined): Promise<void> {
  const stamp = new Date().toISOString().slice(0, 10)
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`
  if (only === undefined)
    await writeFile(
      join(repo, 'bench', 'results.json'),
      `${JSON.stringify({ date: new Date().toISOString(), machine, seconds: SECONDS, only: only ?? null, rows }, null, 2)}\n`,
    )
  const fmt = (n: number | null) => (n === null ? '—' : n >= 100 ? n.toFixed(0) : n.toFixed(2))
  const table = [
    '| scenario | value | baseline (same run) | ratio | target | |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${fmt(r.value)} ${r.unit} | ${r.baseline === null ? '—' : `${fmt(r.baseline)} ${r.unit} (${r.baselineName})`} | ${r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`} | ${r.target} | ${r.met ? 'met' : '**missed**'} |`,
    ),
  ].join('\n')
  const path = join(repo, 'BENCHMARKS.md')
  let doc = ''
  try {
    doc = await readFile(path, 'utf8')
  } catch {
    doc = '# Benchmarks\n\n<!-- bench:start -->\n<!-- bench:end -->\n'
  }
  if (only === undefined) {
    const block = `<!-- bench:start -->\nLatest \`npm run bench\` (${stamp}, ${machine}, ${SECONDS} s per load run):\n\n${table}\n<!-- bench:end -->`
    doc = doc.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, block)
  } else {
    // One scenario alone: replace its rows (by scenario name up to the figures), or add them at the table's end.
    for (const line of table.split('\n').slice(2)) {
      const name = line.split(' | ')[0]!.replace(/\d+\.\d MB/, '')
      const lines = doc.split('\n')
      const at = lines.findIndex((l) => l.startsWith('| ') && l.split(' | ')[0]!.replace(/\d+\.\d MB/, '') === name)
      if (at >= 0) lines[at] = line
      else lines.splice(lines.indexOf('<!-- bench:end -->'), 0, line)
      doc = lines.join('\n')
    }
  }
  await writeFile(path, doc)
  process.stdout.write(`\nwrote bench/results.json and the table in BENCHMARKS.md\n`)
}

await main()
