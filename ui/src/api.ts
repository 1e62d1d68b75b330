/**
 * Calls to the server's API from the page: the tab's token as a Bearer
 * header, no cookies and no browser credential prompt (`credentials:
 * "omit"`), problem answers turned into ApiError with the server's `detail`,
 * and a 401 sends the page back to its sign-in box.
 */
import { signOut, token } from './session.js'
import type { Problem } from './types.js'

/** A refused or failed call: the status, the problem's stable code and what the server said to do. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? `the server answered ${status}`)
  }
  get code(): string | undefined {
    return this.problem.code
  }
}

/** The path of a stack's routes. */
export function stackPath(factory: string, stack: string): string {
  return `/v1/factories/${encodeURIComponent(factory)}/stacks/${encodeURIComponent(stack)}`
}

/** Headers every call carries: the token when the tab has one. */
export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const t = token()
  return t === null ? extra : { ...extra, authorization: `Bearer ${t}` }
}

export interface CallOptions {
  readonly method?: string
  readonly json?: unknown
  readonly headers?: Record<string, string>
  readonly accept?: string
  readonly signal?: AbortSignal
}

/** Sends a request and answers the raw response when it is 2xx; throws ApiError otherwise. */
export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const headers = authHeaders({ accept: options.accept ?? 'application/json', ...options.headers })
  if (options.json !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      credentials: 'omit',
      cache: 'no-store',
      ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    throw new ApiError(0, {
      code: 'unreachable',
      detail: 'the server cannot be reached: check that it runs, then retry',
    })
  }
  if (res.ok) return res
  let problem: Problem = {}
  try {
    problem = (await res.json()) as Problem
  } catch {
    problem = { detail: `the server answered ${res.status} ${res.statusText}` }
  }
  if (res.status === 401) signOut(token() === null ? 'signed-out' : 'refused')
  throw new ApiError(res.status, problem)
}

/** GETs (or sends) JSON and answers the parsed body. */
export async function json<T>(path: string, options: CallOptions = {}): Promise<T> {
  return (await (await call(path, options)).json()) as T
}
