/** What a coverage scenario is: one request that makes one route answer one status. */
import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import type { ErrorCode } from '../../../src/errors.js'
import type { buildTestApp } from '../../helpers/app.js'

export type Response = LightMyRequestResponse
export type Built = Awaited<ReturnType<typeof buildTestApp>>
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'LOCK' | 'UNLOCK'

/** One way to make a route answer one status. */
export interface Scenario {
  /** What the request is, in words (shown in assertion messages). */
  readonly name: string
  /** The code a problem answer must carry. */
  readonly code?: ErrorCode
  /** Extra assertions on the answer. */
  readonly check?: (t: Test, res: Response) => void
  /** Sets up what it needs and sends the request; `t` owns anything built for it. */
  readonly run: (t: Test) => Promise<Response>
}

/** Scenarios by status, for one route. */
export type StatusScenarios = Partial<Record<number, readonly Scenario[]>>

export const sc = (
  name: string,
  code: ErrorCode | undefined,
  run: Scenario['run'],
  check?: Scenario['check'],
): Scenario => ({
  name,
  ...(code === undefined ? {} : { code }),
  run,
  ...(check === undefined ? {} : { check }),
})

export const STACK = '/v1/factories/{factory}/stacks/{stack}'
