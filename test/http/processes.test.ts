/**
 * Real server processes (`dist/src/server.js`) sharing one data directory, as
 * replicas on one volume do: lock exclusion and fencing across processes,
 * waiters woken by another process's unlock, writes visible at once through
 * the other process, SIGTERM ending waits while held locks survive a restart,
 * and the command line's help and refusals.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { SERVER_JS, type ServerProcess, startServer } from '../helpers/server-process.js'
import { type Answer, call } from '../helpers/http-call.js'
import { mutexCycle } from '../helpers/mutex-cycle.js'
import { sampleSnapshot } from '../helpers/store.js'

/** The base path of stack `name` of factory f1 (each test uses its own stack of the shared data dir). */
function stackPath(name: string): string {
  return `/v1/factories/f1/stacks/${name}`
}

/** How long a helper waits before failing the test instead of hanging it (a guard, not an assertion). */
const GUARD_MS = 60_000

/** Clients per server process in the exclusion test, and lock cycles each client runs. */
const CLIENTS_PER_SERVER = 4
const CYCLES_PER_CLIENT = 25

/** Starts a server on `dir`; it is SIGKILLed in `t`'s teardown unless it already exited. */
async function server(t: Test, dir: string): Promise<ServerProcess> {
  const s = await startServer(['--data-dir', dir, '--max-wait', '60'])
  t.teardown(() => s.stop('SIGKILL'))
  return s
}

/**
 * One data directory shared by every server of this file, as replicas share
 * a volume, and two long-lived servers A and B on it (started once: a start
 * costs a second or more on a busy machine). Tests keep apart by stack.
 */
const dataDir = t.testdir()
let pair: Promise<[ServerProcess, ServerProcess]> | undefined
function servers(): Promise<[ServerProcess, ServerProcess]> {
  pair ??= Promise.all([server(t, dataDir), server(t, dataDir)])
  return pair
}

/** Runs the server binary to completion (for flags that make it exit); kills it after a guard, or in teardown. */
async function runToExit(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [SERVER_JS, ...args], {
    env: { PATH: process.env.PATH, ...env },
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const guard = setTimeout(() => child.kill('SIGKILL'), GUARD_MS)
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
  clearTimeout(guard)
  return { code, stdout, stderr }
}

/** One lock cycle as the client saw it. */
interface Cycle {
  readonly client: string
  readonly generation: number
  readonly rev: string
  /** When the 201 of the lock arrived (test process clock). */
  readonly acquired: number
  /** When the unlock request was about to be sent. */
  readonly released: number
}

t.test(
  'clients on two server processes never hold the lock at once, and every write under the lock is kept',
  async (t) => {
    const [a, b] = await servers()
    const STACK = stackPath('exclusion')

    const cycles: Cycle[] = []
    const unexpected: string[] = []
    let timeouts = 0

    const client = async (name: string, base: string): Promise<void> => {
      for (let i = 0; i < CYCLES_PER_CLIENT; i++) {
        let held: Answer
        for (;;) {
          held = await call(base, 'POST', `${STACK}/lock?wait=30`, { json: { who: name, operation: `cycle ${i}` } })
          if (held.status === 423 && held.body?.code === 'wait-timeout') {
            timeouts++ // starved for a whole wait: not an exclusion fault, ask again
            continue
          }
          break
        }
        if (held.status !== 201) {
          unexpected.push(`${name} lock ${i}: ${held.status} ${held.text}`)
          return
        }
        const acquired = performance.now()
        const lockId: string = held.body.id
        const write = await call(base, 'POST', `${STACK}/snapshots`, {
          body: sampleSnapshot(`${name}-${i}`),
          headers: { 'lock-id': lockId },
        })
        if (write.status !== 201) unexpected.push(`${name} write ${i}: ${write.status} ${write.text}`)
        const released = performance.now()
        const unlock = await call(base, 'DELETE', `${STACK}/lock?id=${encodeURIComponent(lockId)}`)
        if (unlock.status !== 200) unexpected.push(`${name} unlock ${i}: ${unlock.status} ${unlock.text}`)
        cycles.push({ client: name, generation: held.body.generation, rev: write.body?.rev, acquired, released })
      }
    }

    const clients: Promise<void>[] = []
    for (let k = 0; k < CLIENTS_PER_SERVER; k++) {
      clients.push(client(`a${k}`, a.url), client(`b${k}`, b.url))
    }
    await Promise.all(clients)

    t.same(unexpected, [], 'every lock, write and unlock succeeded')
    const total = 2 * CLIENTS_PER_SERVER * CYCLES_PER_CLIENT
    t.equal(cycles.length, total, `${total} cycles ran`)
    t.comment(`${timeouts} waits timed out and were retried`)

    const generations = cycles.map((c) => c.generation)
    t.equal(new Set(generations).size, total, 'every acquisition has its own generation')
    const byGeneration = [...cycles].sort((x, y) => x.generation - y.generation)
    const first = byGeneration[0]!.generation
    const gaps = byGeneration.flatMap((c, i) =>
      c.generation === first + i
        ? []
        : [`position ${i}: generation ${c.generation} (${c.client}), expected ${first + i}`],
    )
    t.same(gaps.slice(0, 5), [], 'generations grow by one at every acquisition')

    const overlaps: string[] = []
    for (let i = 1; i < byGeneration.length; i++) {
      const prev = byGeneration[i - 1]!
      const next = byGeneration[i]!
      if (next.acquired <= prev.released)
        overlaps.push(
          `generation ${next.generation} (${next.client}) was granted before generation ${prev.generation} (${prev.client}) asked to unlock`,
        )
    }
    t.same(overlaps, [], 'no two holders overlap')

    const listA = await call(a.url, 'GET', `${STACK}/snapshots?limit=10000`)
    const listB = await call(b.url, 'GET', `${STACK}/snapshots?limit=10000`)
    t.equal(listA.status, 200)
    t.same(listB.body.revs, listA.body.revs, 'both processes list the same history')
    const listed = new Set<string>(listA.body.revs)
    t.same(
      byGeneration.filter((c) => !listed.has(c.rev)).map((c) => `${c.client} generation ${c.generation}: ${c.rev}`),
      [],
      'every write is listed',
    )
    t.equal(listA.body.revs.length, total, 'and nothing else')
    const misplaced = byGeneration.flatMap((c, i) =>
      listA.body.revs[i] === c.rev
        ? []
        : [`position ${i}: listed ${listA.body.revs[i]}, generation ${c.generation} (${c.client}) wrote ${c.rev}`],
    )
    t.same(misplaced.slice(0, 5), [], 'revs are listed in the order the lock was held')

    const free = await call(b.url, 'GET', `${STACK}/lock`)
    t.equal(free.status, 404, 'the stack is free at the end')
    if (free.status !== 404) t.comment(`still held: ${free.text}`)
  },
)

t.test('a waiter on one process gets the lock when the holder on another process unlocks', async (t) => {
  const [a, b] = await servers()
  const STACK = stackPath('wake')

  const holding = await call(b.url, 'POST', `${STACK}/lock`, { json: { who: 'holder-on-b' } })
  t.equal(holding.status, 201)
  const holder = holding.body

  const order: string[] = []
  const seen = mutexCycle(join(dataDir, 'f1', 'wake'), GUARD_MS)
  t.teardown(seen.close)
  const waiter = call(a.url, 'POST', `${STACK}/lock?wait=10`, { json: { who: 'waiter-on-a' } }).then((res) => {
    order.push('waiter')
    return res
  })
  await seen.done // the waiter on A has seen the lock held and is waiting

  // B frees the lock before it answers (then it writes its audit line), so A's
  // answer may arrive before B's; it can never arrive before the unlock was sent.
  order.push('unlock sent')
  const unlocked = await call(b.url, 'DELETE', `${STACK}/lock?id=${holder.id}`)
  t.equal(unlocked.status, 200)

  const woken = await waiter
  t.equal(woken.status, 201, 'the waiter on A gets the lock')
  t.equal(woken.body.who, 'waiter-on-a')
  t.equal(woken.body.generation, holder.generation + 1, 'with the next generation')
  t.same(order, ['unlock sent', 'waiter'], 'only after the unlock on B was sent')

  const seenByB = await call(b.url, 'GET', `${STACK}/lock`)
  t.equal(seenByB.body.id, woken.body.id, 'B sees the waiter as the holder')
})

t.test('a write through one process is visible through the other at once', async (t) => {
  const [a, b] = await servers()
  const STACK = stackPath('visible')

  for (let i = 0; i < 6; i++) {
    const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a]
    const bytes = sampleSnapshot(`visible-${i}`)
    const written = await call(writer.url, 'POST', `${STACK}/snapshots?current=true`, { body: bytes })
    t.equal(written.status, 201, `write ${i} answers 201`)
    t.equal(written.body.current, true)

    const read = await call(reader.url, 'GET', `${STACK}/current`)
    t.equal(read.status, 200, `read ${i} through the other process answers 200`)
    t.equal(read.text, bytes.toString(), 'the same bytes')
    t.equal(read.headers.get('etag'), `"${written.body.rev}"`, 'the same rev')
  }
})

t.test('SIGTERM answers a pending waiter 503, exits 0, and the held lock survives a restart', async (t) => {
  const first = await server(t, dataDir)
  const STACK = stackPath('restart')

  const holding = await call(first.url, 'POST', `${STACK}/lock`, { json: { who: 'holder', operation: 'apply' } })
  t.equal(holding.status, 201)
  const holder = holding.body

  const seen = mutexCycle(join(dataDir, 'f1', 'restart'), GUARD_MS)
  t.teardown(seen.close)
  const waiter = call(first.url, 'POST', `${STACK}/lock?wait=30`, { json: { who: 'waiter' } })
  await seen.done

  const exited = first.stop('SIGTERM')
  const answer = await waiter
  t.equal(answer.status, 503, 'the waiter is answered 503')
  t.equal(answer.body.code, 'shutting-down')
  t.equal(await exited, 0, 'the server exits with code 0')

  const second = await server(t, dataDir)
  const still = await call(second.url, 'GET', `${STACK}/lock`)
  t.equal(still.status, 200, 'the lock is still held after the restart')
  t.equal(still.body.id, holder.id, 'by the same id')
  t.equal(still.body.generation, holder.generation, 'with the same generation')
  t.equal(still.body.who, 'holder')

  const refused = await call(second.url, 'POST', `${STACK}/lock`, { json: { who: 'newcomer' } })
  t.equal(refused.status, 423, 'a newcomer is still refused')
  const unlocked = await call(second.url, 'DELETE', `${STACK}/lock?id=${holder.id}`)
  t.equal(unlocked.status, 200, 'the holder can unlock through the new process')
})

/**
 * The command-line runs exit before listening (and before touching the data
 * directory). The first CLI test starts all four together so their process
 * start-ups overlap; each test awaits its own run.
 */
type Run = Awaited<ReturnType<typeof runToExit>>
let cliRuns:
  | { help: Promise<Run>; badEncryption: Promise<Run>; missingKey: Promise<Run>; publicUnauthenticated: Promise<Run> }
  | undefined
function cli(): NonNullable<typeof cliRuns> {
  const dir = join(dataDir, '.cli')
  cliRuns ??= {
    help: runToExit(['--help'], {}, dataDir),
    badEncryption: runToExit(['--data-dir', dir, '--listen', '127.0.0.1:0', '--encryption', 'nope'], {}, dataDir),
    missingKey: runToExit(['--data-dir', dir, '--listen', '127.0.0.1:0', '--encryption', 'env-key'], {}, dataDir),
    publicUnauthenticated: runToExit(['--data-dir', dir, '--listen', '0.0.0.0:0'], {}, dataDir),
  }
  return cliRuns
}

t.test('--help lists every setting and exits 0', async (t) => {
  const { code, stdout, stderr } = await cli().help
  t.equal(code, 0, 'exits 0', { stderr })
  t.match(stdout, /^Usage: unobin-state-server/)
  const flags = [
    'data-dir',
    'listen',
    'encryption',
    'key-env',
    'key-file',
    'log-level',
    'max-wait',
    'require-lock',
    'audit-log',
    'allow-unauthenticated',
    'help',
    'version',
  ]
  for (const flag of flags) t.match(stdout, new RegExp(`--${flag}\\b`), `names --${flag}`)
  for (const env of [
    'UNOBIN_STATE_DATA_DIR',
    'UNOBIN_STATE_LISTEN',
    'UNOBIN_STATE_ENCRYPTION',
    'UNOBIN_STATE_KEY_ENV',
    'UNOBIN_STATE_KEY_FILE',
    'UNOBIN_STATE_LOG_LEVEL',
  ]) {
    t.match(stdout, env, `names ${env}`)
  }
})

t.test('an unknown --encryption exits 2 naming the flag', async (t) => {
  const { code, stderr } = await cli().badEncryption
  t.equal(code, 2, 'exits 2', { stderr })
  t.match(stderr, '--encryption')
  t.match(stderr, 'nope')
})

t.test('--encryption env-key without the key variable exits 2 naming UNOBIN_STATE_KEY', async (t) => {
  const { code, stderr } = await cli().missingKey
  t.equal(code, 2, 'exits 2', { stderr })
  t.match(stderr, 'UNOBIN_STATE_KEY')
})

t.test('listening on a public address without credentials exits 2 naming --allow-unauthenticated', async (t) => {
  const { code, stderr } = await cli().publicUnauthenticated
  t.equal(code, 2, 'exits 2', { stderr })
  t.match(stderr, '--allow-unauthenticated', 'the message names the flag that allows it')
})
