/**
 * A benchmark target process: `app` is the real server (buildApp over a data
 * dir, env-key sealing, audit off, logs silent); `bare` is plain Fastify with
 * the baselines (hello-world JSON, a 1 MB buffer from memory); `auth` is
 * the real server with credentials (token `bench-token`, every permission)
 * and the default lock cap of 100. Prints `listening <url>` on stdout.
 * Over IPC (when spawned with one), the message `loop-delay` answers the
 * longest event-loop delay (ms) since the previous one.
 */
import { hostname } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import Fastify from 'fastify'
import { buildApp } from '../src/app.js'
import { NullAuditLog } from '../src/audit.js'
import { createAuthenticator } from '../src/auth/authenticator.js'
import { hashToken } from '../src/auth/token-hash.js'
import { parseTokensFile } from '../src/auth/tokens-file.js'
import { SystemClock } from '../src/clock.js'
import { Keyring } from '../src/crypto/keyring.js'
import { createLogger } from '../src/logger.js'
import { SnapshotCache } from '../src/store/snapshot-cache.js'
import { StoreRoot } from '../src/store/store-root.js'

const [mode, dataDir] = process.argv.slice(2)
const loopDelay = monitorEventLoopDelay({ resolution: 5 })
loopDelay.enable()
process.on('message', (message) => {
  if (message !== 'loop-delay') return
  process.send?.({ maxMs: loopDelay.max / 1e6 })
  loopDelay.reset()
})
process.channel?.unref()
const key = { ref: { name: 'env-key', body: { 'env-var': 'UNOBIN_STATE_KEY' } }, key: Buffer.alloc(32, 3) }

if (mode === 'bare') {
  const app = Fastify({ logger: false, bodyLimit: 128 * 1024 * 1024 })
  const megabyte = Buffer.alloc(1024 * 1024, 'x')
  app.get('/hello', async () => ({ hello: 'world' }))
  app.get('/bytes', async (_req, reply) => reply.type('application/json').send(megabyte))
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  process.stdout.write(`listening ${url}\n`)
} else {
  const root = new StoreRoot({
    root: dataDir!,
    encrypter: new Keyring(key),
    clock: new SystemClock(),
    identity: { pid: process.pid, host: hostname() },
    cache: new SnapshotCache(64 * 1024 * 1024),
  })
  const { app, warmUp } = await buildApp({
    config: { requireLock: false, maxWaitSeconds: 60, bodyLimitBytes: 128 * 1024 * 1024 },
    root,
    audit: new NullAuditLog(),
    logger: createLogger('silent'),
    version: 'bench',
    auth:
      mode === 'auth'
        ? {
            authenticator: createAuthenticator(
              parseTokensFile(
                JSON.stringify({
                  tokens: [{ name: 'bench', hash: hashToken('bench-token'), grants: [{ scope: '*/*', allow: ['*'] }] }],
                }),
                'bench-tokens.json',
              ),
            ),
            rateLimit: null,
            maxLocksPerCaller: 100,
          }
        : undefined,
  })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  // As the server does once listening; the scenarios start after it, so no first request compiles a schema.
  await warmUp()
  process.stdout.write(`listening ${url}\n`)
}
