/**
 * Disk faults over HTTP: every mutation route, failed by the disk
 * with ENOSPC or EIO at a chosen call, answers 507 no-space or 500
 * storage-failure naming the stack and the operation, leaves every file as
 * it was (no partial snapshot, no moved pointer), keeps serving reads, and
 * succeeds when retried once the fault is gone. A volume that stays full or
 * read-only keeps reads working and readiness false until it recovers,
 * without a restart.
 */
import t, { type Test } from 'tap'
import { constants, existsSync, readFileSync, readdirSync } from 'node:fs'
import type * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import { Keyring } from '../../src/crypto/keyring.js'
import { keyFromEnv } from '../../src/crypto/keys.js'
import { type FsOps, nodeFs } from '../../src/fs/fs-ops.js'
import type { App } from '../../src/http/app-type.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { ManualClock } from '../helpers/clock.js'
import { FaultyFs, type FaultyMethod } from '../helpers/faulty-fs.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'

const JSON_TYPE = { 'content-type': 'application/json' }
const S1 = stackUrl('f1', 's1')
const OLD = keyFromEnv({ STATE_KEY_OLD: Buffer.alloc(32, 'o').toString('base64') }, 'STATE_KEY_OLD')
const NEW = keyFromEnv({ STATE_KEY_NEW: Buffer.alloc(32, 'n').toString('base64') }, 'STATE_KEY_NEW')

/** One request an operator or a client sends. */
interface Call {
  readonly method: 'POST' | 'PUT' | 'DELETE'
  readonly url: string
  readonly headers?: Record<string, string>
  readonly payload?: unknown
}

/** A mutation route, how to set the stack up for it, and where the disk fails it. */
interface Case {
  readonly route: string
  /** Builds the state of stack `url` (through the app, fault off); returns the request to fail and retry. */
  readonly prepare: (app: App, url: string, dir: string) => Promise<Call>
  readonly method: FaultyMethod
  readonly nth: number
  readonly match?: (path: string) => boolean
  readonly operation: RegExp
}

const isRevFile = (path: string) => path.endsWith('.json.enc')

async function write(app: App, url: string, marker: number, query = ''): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: `${url}/snapshots${query}`,
    headers: JSON_TYPE,
    payload: sampleSnapshot(marker),
  })
  if (res.statusCode !== 201) throw new Error(`seed write answered ${res.statusCode}: ${res.body}`)
  return res.json<{ rev: string }>().rev
}

const CASES: readonly Case[] = [
  {
    route: 'POST …/snapshots',
    prepare: async (app, url) => {
      await write(app, url, 1, '?current=true')
      return { method: 'POST', url: `${url}/snapshots?current=true`, headers: JSON_TYPE, payload: sampleSnapshot(2) }
    },
    method: 'link',
    nth: 1,
    operation: /writing a snapshot/,
  },
  {
    route: 'PUT …/current',
    prepare: async (app, url) => {
      const first = await write(app, url, 1, '?current=true')
      await write(app, url, 2, '?current=true')
      return { method: 'PUT', url: `${url}/current`, payload: { rev: first } }
    },
    method: 'rename',
    nth: 1,
    operation: /setting current/,
  },
  {
    route: 'DELETE …/snapshots/{rev}',
    prepare: async (app, url) => {
      const first = await write(app, url, 1)
      await write(app, url, 2, '?current=true')
      return { method: 'DELETE', url: `${url}/snapshots/${first}` }
    },
    method: 'rename',
    nth: 1,
    match: isRevFile,
    operation: /deleting rev/,
  },
  {
    route: 'POST …/snapshots:gc',
    prepare: async (app, url) => {
      for (let i = 0; i < 3; i++) await write(app, url, i, '?current=true')
      return { method: 'POST', url: `${url}/snapshots:gc`, payload: { keep: 1 } }
    },
    method: 'rename',
    nth: 1,
    match: isRevFile,
    operation: /collecting garbage/,
  },
  {
    route: 'POST …/lock',
    prepare: async (app, url) => {
      await write(app, url, 1, '?current=true')
      return { method: 'POST', url: `${url}/lock`, payload: { who: 'ci' } }
    },
    method: 'link',
    nth: 1,
    operation: /taking the lock/,
  },
  {
    route: 'DELETE …/lock',
    prepare: async (app, url) => {
      await write(app, url, 1, '?current=true')
      const lock = (await app.inject({ method: 'POST', url: `${url}/lock`, payload: { who: 'ci' } })).json<{
        id: string
      }>()
      return { method: 'DELETE', url: `${url}/lock?id=${lock.id}` }
    },
    method: 'rename',
    nth: 1,
    operation: /releasing the lock/,
  },
  {
    route: 'POST …/snapshots:prune',
    prepare: async (app, url) => {
      for (let i = 0; i < 4; i++) await write(app, url, i, i === 0 ? '?current=true' : '')
      return { method: 'POST', url: `${url}/snapshots:prune`, payload: { keep: 1 } }
    },
    // The second of two moves fails: the first is moved back.
    method: 'rename',
    nth: 2,
    operation: /pruning revs/,
  },
  {
    route: 'POST …/snapshots:restore',
    prepare: async (app, url) => {
      const first = await write(app, url, 1)
      await write(app, url, 2, '?current=true')
      await app.inject({ method: 'POST', url: `${url}/snapshots:prune`, payload: { keep: 1 } })
      return { method: 'POST', url: `${url}/snapshots:restore`, payload: { rev: first } }
    },
    method: 'link',
    nth: 1,
    operation: /restoring rev/,
  },
  {
    route: 'POST …/snapshots:reseal',
    prepare: async (_app, url, dir) => {
      const old = makeRoot(dir, { encrypter: new Keyring(OLD), clock: new ManualClock() })
      const [, , , factory, , stack] = url.split('/')
      for (let i = 0; i < 2; i++)
        await old.stack(factory!, stack!).write(sampleSnapshot(i), { payloadType: 'state', makeCurrent: true })
      old.close()
      return { method: 'POST', url: `${url}/snapshots:reseal` }
    },
    method: 'rename',
    nth: 1,
    operation: /re-sealing rev/,
  },
]

/** Every file under `dir` with its bytes (directories and the internal `.mutex` aside: they hold no data). */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (rel: string): void => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`
      if (entry.name === '.mutex') continue
      if (entry.isDirectory()) walk(path)
      else out[path] = readFileSync(join(dir, path)).toString('base64')
    }
  }
  if (existsSync(dir)) walk('')
  return out
}

/** What a reader of stack `url` sees: the list, the current snapshot and the lock. */
async function reads(app: App, url: string = S1): Promise<string[]> {
  const list = await app.inject({ method: 'GET', url: `${url}/snapshots` })
  const current = await app.inject({ method: 'GET', url: `${url}/current` })
  const lock = await app.inject({ method: 'GET', url: `${url}/lock` })
  return [`${list.statusCode} ${list.body}`, `${current.statusCode} ${current.body}`, `${lock.statusCode}`]
}

function send(app: App, call: Call): Promise<LightMyRequestResponse> {
  return app.inject({
    method: call.method,
    url: call.url,
    ...(call.headers ? { headers: call.headers } : {}),
    ...(call.payload === undefined ? {} : { payload: call.payload as string }),
  })
}

const EXPECTED = { ENOSPC: { status: 507, code: 'no-space' }, EIO: { status: 500, code: 'storage-failure' } } as const

// One app for every case (building one per case costs more than the cases):
// each case has its own stack, and a FaultyFs fault fails only the call it names.
const shared = (async () => {
  const dir = t.testdir()
  const fs = new FaultyFs()
  const { app } = await buildTestApp(t, { dir, fs, clock: new ManualClock(), encrypter: new Keyring(NEW, [OLD]) })
  return { dir, fs, app }
})()

for (const [i, c] of CASES.entries()) {
  for (const errno of ['ENOSPC', 'EIO'] as const) {
    t.test(
      `${c.route} failed by ${errno} answers ${EXPECTED[errno].status} ${EXPECTED[errno].code} naming the stack and operation, changes nothing, and succeeds on retry`,
      async (t) => {
        const { dir, fs, app } = await shared
        const stack = `case-${i}-${errno}`
        const url = stackUrl('f1', stack)
        const call = await c.prepare(app, url, dir)
        const before = { files: files(dir), reads: await reads(app, url) }
        fs.failNth(c.method, c.nth, errno, c.match)
        const res = await send(app, call)
        t.ok(fs.fired, 'the fault was injected')
        t.equal(res.statusCode, EXPECTED[errno].status)
        t.match(String(res.headers['content-type']), /^application\/problem\+json/)
        const body = res.json<Record<string, unknown>>()
        t.match(
          body,
          { code: EXPECTED[errno].code, status: EXPECTED[errno].status, factory: 'f1', stack, operation: c.operation },
          'the problem names the stack and the operation',
        )
        t.match(String(body.detail), `f1/${stack}`, 'and so does the detail')
        t.same(files(dir), before.files, 'every file is byte-identical')
        t.same(await reads(app, url), before.reads, 'reads answer as before')
        fs.clear()
        const retry = await send(app, call)
        t.ok(
          retry.statusCode >= 200 && retry.statusCode < 300,
          `the same request succeeds once the fault is gone (${retry.statusCode} ${retry.body})`,
        )
      },
    )
  }
}

/**
 * A volume that stays broken until told otherwise: `full` fails every file
 * or directory creation with ENOSPC (as a full disk does; removing still
 * works), `read-only` fails every change with EROFS. Reads always pass.
 * FaultyFs fails one call; these faults last, to prove reads and readiness
 * during the outage and recovery without a restart.
 */
class BrokenVolume implements FsOps {
  mode: 'ok' | 'full' | 'read-only' = 'ok'
  readonly readFile = nodeFs.readFile
  readonly readdir = nodeFs.readdir
  readonly lstat = nodeFs.lstat
  readonly watch = nodeFs.watch
  readonly utimes = (async (...args: Parameters<typeof fsp.utimes>) => {
    this.#fail('read-only', 'utimes', args[0])
    return nodeFs.utimes(...args)
  }) as typeof fsp.utimes
  readonly rmdir = (async (...args: Parameters<typeof fsp.rmdir>) => {
    this.#fail('read-only', 'rmdir', args[0])
    return nodeFs.rmdir(...args)
  }) as typeof fsp.rmdir
  readonly open: FsOps['open'] = async (path, flags, mode) => {
    const writes =
      typeof flags === 'number' && (flags & (constants.O_CREAT | constants.O_WRONLY | constants.O_RDWR)) !== 0
    if (writes) this.#fail('full', 'open', path)
    return nodeFs.open(path, flags, mode)
  }
  readonly mkdir = (async (...args: Parameters<typeof fsp.mkdir>) => {
    this.#fail('full', 'mkdir', args[0])
    return nodeFs.mkdir(...args)
  }) as typeof fsp.mkdir
  readonly link = (async (...args: Parameters<typeof fsp.link>) => {
    this.#fail('read-only', 'link', args[1])
    return nodeFs.link(...args)
  }) as typeof fsp.link
  readonly rename = (async (...args: Parameters<typeof fsp.rename>) => {
    this.#fail('read-only', 'rename', args[1])
    return nodeFs.rename(...args)
  }) as typeof fsp.rename
  readonly unlink = (async (...args: Parameters<typeof fsp.unlink>) => {
    this.#fail('read-only', 'unlink', args[0])
    return nodeFs.unlink(...args)
  }) as typeof fsp.unlink

  /** Throws when the volume is broken in a way that fails `syscall`: a full volume only fails creation. */
  #fail(failsWhenFull: 'full' | 'read-only', syscall: string, path: unknown): void {
    if (this.mode === 'ok' || (this.mode === 'full' && failsWhenFull === 'read-only')) return
    const code = this.mode === 'full' ? 'ENOSPC' : 'EROFS'
    throw Object.assign(new Error(`${code}: injected, ${syscall} '${String(path)}'`), {
      code,
      syscall,
      path: String(path),
    })
  }
}

/** The readiness status (the cause is shown to authenticated callers: test/http/routes/health.test.ts). */
async function readiness(app: App): Promise<{ status: number; body: string }> {
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  return { status: res.statusCode, body: res.json<{ status: string }>().status }
}

async function outage(t: Test, mode: 'full' | 'read-only', expected: { status: number; code: string }): Promise<void> {
  const dir = t.testdir()
  const volume = new BrokenVolume()
  const { app } = await buildTestApp(t, { dir, fs: volume, clock: new ManualClock() })
  const first = await write(app, S1, 1, '?current=true')
  t.same(await readiness(app), { status: 200, body: 'ready' })
  const before = { files: files(dir), reads: await reads(app) }
  volume.mode = mode
  const calls: Call[] = [
    { method: 'POST', url: `${S1}/snapshots?current=true`, headers: JSON_TYPE, payload: sampleSnapshot(2) },
    { method: 'POST', url: `${S1}/lock`, payload: { who: 'ci' } },
  ]
  for (const call of calls) {
    const res = await send(app, call)
    t.equal(res.statusCode, expected.status, `${call.method} ${call.url} while ${mode}`)
    t.match(res.json(), { code: expected.code, factory: 'f1', stack: 's1' })
  }
  t.same(await reads(app), before.reads, `reads are served while the volume is ${mode}`)
  const ready = await readiness(app)
  t.same(ready, { status: 503, body: 'unavailable' }, 'not ready')
  t.same(files(dir), before.files, 'nothing changed')
  volume.mode = 'ok'
  t.same(
    await readiness(app),
    { status: 200, body: 'ready' },
    'ready again once the volume recovers, without a restart',
  )
  for (const call of calls)
    t.equal((await send(app, call)).statusCode, 201, `${call.method} ${call.url} succeeds again`)
  t.not(
    (await app.inject({ method: 'GET', url: `${S1}/current` })).headers.etag,
    `"${first}"`,
    'the new write is current',
  )
}

t.test(
  'while the volume is full, reads are served and readiness is false; writes succeed again when space returns',
  async (t) => {
    await outage(t, 'full', { status: 507, code: 'no-space' })
  },
)

t.test(
  'while the data directory is read-only, reads are served and readiness is false; it recovers by itself',
  async (t) => {
    await outage(t, 'read-only', { status: 500, code: 'storage-failure' })
  },
)
