/**
 * The server's API as the client calls it: one method per route, each typed
 * with the server's own TypeBox schemas (type-only imports: nothing of the
 * server is loaded at run time), so a field renamed on the server breaks the
 * client's build. `ROUTES` lists every (method, path) used; a test checks each
 * against the served OpenAPI document, so a renamed route fails the suite.
 *
 * Every non-2xx answer becomes a `ClientError` carrying the problem `code`,
 * its `detail`, the exit code, and the whole problem body (a refused lock
 * names its holder there).
 */
import type { Static } from 'typebox'
import type {
  FactoriesResponse,
  GcResponse,
  Holder,
  ListResponse,
  Problem,
  PruneResponse,
  SetCurrentResponse,
  StacksResponse,
  UnlockResponse,
  WriteResponse,
} from '../http/schemas.js'
import type { DiffResponse, OutputsResponse, WhoamiResponse } from '../http/console-schemas.js'
import { ClientError, EXIT, exitCodeFor } from './exit-codes.js'
import type { StackRef } from './stack-ref.js'
import type { HttpRequest, HttpResponse, Transport } from './transport.js'

/** A lock holder as the server answers it. */
export type LockHolder = Static<typeof Holder>
/** A problem body (RFC 9457) with its stable `code`. */
export type ProblemBody = Static<typeof Problem> & { holder?: LockHolder }
export type Factories = Static<typeof FactoriesResponse>
export type Stacks = Static<typeof StacksResponse>
export type RevList = Static<typeof ListResponse>
/** Each rev of a stack with who wrote it (`metadata` null: written by another tool). */
export type RevHistory = NonNullable<RevList['history']>
export type Written = Static<typeof WriteResponse>
export type CurrentMoved = Static<typeof SetCurrentResponse>
export type Unlocked = Static<typeof UnlockResponse>
export type GcReport = Static<typeof GcResponse>
export type PruneReport = Static<typeof PruneResponse>
export type Diff = Static<typeof DiffResponse>
export type Outputs = Static<typeof OutputsResponse>
export type Whoami = Static<typeof WhoamiResponse>

/** Every route the client calls, as the server declares it (checked against openapi.yaml by a test). */
export const ROUTES = {
  factories: ['get', '/v1/factories'],
  stacks: ['get', '/v1/factories/{factory}/stacks'],
  current: ['get', '/v1/factories/{factory}/stacks/{stack}/current'],
  setCurrent: ['put', '/v1/factories/{factory}/stacks/{stack}/current'],
  list: ['get', '/v1/factories/{factory}/stacks/{stack}/snapshots'],
  write: ['post', '/v1/factories/{factory}/stacks/{stack}/snapshots'],
  get: ['get', '/v1/factories/{factory}/stacks/{stack}/snapshots/{rev}'],
  gc: ['post', '/v1/factories/{factory}/stacks/{stack}/snapshots:gc'],
  prune: ['post', '/v1/factories/{factory}/stacks/{stack}/snapshots:prune'],
  holder: ['get', '/v1/factories/{factory}/stacks/{stack}/lock'],
  lock: ['post', '/v1/factories/{factory}/stacks/{stack}/lock'],
  renew: ['put', '/v1/factories/{factory}/stacks/{stack}/lock'],
  unlock: ['delete', '/v1/factories/{factory}/stacks/{stack}/lock'],
  diff: ['get', '/v1/factories/{factory}/stacks/{stack}/diff'],
  outputs: ['get', '/v1/factories/{factory}/stacks/{stack}/outputs'],
  whoami: ['get', '/v1/whoami'],
} as const

/** One entry of ROUTES. */
type Route = (typeof ROUTES)[keyof typeof ROUTES]

/** The method and concrete path of `route` for these names (each percent-encoded). */
export function routePath(
  route: Route,
  names: { factory?: string; stack?: string; rev?: string } = {},
): { method: string; path: string } {
  const path = route[1].replace(/\{(factory|stack|rev)\}/g, (_, key: 'factory' | 'stack' | 'rev') =>
    encodeURIComponent(names[key] ?? ''),
  )
  return { method: route[0].toUpperCase(), path }
}

/** A snapshot as downloaded: its bytes and the rev the server named. */
export interface Downloaded {
  readonly rev: string | undefined
  readonly body: Buffer
}

/** Progress callbacks for large bodies. */
export interface Progress {
  readonly onUpload?: HttpRequest['onUpload']
  readonly onDownload?: HttpRequest['onDownload']
}

/** The server's API over one transport. */
export class Api {
  readonly transport: Transport

  constructor(transport: Transport) {
    this.transport = transport
  }

  /** Every factory, all pages. */
  async factories(): Promise<Factories['factories']> {
    const all: Factories['factories'] = []
    let after: string | null = null
    do {
      const page: Factories = await this.#json(routePath(ROUTES.factories), { query: { after: after ?? undefined } })
      all.push(...page.factories)
      after = page.next
    } while (after !== null)
    return all
  }

  /** Every stack of `factory` with its summary, all pages. */
  async stacks(factory: string): Promise<Stacks['stacks']> {
    const all: Stacks['stacks'] = []
    let after: string | null = null
    do {
      const page: Stacks = await this.#json(routePath(ROUTES.stacks, { factory }), {
        query: { after: after ?? undefined },
      })
      all.push(...page.stacks)
      after = page.next
    } while (after !== null)
    return all
  }

  /** Every rev of a stack, oldest first, the current one, and who wrote each (null: another tool). */
  async history(ref: StackRef): Promise<{ revs: string[]; current: string | null; history: RevHistory }> {
    const revs: string[] = []
    const history: RevHistory = []
    let current: string | null = null
    let after: string | null = null
    do {
      const page: RevList = await this.#json(routePath(ROUTES.list, ref), {
        query: { after: after ?? undefined, limit: 10000, detail: true },
      })
      revs.push(...page.revs)
      history.push(...(page.history ?? []))
      current = page.current
      after = page.next
    } while (after !== null)
    return { revs, current, history: history.map((e) => ({ ...e, current: e.rev === current })) }
  }

  /** The current rev, or null when the stack has none. */
  async currentRev(ref: StackRef): Promise<string | null> {
    const page: RevList = await this.#json(routePath(ROUTES.list, ref), { query: { limit: 1 } })
    return page.current
  }

  /** The current snapshot (rev from its ETag), or one rev. */
  async download(ref: StackRef, rev: string | undefined, progress: Progress = {}): Promise<Downloaded> {
    const res = await this.#call({
      ...(rev === undefined ? routePath(ROUTES.current, ref) : routePath(ROUTES.get, { ...ref, rev })),
      ...progress,
    })
    const etag = res.headers.etag?.replace(/^W\//, '').replace(/^"(.*)"$/, '$1')
    return { rev: rev ?? etag, body: res.body }
  }

  /** Writes a snapshot; `current` also makes it current. */
  async write(
    ref: StackRef,
    body: Buffer,
    options: { current: boolean; lockId?: string | undefined },
    progress: Progress = {},
  ): Promise<Written> {
    return this.#json(routePath(ROUTES.write, ref), {
      query: { current: options.current ? true : undefined },
      headers: { 'content-type': 'application/json', ...lockIdHeader(options.lockId) },
      body,
      ...progress,
    })
  }

  /** Points current at `rev`. */
  async setCurrent(ref: StackRef, rev: string, lockId?: string): Promise<CurrentMoved> {
    return this.#json(routePath(ROUTES.setCurrent, ref), { headers: lockIdHeader(lockId), json: { rev } })
  }

  /** Keeps the newest `keep` revs (and current), deletes the rest. */
  async gc(ref: StackRef, keep: number, dryRun: boolean, lockId?: string): Promise<GcReport> {
    return this.#json(routePath(ROUTES.gc, ref), { headers: lockIdHeader(lockId), json: { keep, dryRun } })
  }

  /** Moves revs the policy does not keep into the trash (the server's policy when none is given). */
  async prune(
    ref: StackRef,
    policy: { keep?: number | undefined; maxAge?: number | undefined },
    dryRun: boolean,
    lockId?: string,
  ): Promise<PruneReport> {
    return this.#json(routePath(ROUTES.prune, ref), { headers: lockIdHeader(lockId), json: { ...policy, dryRun } })
  }

  /** The holder, or undefined when the stack is free. */
  async holder(ref: StackRef): Promise<LockHolder | undefined> {
    try {
      return await this.#json<LockHolder>(routePath(ROUTES.holder, ref))
    } catch (err) {
      if (err instanceof ClientError && err.code === 'not-locked') return undefined
      throw err
    }
  }

  /**
   * Takes the lock, long-polling up to `waitSeconds` (the server may cap
   * one poll; this keeps polling until the deadline). Throws `locked` or
   * `wait-timeout` (exit 3) with the holder in the problem.
   */
  async lock(
    ref: StackRef,
    claims: { who?: string; operation?: string; info?: string; ttl?: number | undefined },
    waitSeconds: number,
    signal?: AbortSignal,
  ): Promise<LockHolder> {
    const deadline = Date.now() + waitSeconds * 1000
    for (;;) {
      const wait = Math.max(0, Math.ceil((deadline - Date.now()) / 1000))
      try {
        return await this.#json<LockHolder>(routePath(ROUTES.lock, ref), {
          query: { wait: wait > 0 ? wait : undefined },
          json: claims,
          idleTimeoutMs: (wait + 30) * 1000,
          ...(signal ? { signal } : {}),
        })
      } catch (err) {
        // A poll shorter than our wait (server cap), or a replica shutting down: poll again until the deadline.
        const retry =
          err instanceof ClientError &&
          (err.code === 'wait-timeout' || err.code === 'shutting-down' || err.code === 'unreachable')
        if (!retry || Date.now() >= deadline - 500 || signal?.aborted) throw err
        if (err.code !== 'wait-timeout') await new Promise((resolve) => setTimeout(resolve, 500))
      }
    }
  }

  /** Extends the lease of lock `id` to `ttl` seconds from now (no ttl: the lock no longer expires). */
  async renew(ref: StackRef, id: string, ttl: number | undefined, signal?: AbortSignal): Promise<LockHolder> {
    return this.#json(routePath(ROUTES.renew, ref), {
      json: { id, ...(ttl === undefined ? {} : { ttl }) },
      idleTimeoutMs: 15_000,
      ...(signal ? { signal } : {}),
    })
  }

  /** Releases lock `id`. */
  async unlock(ref: StackRef, id: string): Promise<Unlocked> {
    return this.#json(routePath(ROUTES.unlock, ref), { query: { id } })
  }

  /** Removes the lock whoever holds it (needs the force-unlock permission). */
  async forceUnlock(ref: StackRef, reason: string): Promise<Unlocked> {
    return this.#json(routePath(ROUTES.unlock, ref), { query: { force: true, reason } })
  }

  /** What changed from rev `from` to rev `to` (server defaults: `to` = current, `from` = the rev before it). */
  async diff(ref: StackRef, from: string | undefined, to: string | undefined): Promise<Diff> {
    return this.#json(routePath(ROUTES.diff, ref), { query: { from, to } })
  }

  /** The same diff as the server renders it for people (`Accept: text/plain`). */
  async diffText(ref: StackRef, from: string | undefined, to: string | undefined): Promise<string> {
    const res = await this.#call({
      ...routePath(ROUTES.diff, ref),
      query: { from, to },
      headers: { accept: 'text/plain' },
    })
    return res.body.toString('utf8')
  }

  /** The outputs of the current rev, or of `rev`; sensitive values arrive redacted. */
  async outputs(ref: StackRef, rev: string | undefined): Promise<Outputs> {
    return this.#json(routePath(ROUTES.outputs, ref), { query: { rev } })
  }

  /** The caller's principal and its permissions at a scope (every factory when none is named). */
  async whoami(scope: { factory?: string | undefined; stack?: string | undefined }): Promise<Whoami> {
    return this.#json(routePath(ROUTES.whoami), { query: { factory: scope.factory, stack: scope.stack } })
  }

  /** A JSON call: sends `json` (or `body`) and parses the answer as `T`. */
  async #json<T>(
    { method, path }: { method: string; path: string },
    options: Partial<HttpRequest> & { json?: unknown } = {},
  ): Promise<T> {
    const { json, ...rest } = options
    const body = json === undefined ? rest.body : Buffer.from(JSON.stringify(json))
    const headers = json === undefined ? rest.headers : { 'content-type': 'application/json', ...rest.headers }
    const res = await this.#call({ ...rest, method, path, ...(body ? { body } : {}), ...(headers ? { headers } : {}) })
    try {
      return JSON.parse(res.body.toString('utf8')) as T
    } catch (err) {
      throw new ClientError(
        'bad-answer',
        `${method} ${path} answered ${res.status} with a body that is not JSON; is --server an unobin-state-server?`,
        EXIT.failure,
        undefined,
        { cause: err },
      )
    }
  }

  /** Sends a request; a non-2xx answer throws its problem as a ClientError. */
  async #call(req: HttpRequest): Promise<HttpResponse> {
    const res = await this.transport.send(req)
    if (res.status >= 200 && res.status < 300) return res
    throw problemError(req, res)
  }
}

/** The `Lock-Id` header when an id is given. */
function lockIdHeader(lockId: string | undefined): Record<string, string> {
  return lockId === undefined ? {} : { 'lock-id': lockId }
}

/** The ClientError for a non-2xx answer: the problem's code and detail, or the status when the body is no problem. */
export function problemError(req: Pick<HttpRequest, 'method' | 'path'>, res: HttpResponse): ClientError {
  let problem: ProblemBody | undefined
  try {
    const parsed = JSON.parse(res.body.toString('utf8')) as unknown
    if (parsed !== null && typeof parsed === 'object' && typeof (parsed as ProblemBody).code === 'string')
      problem = parsed as ProblemBody
  } catch {
    problem = undefined
  }
  if (problem === undefined) {
    const code = res.status === 401 ? 'unauthenticated' : res.status === 403 ? 'forbidden' : `http-${res.status}`
    return new ClientError(
      code,
      `${req.method} ${req.path} answered ${res.status} without a problem body; is --server an unobin-state-server?`,
      exitCodeFor(code, res.status),
    )
  }
  return new ClientError(
    problem.code,
    problem.detail,
    exitCodeFor(problem.code, res.status),
    problem as unknown as Record<string, unknown>,
  )
}
