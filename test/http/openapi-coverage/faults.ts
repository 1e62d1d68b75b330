/** Scenarios that meet a disk fault, and the LockInfo check shared by the Terraform lock routes. */
import type { Test } from 'tap'
import type { FaultCode, FaultyMethod } from '../../helpers/faulty-fs.js'
import { type Response, type Scenario, sc } from './scenario.js'
import { type Stack, fresh } from './requests.js'
import { faulty, faultyFs } from './apps.js'

/** Sends a request while `method` of the faulty filesystem fails with `code` under the stack's directory. */
export async function withFault(
  s: Stack,
  method: FaultyMethod,
  code: FaultCode,
  request: () => Promise<Response>,
): Promise<Response> {
  faultyFs.failNth(method, 1, code, (path) => path === s.dir || path.startsWith(`${s.dir}/`))
  try {
    const res = await request()
    if (!faultyFs.fired)
      throw new Error(
        `the ${code} fault on ${method} under ${s.dir} was never injected (the request answered ${res.statusCode})`,
      )
    return res
  } finally {
    faultyFs.clear()
  }
}

/** A scenario that meets a disk fault: 507 no-space for ENOSPC, 500 storage-failure otherwise. */
export function fault(
  name: string,
  method: FaultyMethod,
  code: FaultCode,
  prepare: (s: Stack) => Promise<() => Promise<Response>>,
): Scenario {
  return sc(
    `${name} while ${method} fails with ${code}`,
    code === 'ENOSPC' ? 'no-space' : 'storage-failure',
    async () => {
      const s = fresh(faulty)
      const request = await prepare(s)
      return withFault(s, method, code, request)
    },
  )
}

/** Asserts a LockInfo answer (the holder's, for Terraform's -lock-timeout retries). */
export const isLockInfo =
  (holder?: () => string) =>
  (t: Test, res: Response): void => {
    const body = res.json() as { ID?: unknown }
    t.type(body.ID, 'string', 'the answer is a LockInfo')
    if (holder !== undefined) t.equal(body.ID, holder(), 'naming the holder')
  }
