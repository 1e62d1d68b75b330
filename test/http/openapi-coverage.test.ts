import t from 'tap'
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js'
import type { StatusScenarios } from './openapi-coverage/scenario.js'
import { serviceScenarios } from './openapi-coverage/service-scenarios.js'
import { snapshotScenarios } from './openapi-coverage/snapshot-scenarios.js'
import { lockScenarios } from './openapi-coverage/lock-scenarios.js'
import { terraformScenarios } from './openapi-coverage/terraform-scenarios.js'
import { maintenanceScenarios } from './openapi-coverage/maintenance-scenarios.js'
import { ANSWERS_OUTSIDE_THE_DOCUMENT, scenariosOf } from './openapi-coverage/generic-scenarios.js'
import { CODES, OPERATIONS, misdeclared } from './openapi-coverage/document.js'
import { assertAnswer, exercise, seen } from './openapi-coverage/answers.js'

/**
 * Error codes no request can produce. Empty: every code of the contract is
 * answered by some request below (route-not-found and uri-too-long only
 * outside the declared responses: see ANSWERS_OUTSIDE_THE_DOCUMENT). A code
 * that becomes unreachable goes here with the reason; a code listed here that
 * a scenario produces fails the coverage test, so the list stays true.
 */
const CODES_NO_REQUEST_CAN_PRODUCE: ReadonlyMap<ErrorCode, string> = new Map()

const SCENARIOS: Readonly<Record<string, StatusScenarios>> = {
  ...serviceScenarios,
  ...snapshotScenarios,
  ...lockScenarios,
  ...terraformScenarios,
  ...maintenanceScenarios,
}

// --- the tests --------------------------------------------------------------------------

t.test("the Problem schema's code enum is the error codes of the contract", async (t) => {
  t.strictSame([...CODES].sort(), Object.keys(ERROR_CODES).sort())
})

for (const [key, op] of OPERATIONS) {
  t.test(`${key} answers every status the document declares`, async (t) => {
    await exercise(t, op.method, op.path, op.statuses, scenariosOf(op.method, op.path, op.isProtected, SCENARIOS[key]))
  })
}

t.test('the answers outside the document are what clients expect, problems with their codes', async (t) => {
  for (const { status, problem, scenario } of ANSWERS_OUTSIDE_THE_DOCUMENT) {
    assertAnswer(t, `${status} (${scenario.name})`, await scenario.run(t), status, problem, scenario)
  }
})

t.test(
  'every (method, path, status) of the document has a scenario, and every scenario a declared status',
  async (t) => {
    const declared = new Set<string>()
    const covered = new Set<string>()
    for (const [key, op] of OPERATIONS) {
      for (const status of op.statuses.keys()) declared.add(`${key} ${status}`)
      for (const status of scenariosOf(op.method, op.path, op.isProtected, SCENARIOS[key]).keys())
        covered.add(`${key} ${status}`)
    }
    for (const key of Object.keys(SCENARIOS)) t.ok(OPERATIONS.has(key), `${key} has scenarios and is in the document`)
    t.strictSame([...declared].filter((x) => !covered.has(x)).sort(), [], 'declared statuses without a scenario')
    t.strictSame(
      [...covered].filter((x) => !declared.has(x)).sort(),
      [],
      'scenarios for statuses the document does not declare',
    )
    t.ok(declared.size >= 250, `${declared.size} declared (method, path, status) triples, LOCK and UNLOCK included`)
    t.strictSame(misdeclared, [], 'every problem answer is declared as application/problem+json')
  },
)

t.test('every error code of the contract is answered by some request', async (t) => {
  const missing = Object.keys(ERROR_CODES).filter(
    (code) => !seen.has(code) && !CODES_NO_REQUEST_CAN_PRODUCE.has(code as ErrorCode),
  )
  t.strictSame(
    missing,
    [],
    'codes no scenario produced (add a scenario, or list the code in CODES_NO_REQUEST_CAN_PRODUCE with why)',
  )
  const produced = [...CODES_NO_REQUEST_CAN_PRODUCE.keys()].filter((code) => seen.has(code))
  t.strictSame(produced, [], 'codes listed as impossible that a request produced (take them off the list)')
})
