/**
 * One exchange of the fuzz: a request sent to a world's app, and the checks
 * every case of every property passes:
 *
 * * no 5xx, and every 4xx is a problem body with a known `code` whose
 *   `status` is the answer's (Terraform's 423 answers carry a LockInfo);
 * * every path the store handed to its filesystem (the FsOps wrapper
 *   FaultyFs records every call, no fault armed) resolves inside the data
 *   root of that app and holds no NUL;
 * * a 4xx changes nothing: a digest of the data tree (every relative path
 *   with its kind, and for files the size and a SHA-1 of the bytes) taken
 *   after the answer equals the digest before it. A digest rather than "no
 *   mutating call happened": a refused request may legitimately take and
 *   release the stack's internal mutex or write a temp file it removes,
 *   which leave nothing behind; what must not happen is a trace in the
 *   tree. 2xx answers may change the tree (the digest moves on with them).
 *
 * A world moves on as 2xx answers change it (locks taken, revs written and
 * deleted) and is rebuilt from its seed when it drifts far, so the fuzz
 * keeps hitting seeded, locked and unlocked stacks. fast-check prints the
 * seed, the path and the shrunk counterexample of a failure.
 */
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { ERROR_CODES } from '../../../src/errors.js'
import type { FsCall } from '../../helpers/faulty-fs.js'
import { MODE, SEED } from '../../helpers/torture.js'
import { JSON_TYPE, answers, failed, figures } from './settings.js'
import { describeChange, digestTree, stateChanges } from './tree.js'
import type { World } from './world.js'

// --- one exchange ----------------------------------------------------------------

export interface Request {
  readonly method: string
  readonly url: string
  readonly headers?: Record<string, string>
  readonly payload?: string | Buffer
}

export interface Exchange {
  readonly res: LightMyRequestResponse
  readonly calls: FsCall[]
  readonly code: string | undefined
  readonly label: string
}

export const TERRAFORM_LOCKINFO_ROUTE = /\/terraform(\/lock)?$/

/** The path the server sees for `url` once the client normalised it (light-my-request, like a browser, reads a leading "//" as a path). */
export function pathOf(url: string): string {
  return new URL(url.startsWith('//') ? `http://localhost${url}` : url, 'http://localhost').pathname
}

/** That path percent-decoded as the router matches it (as sent when it does not decode). */
export function decodedPathOf(url: string): string {
  try {
    return decodeURI(pathOf(url))
  } catch {
    return pathOf(url)
  }
}

/** The `code` of a problem answer, if the body is one. */
export function codeOf(res: LightMyRequestResponse): string | undefined {
  try {
    const body = JSON.parse(res.body) as { code?: unknown }
    return typeof body.code === 'string' ? body.code : undefined
  } catch {
    return undefined
  }
}

/**
 * Sends one request and applies the checks every case shares: the store
 * stayed inside its root, no 5xx, a 4xx is a problem body and left the tree
 * as it was. Returns the answer for the property's own checks.
 */
export async function exchange(world: World, req: Request): Promise<Exchange> {
  const label = `${req.method} ${req.url.length > 300 ? `${req.url.slice(0, 300)}…` : req.url}`
  world.drain('between requests')
  const res = await world.app.inject({
    method: req.method as 'GET',
    url: req.url,
    headers: req.headers ?? {},
    ...(req.payload === undefined ? {} : { payload: req.payload }),
  })
  const calls = world.drain(label)
  const code = codeOf(res)
  figures.casesFuzzed++
  const answer = `${res.statusCode}${code === undefined ? '' : ` ${code}`}`
  answers.set(answer, (answers.get(answer) ?? 0) + 1)
  const before = world.digest
  const after = digestTree(world.dir)
  world.digest = after // also on failure: shrinking replays compare against the tree as it now is
  if (res.statusCode >= 500) throw new Error(`${label}: answered ${res.statusCode} ${res.body.slice(0, 400)}`)
  if (res.statusCode >= 400) {
    figures.answered4xx++
    if (after.text !== before.text && stateChanges(world.dir, before, after).length > 0)
      throw new Error(
        `${label}: answered ${res.statusCode} ${code ?? ''} but changed the data tree: ${describeChange(before, after)}`,
      )
    if (req.method !== 'HEAD') {
      const type = String(res.headers['content-type'] ?? '')
      if (
        res.statusCode === 423 &&
        TERRAFORM_LOCKINFO_ROUTE.test(decodedPathOf(req.url)) &&
        type.startsWith(JSON_TYPE)
      ) {
        const id = (JSON.parse(res.body) as { ID?: unknown }).ID
        if (typeof id !== 'string' || id === '')
          throw new Error(`${label}: a Terraform 423 without the holder's LockInfo ID: ${res.body.slice(0, 200)}`)
      } else {
        if (!type.startsWith('application/problem+json'))
          throw new Error(
            `${label}: a ${res.statusCode} that is not a problem body (content-type ${type}): ${res.body.slice(0, 200)}`,
          )
        const status = (JSON.parse(res.body) as { status?: unknown }).status
        if (code === undefined || !Object.hasOwn(ERROR_CODES, code) || status !== res.statusCode)
          throw new Error(
            `${label}: a ${res.statusCode} problem with code ${String(code)} and status ${String(status)}`,
          )
      }
    }
  } else {
    figures.answered2xx++ // 2xx, and 304 answers to If-None-Match
    if (after.text !== before.text) world.changes++
  }
  return { res, calls, code, label }
}

/** Runs a property; a counterexample fails the test with fast-check's report (seed, path, shrunk input, error). */
export async function check<T>(
  t: Test,
  name: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (input: T) => Promise<void>,
  numRuns: number,
): Promise<void> {
  const before = figures.casesFuzzed
  answers.clear()
  // Printed before the run (stderr is not held back until the test ends): a run that stalls can still be replayed.
  process.stderr.write(
    `# ${name}: ${numRuns} runs; replay with UNOBIN_TORTURE_MODE=${MODE} UNOBIN_TORTURE_SEED=${SEED}\n`,
  )
  try {
    await fc.assert(fc.asyncProperty(arbitrary, predicate), { numRuns, seed: SEED })
    t.pass(`${name}: ${numRuns} runs, ${figures.casesFuzzed - before} requests, no counterexample`)
  } catch (err) {
    failed.push(name)
    // fast-check's report (seed, path, shrunk counterexample) is the message; the property's own error is the cause.
    const report = (err as Error).message
    const cause =
      (err as Error).cause instanceof Error
        ? ((err as Error).cause as Error).message
        : String((err as Error).cause ?? '')
    t.fail(
      `${name}: ${cause}\n${report.length > 4000 ? `${report.slice(0, 4000)}… (${report.length} characters)` : report}`,
    )
  }
  t.comment(
    `${name} answers: ${[...answers]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ')}`,
  )
}
