/**
 * --control-body-limit and --lock-body-limit reach the routes: a control body
 * or a LockInfo over its limit is refused with 413 before anything changes,
 * one under it is judged on its content, and the defaults are the documented
 * ones.
 */
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { CONTROL_BODY_LIMIT } from '../../src/http/body.js'
import { LOCK_BODY_LIMIT } from '../../src/terraform/lock-info.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'

const run = (argv: string[]) => {
  const parsed = loadConfig(argv, {})
  if (parsed.kind !== 'run') throw new Error('expected a run config')
  return parsed.config
}

t.test('the defaults are 64 KiB for control bodies and 16 KiB for a LockInfo', async (t) => {
  const config = run([])
  t.equal(config.controlBodyLimitBytes, CONTROL_BODY_LIMIT)
  t.equal(config.lockBodyLimitBytes, LOCK_BODY_LIMIT)
  t.equal(CONTROL_BODY_LIMIT, 65536)
  t.equal(LOCK_BODY_LIMIT, 16384)
})

t.test('the flags and their variables set the limits, and a bad value names the setting', async (t) => {
  t.equal(run(['--control-body-limit', '2048']).controlBodyLimitBytes, 2048)
  t.equal(run(['--lock-body-limit', '4096']).lockBodyLimitBytes, 4096)
  const env = loadConfig([], { UNOBIN_STATE_LOCK_BODY_LIMIT: '8192' })
  t.equal(env.kind === 'run' && env.config.lockBodyLimitBytes, 8192)
  t.throws(() => run(['--control-body-limit', '12']), /--control-body-limit/)
  t.throws(() => loadConfig([], { UNOBIN_STATE_LOCK_BODY_LIMIT: 'lots' }), /UNOBIN_STATE_LOCK_BODY_LIMIT/)
})

t.test('a lock body over --control-body-limit is 413 and takes no lock; under it the lock is taken', async (t) => {
  const { app } = await buildTestApp(t, { controlBodyLimitBytes: 2048 })
  const url = stackUrl('f1', 'control')
  const big = await app.inject({
    method: 'POST',
    url: `${url}/lock`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ who: 'ci', info: 'x'.repeat(2100) }),
  })
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'body-too-large')
  t.equal((await app.inject({ method: 'GET', url: `${url}/lock` })).statusCode, 404, 'no lock was taken')
  const small = await app.inject({
    method: 'POST',
    url: `${url}/lock`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ who: 'ci', info: 'x'.repeat(1500) }),
  })
  t.equal(small.statusCode, 201)
})

t.test('a LockInfo over --lock-body-limit is 413 and takes no lock; under it the lock is taken', async (t) => {
  const { app } = await buildTestApp(t, { lockBodyLimitBytes: 2048 })
  const url = `${stackUrl('f1', 'tf')}/terraform/lock`
  const info = (id: string, padding: number) =>
    JSON.stringify({ ID: id, Operation: 'OperationTypeApply', Info: 'i'.repeat(padding), Who: 'ci@runner' })
  const big = await app.inject({ method: 'POST', url, payload: info('7a1c0f00-0000-4000-8000-000000000001', 2100) })
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'body-too-large')
  t.equal((await app.inject({ method: 'GET', url: `${stackUrl('f1', 'tf')}/lock` })).statusCode, 404, 'no lock')
  const small = await app.inject({ method: 'POST', url, payload: info('7a1c0f00-0000-4000-8000-000000000002', 1500) })
  t.equal(small.statusCode, 200)
})
