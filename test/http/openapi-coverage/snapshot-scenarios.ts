/** Scenarios of current, the snapshots and gc. */
import { readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { LARGE_BODY_BYTES } from '../../../src/http/large-bodies.js'
import { join } from 'node:path'
import { stackUrl } from '../../helpers/app.js'
import { sampleSnapshot } from '../../helpers/store.js'
import { STACK, type Scenario, type StatusScenarios, sc } from './scenario.js'
import { JSON_TYPE, SOME_REV, forceUnlock, fresh, seedRev, send, takeLock, writeRev } from './requests.js'
import { BODY_LIMIT, busy, faulty, folding, plain, strict } from './apps.js'
import { fault, withFault } from './faults.js'

export const snapshotScenarios: Readonly<Record<string, StatusScenarios>> = {
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
    400: [
      sc('a stack spelled in another case than on a volume that folds case', 'name-case-conflict', async () =>
        send(folding, 'GET', `${stackUrl('cased', 'App')}/current`),
      ),
    ],
    404: [sc('a stack without current', 'no-current', async () => send(plain, 'GET', `${fresh(plain).url}/current`))],
    409: [
      sc('redacted, a state its client encrypted', 'opaque-state', async () =>
        send(plain, 'GET', `${(await encryptedState()).url}/current?redacted=true`),
      ),
    ],
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
    503: [
      sc(
        'a large body while --max-large-bodies large bodies are in flight',
        'server-busy',
        async () => {
          const url = `${fresh(busy).url}/snapshots`
          // A large body still arriving over a socket holds the one place (100 Continue: its headers were taken).
          if (!busy.app.server.listening) await busy.app.listen({ host: '127.0.0.1', port: 0 })
          const address = busy.app.server.address() as { port: number }
          const held = request(`http://127.0.0.1:${address.port}${url}`, {
            method: 'POST',
            headers: { ...JSON_TYPE, 'content-length': String(LARGE_BODY_BYTES), expect: '100-continue' },
          })
          held.on('error', () => {})
          held.flushHeaders()
          await new Promise<void>((resolve) => held.once('continue', () => resolve()))
          try {
            return await send(busy, 'POST', url, { raw: Buffer.alloc(LARGE_BODY_BYTES, 0x20) })
          } finally {
            held.destroy()
          }
        },
        (t, res) => t.ok(res.headers['retry-after'], 'with Retry-After'),
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
    409: [
      sc('redacted, a state its client encrypted', 'opaque-state', async () => {
        const s = await encryptedState()
        const { revs } = JSON.parse((await send(plain, 'GET', `${s.url}/snapshots`)).body) as { revs: string[] }
        return send(plain, 'GET', `${s.url}/snapshots/${revs[0]}?redacted=true`)
      }),
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
}

/** A fresh stack whose one rev is a state its client encrypted (OpenTofu's encrypted_data). */
async function encryptedState() {
  const s = fresh(plain)
  const state = JSON.stringify({ serial: 1, lineage: 'l', encrypted_data: 'AAAA', encryption_version: 'v0' })
  const res = await send(plain, 'POST', `${s.url}/terraform`, { raw: state })
  if (res.statusCode !== 200) throw new Error(`setup: writing an encrypted state answered ${res.statusCode}`)
  return s
}
