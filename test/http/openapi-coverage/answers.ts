/** Checking one answer against the document, and the codes seen so far. */
import type { Test } from 'tap'
import type { ErrorCode } from '../../../src/errors.js'
import { STATUS } from '../../../src/http/problems.js'
import type { Method, Response, Scenario } from './scenario.js'
import { CODES } from './document.js'

// --- answers --------------------------------------------------------------------------

/** Each code seen, with where. */
export const seen = new Map<string, string[]>()

/** Asserts the answer of `scenario` is `status`, a valid problem when `problem`; records its code. */
export function assertAnswer(
  t: Test,
  where: string,
  res: Response,
  status: number,
  problem: boolean,
  scenario: Scenario,
): void {
  const facts = { body: res.body.slice(0, 400) }
  t.equal(res.statusCode, status, `${where}: status`, facts)
  if (problem) {
    t.match(String(res.headers['content-type']), /^application\/problem\+json/, `${where}: application/problem+json`)
    let body: { code?: unknown; status?: unknown } = {}
    try {
      body = res.json() as typeof body
    } catch {
      t.fail(`${where}: the problem body is JSON`, facts)
    }
    const code = String(body.code)
    t.ok(CODES.has(code), `${where}: ${code} is a code of the contract`)
    t.equal(body.status, res.statusCode, `${where}: the body carries the status`)
    if (CODES.has(code))
      t.equal(STATUS[code as ErrorCode], res.statusCode, `${where}: ${code} is a ${res.statusCode} code`)
    if (scenario.code !== undefined) t.equal(code, scenario.code, `${where}: code`, facts)
    if (res.statusCode === status && CODES.has(code)) seen.set(code, [...(seen.get(code) ?? []), where])
  } else if (status >= 400) {
    t.match(
      String(res.headers['content-type']),
      /^application\/json/,
      `${where}: a JSON answer as documented, not a problem`,
    )
    t.notOk(Object.hasOwn(res.json() as object, 'code'), `${where}: not a problem body`)
  }
  scenario.check?.(t, res)
}

/** Runs every scenario of every declared status of one route. */
export async function exercise(
  t: Test,
  method: Method,
  path: string,
  statuses: ReadonlyMap<number, boolean>,
  scenarios: ReadonlyMap<number, Scenario[]>,
): Promise<void> {
  for (const [status, problem] of [...statuses].sort(([a], [b]) => a - b)) {
    for (const scenario of scenarios.get(status) ?? []) {
      const res = await scenario.run(t)
      assertAnswer(t, `${method} ${path} ${status} (${scenario.name})`, res, status, problem, scenario)
    }
  }
}
