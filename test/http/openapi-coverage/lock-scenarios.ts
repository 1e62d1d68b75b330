/** Scenarios of the native lock routes. */
import { mkdir, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { bearer } from '../../helpers/auth.js'
import { waitFor } from '../../helpers/wait.js'
import { STACK, type StatusScenarios, sc } from './scenario.js'
import { forceUnlock, fresh, send, takeLock } from './requests.js'
import { CI, capped, clock, closingApp, faulty, newDir, plain } from './apps.js'
import { fault } from './faults.js'

export const lockScenarios: Readonly<Record<string, StatusScenarios>> = {
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
        await waitFor(() => store.waiting > 0, 30_000, 'the waiter to queue')
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
          await waitFor(() => store.waiting > 0, 30_000, 'the waiter to queue')
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
}
