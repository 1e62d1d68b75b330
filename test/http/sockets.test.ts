/**
 * The lock over real sockets, in one process: long-poll waits woken by an
 * unlock, a waiter that hangs up, lease expiry fencing, retried unlocks and
 * the end of waits at shutdown. `inject` cannot close a connection mid-request
 * or hold two requests open at once, so each test listens on 127.0.0.1:0.
 */
import t, { type Test } from 'tap'
import { Agent, request as httpRequest } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'
import { setImmediate as tick } from 'node:timers/promises'
import type { App } from '../../src/http/app-type.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { ManualClock } from '../helpers/clock.js'
import { call } from '../helpers/http-call.js'
import { mutexCycle } from '../helpers/mutex-cycle.js'
import { parseExposition, sampleValue } from '../helpers/prom-text.js'
import { sampleSnapshot } from '../helpers/store.js'
import { waitFor } from '../helpers/wait.js'

const STACK = stackUrl('f1', 's1')

/** How long a helper waits for a file-system event before failing the test instead of hanging it (a guard, not an assertion). */
const GUARD_MS = 15_000

/** Listens on an ephemeral loopback port; returns the base URL. buildTestApp closes the app in teardown. */
async function listen(app: App): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return `http://127.0.0.1:${port}`
}

/** Takes the lock without waiting; fails the test unless it answers 201. */
async function lock(
  t: Test,
  base: string,
  claims: Record<string, unknown> = {},
): Promise<{ id: string; generation: number }> {
  const res = await call(base, 'POST', `${STACK}/lock`, { json: claims })
  t.equal(res.status, 201, `lock ${JSON.stringify(claims)} answers 201`)
  return res.body
}

t.test('a waiter blocked on ?wait= gets 201 right after the holder unlocks, with the next generation', async (t) => {
  const { app, dir } = await buildTestApp(t)
  const base = await listen(app)
  const holder = await lock(t, base, { who: 'holder' })

  const seen = mutexCycle(join(dir, 'f1', 's1'), GUARD_MS)
  t.teardown(seen.close)
  // The unlock grants the waiting request in its own critical section: both are answered once that is durable.
  const waiter = call(base, 'POST', `${STACK}/lock?wait=10`, { json: { who: 'waiter' } })
  await seen.done // the waiter has seen the lock held and is waiting

  const unlocked = await call(base, 'DELETE', `${STACK}/lock?id=${holder.id}`)
  t.equal(unlocked.status, 200)
  t.equal(unlocked.body.released.id, holder.id)

  const woken = await waiter
  t.equal(woken.status, 201, 'the waiter gets the lock')
  t.equal(woken.body.who, 'waiter')
  t.equal(woken.body.generation, holder.generation + 1, 'the next generation')
  t.not(woken.body.id, holder.id)

  const now = await call(base, 'GET', `${STACK}/lock`)
  t.equal(now.status, 200)
  t.equal(now.body.id, woken.body.id, 'the waiter holds the lock')
})

t.test('a waiter that closes its connection while waiting never holds the lock', async (t) => {
  const { app, dir } = await buildTestApp(t)
  const base = await listen(app)
  const { port } = app.server.address() as AddressInfo
  const holder = await lock(t, base, { who: 'holder' })

  // The server's side of each connection, by the client's port, to see when it notices the hang-up.
  const serverSockets = new Map<number, Socket>()
  app.server.on('connection', (socket: Socket) => {
    if (socket.remotePort !== undefined) serverSockets.set(socket.remotePort, socket)
  })

  const seen = mutexCycle(join(dir, 'f1', 's1'), GUARD_MS)
  t.teardown(seen.close)
  const body = JSON.stringify({ who: 'leaver' })
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: `${STACK}/lock?wait=10`,
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  })
  let answered = false
  req.on('response', () => {
    answered = true
  })
  req.on('error', () => {}) // destroyed on purpose
  const clientPort = new Promise<number>((resolve) =>
    req.on('socket', (socket) => socket.once('connect', () => resolve(socket.localPort!))),
  )
  req.end(body)
  await seen.done // the leaver has seen the lock held and is waiting

  const serverSide = serverSockets.get(await clientPort)
  t.ok(serverSide, "the server accepted the leaver's connection")
  const serverClosed = new Promise<void>((resolve) => {
    if (serverSide!.destroyed) resolve()
    else serverSide!.once('close', () => resolve())
  })
  req.destroy()
  await serverClosed // the server has seen the hang-up before the lock is released
  // And has ended the departed waiter's wait (no lock request waits any more): from then on it can never take the lock.
  await waitFor(
    async () => {
      const exposition = parseExposition((await app.inject({ method: 'GET', url: '/metrics' })).body)
      return sampleValue(exposition, 'unobin_state_lock_waiters') === 0
    },
    GUARD_MS,
    "the server to end the departed waiter's wait",
  )

  const unlocked = await call(base, 'DELETE', `${STACK}/lock?id=${holder.id}`)
  t.equal(unlocked.status, 200)

  // No late acquisition by the departed waiter: the stack is free after the unlock.
  const free = await call(base, 'GET', `${STACK}/lock`)
  t.equal(free.status, 404, 'GET lock after the unlock answers 404')
  t.equal(free.body.code, 'not-locked')
  const third = await call(base, 'POST', `${STACK}/lock`, { json: { who: 'third' } })
  t.equal(third.status, 201, 'a third client takes the lock at once')
  t.equal(third.body.who, 'third')
  t.equal(third.body.generation, holder.generation + 1, 'the departed waiter never took a generation')
  t.notOk(answered, 'the departed waiter got no answer')
})

t.test('a holder whose lease expired is refused 423 lock-lost on write, and another client can lock', async (t) => {
  const clock = new ManualClock('2026-07-10T12:00:00Z')
  const { app } = await buildTestApp(t, { clock })
  const base = await listen(app)
  const old = await lock(t, base, { who: 'old', ttl: 1 })

  const before = await call(base, 'POST', `${STACK}/snapshots`, {
    body: sampleSnapshot('in-lease'),
    headers: { 'lock-id': old.id },
  })
  t.equal(before.status, 201, 'a write inside the lease is accepted')

  clock.advanceMs(1200)
  const free = await call(base, 'GET', `${STACK}/lock`)
  t.equal(free.status, 404, 'an expired lease frees the stack')

  const late = await call(base, 'POST', `${STACK}/snapshots`, {
    body: sampleSnapshot('late'),
    headers: { 'lock-id': old.id },
  })
  t.equal(late.status, 423)
  t.equal(late.body.code, 'lock-lost')
  t.equal(late.body.lockId, old.id)

  const next = await lock(t, base, { who: 'next' })
  t.equal(next.generation, old.generation + 1)
  const later = await call(base, 'POST', `${STACK}/snapshots`, {
    body: sampleSnapshot('later'),
    headers: { 'lock-id': old.id },
  })
  t.equal(later.status, 423, 'still refused once another client holds the lock')
  t.equal(later.body.code, 'lock-lost')

  const list = await call(base, 'GET', `${STACK}/snapshots`)
  t.equal(list.body.revs.length, 1, 'only the write made inside the lease was stored')
  t.equal(list.body.revs[0], before.body.rev)
})

t.test('a retried unlock of a lock just released by the same id answers 200', async (t) => {
  const { app } = await buildTestApp(t)
  const base = await listen(app)
  const held = await lock(t, base, { who: 'ci' })

  const first = await call(base, 'DELETE', `${STACK}/lock?id=${held.id}`)
  t.equal(first.status, 200)
  t.equal(first.body.released.id, held.id)
  t.equal(first.body.forced, false)

  const retry = await call(base, 'DELETE', `${STACK}/lock`, { headers: { 'lock-id': held.id } })
  t.equal(retry.status, 200, 'the retry succeeds')
  t.equal(retry.body.released.id, held.id)
  t.equal(retry.body.released.generation, held.generation)

  const stranger = await call(base, 'DELETE', `${STACK}/lock?id=not-the-id`)
  t.equal(stranger.status, 409, 'an id that never held the lock is still refused')
  t.equal(stranger.body.code, 'lock-not-held')
})

t.test('a pending waiter gets 503 shutting-down when the app starts closing', async (t) => {
  const { app, dir, root } = await buildTestApp(t)
  const base = await listen(app)
  const holder = await lock(t, base, { who: 'holder' })

  const seen = mutexCycle(join(dir, 'f1', 's1'), GUARD_MS)
  t.teardown(seen.close)
  const waiter = call(base, 'POST', `${STACK}/lock?wait=10`, { json: { who: 'waiter' } })
  await seen.done

  const closing = app.close()
  const answer = await waiter
  t.equal(answer.status, 503)
  t.equal(answer.body.code, 'shutting-down')
  t.equal(answer.headers.get('retry-after'), '1')
  // Otherwise the client's idle keep-alive connection holds app.close() open until keepAliveTimeout.
  t.equal(answer.headers.get('connection'), 'close', 'the waiter is told to close its connection')
  await closing

  const still = await root.stack('f1', 's1').inspectLock()
  t.equal(still?.id, holder.id, 'the held lock is untouched by the shutdown')
  t.equal(still?.generation, holder.generation)
})

t.test('a request in flight when the app starts closing is answered with Connection: close', async (t) => {
  const { app } = await buildTestApp(t)
  await listen(app)
  const { port } = app.server.address() as AddressInfo
  const agent = new Agent({ keepAlive: true })
  t.teardown(() => agent.destroy()) // so a failing run does not hold app.close() open for the keep-alive timeout

  const received = new Promise<void>((resolve) => app.server.once('request', () => resolve()))
  const body = sampleSnapshot('in-flight')
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: `${STACK}/snapshots`,
    agent,
    headers: { 'content-type': 'application/json', 'content-length': body.length },
  })
  const answered = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }))
    })
    req.on('error', reject)
  })
  req.write(body.subarray(0, 10))
  await received // the server is reading this request's body
  await tick()

  const closing = app.close()
  req.end(body.subarray(10))
  const answer = await answered
  t.equal(answer.status, 201, 'the in-flight write finishes')
  // With keep-alive the idle connection holds app.close() open until keepAliveTimeout (72 s),
  // past the process's 30 s shutdown limit.
  t.equal(answer.connection, 'close', 'the client is told to close its connection')
  agent.destroy()
  await closing
})
