/** Scenarios shared by twin routes: POST/PUT …/terraform, POST …/terraform/lock and LOCK, DELETE …/terraform/lock and UNLOCK. */
import { LOCK_BODY_LIMIT } from '../../../src/terraform/lock-info.js'
import { bearer, lockInfo, terraformState } from '../../helpers/auth.js'
import { type Built, type StatusScenarios, sc } from './scenario.js'
import {
  type Stack,
  expectSetup,
  forceUnlock,
  fresh,
  newLockId,
  send,
  terraformLock,
  writeRev,
  writeState,
} from './requests.js'
import { BODY_LIMIT, CI, capped, faulty, plain, strict } from './apps.js'
import { fault, isLockInfo } from './faults.js'

/** POST and PUT …/terraform (update_method POST or PUT). */
export function terraformWrite(method: 'POST' | 'PUT'): StatusScenarios {
  const write = (
    b: Built,
    s: Stack,
    body: string,
    options: { query?: string; headers?: Record<string, string> } = {},
  ) =>
    send(b, method, `${s.url}/terraform${options.query ?? ''}`, {
      raw: body,
      ...(options.headers === undefined ? {} : { headers: options.headers }),
    })
  return {
    200: [sc('state over no state', undefined, async () => write(plain, fresh(plain), terraformState(1)))],
    400: [
      sc('state that is not JSON', 'malformed-json', async () => write(plain, fresh(plain), '{"serial":')),
      sc('a Content-MD5 that does not match the body', 'content-md5-mismatch', async () =>
        write(plain, fresh(plain), terraformState(1), { headers: { 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' } }),
      ),
    ],
    409: [
      sc('state of another lineage', 'state-conflict', async () => {
        const s = fresh(plain)
        await writeState(plain, s, 1)
        return write(plain, s, terraformState(2, '7b0c1e2a-0000-4000-8000-00000000beef'))
      }),
      sc('state over a unobin snapshot', 'payload-type-mismatch', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return write(plain, s, terraformState(1))
      }),
    ],
    413: [
      sc('state over the body limit', 'body-too-large', async () =>
        write(
          plain,
          fresh(plain),
          terraformState(1).replace('"outputs": {}', `"outputs": {"pad": "${'x'.repeat(BODY_LIMIT)}"}`),
        ),
      ),
    ],
    423: [
      sc('a write without ?ID while Terraform holds the lock', 'locked', async () => {
        const s = fresh(plain)
        await terraformLock(plain, s, newLockId())
        return write(plain, s, terraformState(1))
      }),
      sc('a write with the ?ID of a lock that was force-unlocked', 'lock-lost', async () => {
        const s = fresh(plain)
        const id = newLockId()
        await terraformLock(plain, s, id)
        await forceUnlock(plain, s)
        return write(plain, s, terraformState(1), { query: `?ID=${id}` })
      }),
    ],
    428: [
      sc('a write without a lock when every mutation needs one', 'lock-required', async () =>
        write(strict, fresh(strict), terraformState(1)),
      ),
    ],
    500: [fault('a write', 'writeFile', 'EIO', async (s) => () => write(faulty, s, terraformState(1)))],
    507: [fault('a write', 'writeFile', 'ENOSPC', async (s) => () => write(faulty, s, terraformState(1)))],
  }
}

/** POST …/terraform/lock and LOCK …/terraform. */
export function terraformLockRoute(method: 'POST' | 'LOCK', urlOf: (s: Stack) => string): StatusScenarios {
  let holder = ''
  return {
    200: [
      sc(
        'a LockInfo on a free stack',
        undefined,
        async () => send(plain, method, urlOf(fresh(plain)), { raw: lockInfo(newLockId()) }),
        isLockInfo(),
      ),
    ],
    400: [
      sc('a body that is not a LockInfo object', 'invalid-request', async () =>
        send(plain, method, urlOf(fresh(plain)), { raw: '[]' }),
      ),
      sc('a body that is not JSON', 'malformed-json', async () =>
        send(plain, method, urlOf(fresh(plain)), { raw: '{"ID":' }),
      ),
    ],
    409: [
      sc('a LockInfo whose ID held the stack before', 'lock-id-reused', async () => {
        const s = fresh(plain)
        const id = newLockId()
        await terraformLock(plain, s, id)
        await expectSetup(
          send(plain, 'DELETE', `${s.url}/terraform/lock`, { raw: lockInfo(id) }),
          200,
          'releasing the lock',
        )
        return send(plain, method, urlOf(s), { raw: lockInfo(id) })
      }),
    ],
    423: [
      sc(
        'a LockInfo while another ID holds the lock',
        undefined,
        async () => {
          const s = fresh(plain)
          holder = newLockId()
          await terraformLock(plain, s, holder)
          return send(plain, method, urlOf(s), { raw: lockInfo(newLockId()) })
        },
        isLockInfo(() => holder),
      ),
    ],
    413: [
      sc('a LockInfo over the lock body limit', 'body-too-large', async () =>
        send(plain, method, urlOf(fresh(plain)), { raw: `"${'x'.repeat(LOCK_BODY_LIMIT)}"` }),
      ),
    ],
    429: [
      sc('a caller at its lock cap', 'too-many-locks', async () =>
        send(capped, method, urlOf(fresh(capped)), { raw: lockInfo(newLockId()), headers: bearer(CI) }),
      ),
    ],
    500: [
      fault(
        'taking the lock',
        'writeFile',
        'EIO',
        async (s) => () => send(faulty, method, urlOf(s), { raw: lockInfo(newLockId()) }),
      ),
    ],
    507: [
      fault(
        'taking the lock',
        'writeFile',
        'ENOSPC',
        async (s) => () => send(faulty, method, urlOf(s), { raw: lockInfo(newLockId()) }),
      ),
    ],
  }
}

/** DELETE …/terraform/lock and UNLOCK …/terraform. */
export function terraformUnlockRoute(method: 'DELETE' | 'UNLOCK', urlOf: (s: Stack) => string): StatusScenarios {
  let holder = ''
  return {
    200: [
      sc('the LockInfo that took the lock', undefined, async () => {
        const s = fresh(plain)
        const id = newLockId()
        await terraformLock(plain, s, id)
        return send(plain, method, urlOf(s), { raw: lockInfo(id) })
      }),
    ],
    400: [
      sc('a body that is not JSON', 'malformed-json', async () =>
        send(plain, method, urlOf(fresh(plain)), { raw: '{"ID":' }),
      ),
    ],
    413: [
      sc('a LockInfo over the lock body limit', 'body-too-large', async () =>
        send(plain, method, urlOf(fresh(plain)), { raw: `"${'x'.repeat(LOCK_BODY_LIMIT)}"` }),
      ),
    ],
    409: [
      sc('a LockInfo that never held the free stack', 'lock-not-held', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, method, urlOf(s), { raw: lockInfo(newLockId()) })
      }),
    ],
    423: [
      sc(
        'a LockInfo of another ID while the lock is held',
        undefined,
        async () => {
          const s = fresh(plain)
          holder = newLockId()
          await terraformLock(plain, s, holder)
          return send(plain, method, urlOf(s), { raw: lockInfo(newLockId()) })
        },
        isLockInfo(() => holder),
      ),
    ],
    500: [
      fault('releasing the lock', 'rename', 'EIO', async (s) => {
        const id = newLockId()
        await terraformLock(faulty, s, id)
        return () => send(faulty, method, urlOf(s), { raw: lockInfo(id) })
      }),
    ],
    507: [
      fault('a force-unlock (empty body) recording the release', 'writeFile', 'ENOSPC', async (s) => {
        await terraformLock(faulty, s, newLockId())
        return () => send(faulty, method, urlOf(s), { raw: '' })
      }),
    ],
  }
}
