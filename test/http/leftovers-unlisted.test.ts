/**
 * Temp files are never listed or counted, wherever they lie: real files
 * (and directories) with temp names placed in the data directory, a
 * factory's directory, the stack directory, `snapshots/`, `.trash/`,
 * `.meta/` and the held-locks index leave the factory and stack listings,
 * the history, the trash, /metrics and the per-caller lock cap exactly as
 * they were. The files name this process, a live writer, so no sweep takes
 * them away while the test looks.
 */
import t from 'tap'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempName } from '../../src/fs/temp-files.js'
import { HELD_LOCKS_DIR } from '../../src/store/held-locks.js'
import { buildTestApp } from '../helpers/app.js'
import { authFromText, bearer, newToken, tokensFileText } from '../helpers/auth.js'
import { parseExposition, sampleValue } from '../helpers/prom-text.js'
import { sampleSnapshot } from '../helpers/store.js'

const FACTORY = 'cluster-deploy'

t.test('temp files in every location are never listed or counted', async (t) => {
  const token = newToken()
  const { app, dir } = await buildTestApp(t, {
    auth: authFromText(tokensFileText([{ name: 'ci', token, grants: [{ scope: '*/*', allow: ['*'] }] }]), {
      maxLocksPerCaller: 1,
    }),
  })
  const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: string | Buffer | object) => {
    const res = await app.inject({
      method,
      url,
      headers: { ...bearer(token), ...(Buffer.isBuffer(payload) ? { 'content-type': 'application/json' } : {}) },
      ...(payload === undefined ? {} : { payload }),
    })
    return { status: res.statusCode, body: res.body, json: () => res.json() as Record<string, unknown> }
  }
  const stack = `/v1/factories/${FACTORY}/stacks/prod`
  for (const marker of [1, 2, 3])
    t.equal((await call('POST', `${stack}/snapshots?current=true`, sampleSnapshot(marker))).status, 201)
  t.equal((await call('POST', `${stack}/snapshots:prune`, { keep: 1 })).status, 200)
  const lock = await call('POST', `${stack}/lock`, { who: 'ci' })
  t.equal(lock.status, 201)
  const index = join(dir, HELD_LOCKS_DIR)
  const [principalDir] = readdirSync(index)
  t.equal((await call('DELETE', `${stack}/lock?id=${encodeURIComponent(String(lock.json().id))}`)).status, 200)

  const before = {
    factories: (await call('GET', '/v1/factories')).json(),
    stacks: (await call('GET', `/v1/factories/${FACTORY}/stacks`)).json(),
    revs: (await call('GET', `${stack}/snapshots`)).json(),
    trash: (await call('GET', `${stack}/trash`)).json(),
  }
  t.equal((before.revs.revs as unknown[]).length, 1)
  t.equal((before.trash.revs as unknown[]).length, 2)

  const stackDir = join(dir, FACTORY, 'prod')
  const places = [
    dir,
    join(dir, FACTORY),
    stackDir,
    join(stackDir, 'snapshots'),
    join(stackDir, '.trash'),
    join(stackDir, '.meta'),
    join(index, principalDir!),
  ]
  mkdirSync(join(index, principalDir!), { recursive: true }) // the unlock removed the caller's empty directory
  for (const place of places) {
    writeFileSync(join(place, tempName()), 'a write in flight')
    writeFileSync(join(place, `${tempName()}.json.enc`), 'a temp file with a rev’s ending')
    writeFileSync(join(place, `${tempName()}+prod`), 'a temp file with an index entry’s shape')
  }
  for (const place of [dir, join(dir, FACTORY)]) mkdirSync(join(place, tempName()))

  t.same((await call('GET', '/v1/factories')).json(), before.factories, 'the factory listing')
  t.same((await call('GET', `/v1/factories/${FACTORY}/stacks`)).json(), before.stacks, 'the stack listing')
  t.same((await call('GET', `${stack}/snapshots`)).json(), before.revs, 'the history')
  t.same((await call('GET', `${stack}/trash`)).json(), before.trash, 'the trash')
  const metrics = parseExposition((await call('GET', '/metrics')).body)
  t.equal(sampleValue(metrics, 'unobin_state_stacks'), 1, 'the stacks metric')
  t.equal(sampleValue(metrics, 'unobin_state_revs', { factory: FACTORY, stack: 'prod' }), 1, 'the revs metric')
  t.equal(sampleValue(metrics, 'unobin_state_locks_held'), 0, 'the locks metric')
  const other = await call('POST', `/v1/factories/${FACTORY}/stacks/staging/lock`, { who: 'ci' })
  t.equal(other.status, 201, 'the lock cap of 1 counts no temp file in the caller’s index')
  t.equal(
    readdirSync(join(stackDir, 'snapshots')).filter((n) => n.startsWith('.tmp-')).length,
    3,
    'and no request removed a live writer’s temp file',
  )
})
