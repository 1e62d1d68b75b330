/** Requests and checks the v1 API tests share: problem bodies, seeded revs, locks, and a stack of its own on a shared app. */
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { AuditEvent } from '../../src/audit.js'
import type { App } from '../../src/http/app-type.js'
import { buildTestApp, stackUrl } from './app.js'
import { sampleSnapshot } from './store.js'
import type { LockHolder } from '../../src/store/lock-holder.js'

export const JSON_TYPE = { 'content-type': 'application/json' }
export const PROBLEM_FIELDS = ['type', 'title', 'status', 'code', 'detail', 'instance'] as const

/**
 * Asserts `res` is a problem answer with `status` and `code`, that it is
 * application/problem+json and carries every RFC 9457 field; returns the body.
 */
export function assertProblem(
  t: Test,
  res: LightMyRequestResponse,
  status: number,
  code: string,
): Record<string, unknown> {
  t.equal(res.statusCode, status, `status of ${code}`)
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, 'problem content type')
  const body = res.json() as Record<string, unknown>
  t.equal(body.code, code, 'problem code')
  t.equal(body.status, status, 'status in body')
  for (const field of PROBLEM_FIELDS) t.ok(Object.hasOwn(body, field), `problem has ${field}`)
  for (const field of ['type', 'title', 'detail', 'instance'] as const)
    t.type(body[field], 'string', `${field} is a string`)
  return body
}

/** POSTs a snapshot document to a stack. */
export function postSnapshot(
  app: App,
  url: string,
  body: Buffer,
  options: { query?: string; headers?: Record<string, string> } = {},
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: `${url}/snapshots${options.query ?? ''}`,
    headers: { ...JSON_TYPE, ...options.headers },
    payload: body,
  })
}

/** Writes a snapshot and returns its rev; throws (failing the test) unless the write answered 201. */
export async function writeRev(
  app: App,
  url: string,
  marker: string | number,
  options: { query?: string; headers?: Record<string, string> } = {},
): Promise<string> {
  const res = await postSnapshot(app, url, sampleSnapshot(marker), options)
  if (res.statusCode !== 201) throw new Error(`seed write answered ${res.statusCode}: ${res.body}`)
  return (res.json() as { rev: string }).rev
}

/** Takes the lock of a stack; throws unless 201. */
export async function takeLock(app: App, url: string, body: Record<string, unknown> = {}): Promise<Holder> {
  const res = await app.inject({ method: 'POST', url: `${url}/lock`, payload: body })
  if (res.statusCode !== 201) throw new Error(`lock answered ${res.statusCode}: ${res.body}`)
  return res.json() as Holder
}

/** A lock holder as the API answers it (the store's record). */
export type Holder = LockHolder

export async function currentRevOf(app: App, url: string): Promise<string | null> {
  const res = await app.inject({ method: 'GET', url: `${url}/snapshots` })
  return (res.json() as { current: string | null }).current
}

export async function revsOf(app: App, url: string): Promise<string[]> {
  const res = await app.inject({ method: 'GET', url: `${url}/snapshots` })
  return (res.json() as { revs: string[] }).revs
}

export type Built = Awaited<ReturnType<typeof buildTestApp>>
let shared: Promise<Built> | undefined
let stacks = 0

/**
 * A stack of its own on the app most tests share: building an app costs far
 * more than a test, and stacks never see each other. Tests that need server
 * options, a clock or a whole data directory build their own app.
 */
export async function ownStack(): Promise<{
  app: App
  url: string
  dir: string
  stackDir: string
  events: () => AuditEvent[]
}> {
  shared ??= buildTestApp(t)
  const built = await shared
  const stack = `s${++stacks}`
  return {
    app: built.app,
    url: stackUrl('f1', stack),
    dir: built.dir,
    stackDir: join(built.dir, 'f1', stack),
    events: () => built.audit.events.filter((e) => e.stack === stack),
  }
}
