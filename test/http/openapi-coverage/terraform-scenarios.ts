/** Scenarios of the Terraform http backend routes. */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { STACK, type StatusScenarios, sc } from './scenario.js'
import { fresh, newLockId, seedRev, send, terraformLock, writeRev, writeState } from './requests.js'
import { faulty, plain, strict } from './apps.js'
import { fault } from './faults.js'
import { terraformLockRoute, terraformUnlockRoute, terraformWrite } from './terraform-twins.js'

export const terraformScenarios: Readonly<Record<string, StatusScenarios>> = {
  [`GET ${STACK}/terraform`]: {
    200: [
      sc('a stack with Terraform state', undefined, async () => {
        const s = fresh(plain)
        await writeState(plain, s)
        return send(plain, 'GET', `${s.url}/terraform`)
      }),
    ],
    204: [
      sc(
        'a stack without state',
        undefined,
        async () => send(plain, 'GET', `${fresh(plain).url}/terraform`),
        (t, res) => t.equal(res.body, '', 'no body'),
      ),
    ],
    400: [
      sc('a Content-MD5 that does not match the empty body', 'content-md5-mismatch', async () =>
        send(plain, 'GET', `${fresh(plain).url}/terraform`, { headers: { 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' } }),
      ),
    ],
    409: [
      sc('a stack holding a unobin snapshot', 'payload-type-mismatch', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'GET', `${s.url}/terraform`)
      }),
    ],
    500: [
      sc('current holds garbage', 'unreadable-snapshot', async () => {
        const s = fresh(plain)
        await writeState(plain, s)
        await writeFile(join(s.dir, 'current'), 'not a rev\n')
        return send(plain, 'GET', `${s.url}/terraform`)
      }),
    ],
  },
  [`POST ${STACK}/terraform`]: terraformWrite('POST'),
  [`PUT ${STACK}/terraform`]: terraformWrite('PUT'),
  [`DELETE ${STACK}/terraform`]: {
    200: [
      sc('a stack with state', undefined, async () => {
        const s = fresh(plain)
        await writeState(plain, s)
        return send(plain, 'DELETE', `${s.url}/terraform`)
      }),
    ],
    400: [
      sc('a Content-MD5 that does not match the empty body', 'content-md5-mismatch', async () =>
        send(plain, 'DELETE', `${fresh(plain).url}/terraform`, {
          headers: { 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' },
        }),
      ),
    ],
    423: [
      sc('a delete while Terraform holds the lock', 'locked', async () => {
        const s = fresh(plain)
        await writeState(plain, s)
        await terraformLock(plain, s, newLockId())
        return send(plain, 'DELETE', `${s.url}/terraform`)
      }),
    ],
    428: [
      sc('no lock when every mutation needs one', 'lock-required', async () => {
        const s = fresh(strict)
        await seedRev(strict, s)
        return send(strict, 'DELETE', `${s.url}/terraform`)
      }),
    ],
    500: [
      fault('clearing current', 'rename', 'EIO', async (s) => {
        await writeState(faulty, s)
        return () => send(faulty, 'DELETE', `${s.url}/terraform`)
      }),
    ],
    507: [
      fault('clearing current', 'sync', 'ENOSPC', async (s) => {
        await writeState(faulty, s)
        return () => send(faulty, 'DELETE', `${s.url}/terraform`)
      }),
    ],
  },
  [`POST ${STACK}/terraform/lock`]: terraformLockRoute('POST', (s) => `${s.url}/terraform/lock`),
  [`DELETE ${STACK}/terraform/lock`]: terraformUnlockRoute('DELETE', (s) => `${s.url}/terraform/lock`),
  [`LOCK ${STACK}/terraform`]: terraformLockRoute('LOCK', (s) => `${s.url}/terraform`),
  [`UNLOCK ${STACK}/terraform`]: terraformUnlockRoute('UNLOCK', (s) => `${s.url}/terraform`),
}
