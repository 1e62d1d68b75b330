/** Scenarios of prune, trash, restore, reseal, diff and outputs. */
import { readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { UNOBIN_PAYLOAD } from '../../../src/store/envelope.js'
import { terraformState } from '../../helpers/auth.js'
import { makeRoot, sampleSnapshot } from '../../helpers/store.js'
import { STACK, type StatusScenarios, sc } from './scenario.js'
import { SOME_REV, type Stack, expectSetup, fresh, nextMarker, seedRev, send, takeLock, writeRev } from './requests.js'
import { faulty, newDir, plain, strict } from './apps.js'
import { fault } from './faults.js'

export const maintenanceScenarios: Readonly<Record<string, StatusScenarios>> = {
  [`POST ${STACK}/snapshots:prune`]: {
    200: [
      sc('keep 0 over three revs', undefined, async () => {
        const s = fresh(plain)
        for (let i = 0; i < 3; i++) await writeRev(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } })
      }),
    ],
    400: [
      sc('no rules on a server without a policy', 'invalid-request', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:prune`, { json: {} })
      }),
    ],
    415: [
      sc('a text/plain body', 'unsupported-media-type', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots:prune`, {
          raw: 'keep=0',
          headers: { 'content-type': 'text/plain' },
        }),
      ),
    ],
    423: [
      sc('no Lock-Id while the stack is locked', 'locked', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        await takeLock(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } })
      }),
    ],
    428: [
      sc('no lock when every mutation needs one', 'lock-required', async () => {
        const s = fresh(strict)
        await seedRev(strict, s)
        return send(strict, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } })
      }),
    ],
    500: [
      fault('moving a rev to the trash', 'rename', 'EIO', async (s) => {
        for (let i = 0; i < 3; i++) await writeRev(faulty, s)
        return () => send(faulty, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } })
      }),
    ],
    507: [
      fault('creating the trash', 'mkdir', 'ENOSPC', async (s) => {
        for (let i = 0; i < 3; i++) await writeRev(faulty, s)
        return () => send(faulty, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } })
      }),
    ],
  },

  [`GET ${STACK}/trash`]: {
    200: [
      sc('a stack with a pruned rev', undefined, async () => {
        const s = fresh(plain)
        for (let i = 0; i < 3; i++) await writeRev(plain, s)
        await expectSetup(send(plain, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } }), 200, 'pruning')
        return send(plain, 'GET', `${s.url}/trash`)
      }),
    ],
    500: [
      sc('a trash that is a symlink', 'unsafe-path', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        await symlink(await newDir('symlink-target'), join(s.dir, '.trash'))
        return send(plain, 'GET', `${s.url}/trash`)
      }),
    ],
  },

  [`POST ${STACK}/snapshots:restore`]: {
    200: [
      sc('a pruned rev', undefined, async () => {
        const s = fresh(plain)
        const oldest = await writeRev(plain, s)
        for (let i = 0; i < 2; i++) await writeRev(plain, s)
        await expectSetup(send(plain, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } }), 200, 'pruning')
        return send(plain, 'POST', `${s.url}/snapshots:restore`, { json: { rev: oldest } })
      }),
    ],
    400: [
      sc('a rev that is not a rev', 'invalid-request', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots:restore`, { json: { rev: '../current' } }),
      ),
    ],
    404: [
      sc('a rev the trash does not hold', 'rev-not-found', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:restore`, { json: { rev: SOME_REV } })
      }),
    ],
    415: [
      sc('a text/plain body', 'unsupported-media-type', async () =>
        send(plain, 'POST', `${fresh(plain).url}/snapshots:restore`, {
          raw: `rev=${SOME_REV}`,
          headers: { 'content-type': 'text/plain' },
        }),
      ),
    ],
    423: [
      sc('no Lock-Id while the stack is locked', 'locked', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        await takeLock(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:restore`, { json: { rev: SOME_REV } })
      }),
    ],
    428: [
      sc('no lock when every mutation needs one', 'lock-required', async () => {
        const s = fresh(strict)
        await seedRev(strict, s)
        return send(strict, 'POST', `${s.url}/snapshots:restore`, { json: { rev: SOME_REV } })
      }),
    ],
    ...(() => {
      const prepare = async (s: Stack) => {
        const oldest = await writeRev(faulty, s)
        for (let i = 0; i < 2; i++) await writeRev(faulty, s)
        await expectSetup(send(faulty, 'POST', `${s.url}/snapshots:prune`, { json: { keep: 0 } }), 200, 'pruning')
        return () => send(faulty, 'POST', `${s.url}/snapshots:restore`, { json: { rev: oldest } })
      }
      return {
        500: [fault('linking the rev back', 'link', 'EIO', prepare)],
        507: [fault('linking the rev back', 'link', 'ENOSPC', prepare)],
      }
    })(),
  },

  [`POST ${STACK}/snapshots:reseal`]: {
    200: [
      sc('a stack with revs', undefined, async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'POST', `${s.url}/snapshots:reseal`)
      }),
    ],
    500: [
      fault('listing the revs', 'readdir', 'EIO', async (s) => {
        await writeRev(faulty, s)
        return () => send(faulty, 'POST', `${s.url}/snapshots:reseal`)
      }),
    ],
    507: [
      fault('re-sealing a noop rev with the key', 'writeFile', 'ENOSPC', async (s) => {
        const noop = makeRoot(faulty.dir)
        try {
          await noop
            .stack(s.factory, s.stack)
            .write(sampleSnapshot(nextMarker()), { payloadType: UNOBIN_PAYLOAD, makeCurrent: true })
        } finally {
          noop.close()
        }
        return () => send(faulty, 'POST', `${s.url}/snapshots:reseal`)
      }),
    ],
  },
  [`GET ${STACK}/diff`]: {
    200: [
      sc(
        'two revs of a stack',
        undefined,
        async () => {
          const s = fresh(plain)
          await writeRev(plain, s)
          await writeRev(plain, s)
          return send(plain, 'GET', `${s.url}/diff`)
        },
        (t, res) => t.equal((res.json() as { kind: string }).kind, 'unobin'),
      ),
    ],
    400: [
      sc('a from that is not a canonical rev', 'invalid-rev', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'GET', `${s.url}/diff?from=2026-07-10T12:00:00.10Z`)
      }),
    ],
    404: [
      sc('a stack without current and no to', 'no-current', async () => send(plain, 'GET', `${fresh(plain).url}/diff`)),
      sc('a from that is not stored', 'rev-not-found', async () => {
        const s = fresh(plain)
        await writeRev(plain, s)
        return send(plain, 'GET', `${s.url}/diff?from=${SOME_REV}`)
      }),
    ],
    409: [
      sc('an unobin snapshot against a Terraform state', 'incomparable-revs', async () => {
        const s = fresh(plain)
        const unobin = await writeRev(plain, s)
        await expectSetup(
          send(plain, 'POST', `${s.url}/terraform?force=true`, { raw: terraformState(1) }),
          200,
          'writing Terraform state over the snapshot',
        )
        return send(plain, 'GET', `${s.url}/diff?from=${unobin}`)
      }),
    ],
    500: [
      sc('a truncated rev', 'unreadable-snapshot', async () => {
        const s = fresh(plain)
        const rev = await writeRev(plain, s)
        const path = join(s.dir, 'snapshots', `${rev}.json.enc`)
        await writeFile(path, (await readFile(path)).subarray(0, 10))
        return send(plain, 'GET', `${s.url}/diff?to=${rev}`)
      }),
    ],
  },
  [`GET ${STACK}/outputs`]: {
    200: [
      sc(
        'the current rev',
        undefined,
        async () => {
          const s = fresh(plain)
          await writeRev(plain, s)
          return send(plain, 'GET', `${s.url}/outputs`)
        },
        (t, res) => t.type((res.json() as { outputs: unknown }).outputs, 'object'),
      ),
    ],
    400: [
      sc('a rev that is not canonical', 'invalid-rev', async () =>
        send(plain, 'GET', `${fresh(plain).url}/outputs?rev=2026-07-10T12:00:00.10Z`),
      ),
    ],
    404: [
      sc('a stack without current', 'no-current', async () => send(plain, 'GET', `${fresh(plain).url}/outputs`)),
      sc('a rev that is not stored', 'rev-not-found', async () =>
        send(plain, 'GET', `${fresh(plain).url}/outputs?rev=${SOME_REV}`),
      ),
    ],
    409: [
      sc('a state its client encrypted', 'opaque-state', async () => {
        const s = fresh(plain)
        await expectSetup(
          send(plain, 'POST', `${s.url}/terraform`, {
            raw: JSON.stringify({ serial: 1, lineage: 'l', encrypted_data: 'AAAA', encryption_version: 'v0' }),
          }),
          200,
          'writing an encrypted state',
        )
        return send(plain, 'GET', `${s.url}/outputs`)
      }),
    ],
    500: [
      sc('a truncated current rev', 'unreadable-snapshot', async () => {
        const s = fresh(plain)
        const rev = await writeRev(plain, s)
        const path = join(s.dir, 'snapshots', `${rev}.json.enc`)
        await writeFile(path, (await readFile(path)).subarray(0, 10))
        return send(plain, 'GET', `${s.url}/outputs`)
      }),
    ],
  },
}
