/**
 * Torture: property-based fuzzing (fast-check) of bodies, on an in-process
 * app over its own seeded data root (./fuzz/world.ts).
 *
 * Arbitrary JSON texts (huge and odd numbers, `__proto__` / `constructor`
 * keys, wrong types), raw bytes, truncated JSON, deep nesting, oversize
 * bodies, almost-valid unobin snapshots, Terraform states with odd
 * lineage/serial and LockInfos, on every route that takes a body, mostly
 * presenting the holder's lock id so the body is what is judged. Never a
 * 5xx.
 *
 * Every case also passes the checks of ./fuzz/exchange.ts; the end checks of
 * ./fuzz/end-checks.ts follow. Runs replay from the printed seed
 * (UNOBIN_TORTURE_SEED); long mode (UNOBIN_TORTURE_MODE=long) runs twenty
 * times as many cases.
 */
import { endChecks, fuzzParent } from './fuzz/end-checks.js'
import fc from 'fast-check'
import t from 'tap'
import { sized } from '../helpers/torture.js'
import { BODY_LIMIT, JSON_TYPE, RUNS, TF_LOCK_ID } from './fuzz/settings.js'
import { World } from './fuzz/world.js'
import { check, exchange } from './fuzz/exchange.js'
import { FIELDS, bodyFor } from './fuzz/bodies.js'
import { OPERATIONS, holderOf, stackTarget, urlOf } from './fuzz/headers.js'

t.setTimeout(sized(300_000, 3_600_000))

const where = fuzzParent(t, 'data-bodies')
let fuzzed: World | undefined

t.test('bodies: arbitrary JSON, bytes and documents never get a 5xx, and a refusal changes nothing', async (t) => {
  const world = new World(t, where.root, { bodyLimitBytes: BODY_LIMIT })
  fuzzed = world
  await world.start()
  const withBody = OPERATIONS.filter((op) => op.body !== 'none' || op.method === 'DELETE')
  const bodyCase = fc.integer({ min: 0, max: withBody.length - 1 }).chain((i) => {
    const op = withBody[i]!
    const kind = op.body === 'none' ? 'lock' : op.body
    return fc.record({
      op: fc.constant(i),
      target: stackTarget,
      body: bodyFor(kind, FIELDS[kind]),
      contentType: fc.oneof(
        { weight: 8, arbitrary: fc.constant(JSON_TYPE) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            'application/problem+json',
            'text/plain',
            'application/octet-stream',
            'application/json; charset=latin1',
          ),
        },
        { weight: 1, arbitrary: fc.constant(undefined) },
      ),
      presentHolder: fc.oneof(
        { weight: 4, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
    })
  })

  await check(
    t,
    'bodies',
    bodyCase,
    async (c) => {
      await world.refresh()
      const op = withBody[c.op]!
      const holder = c.presentHolder ? holderOf(c.target) : undefined
      let url = world.fill(`${urlOf(c.target)}${op.path}`)
      if (op.path.startsWith('/terraform?ID=') && holder !== TF_LOCK_ID)
        url = url.replace(/\?ID=.*$/, holder === undefined ? '' : `?ID=${world.fill(holder)}`)
      const headers: Record<string, string> = {}
      if (c.contentType !== undefined) headers['content-type'] = c.contentType
      if (holder !== undefined) headers['lock-id'] = world.fill(holder)
      const payload = typeof c.body === 'string' ? world.fill(c.body) : c.body
      await exchange(world, { method: op.method, url, headers, payload })
    },
    RUNS.bodies,
  )
  t.comment(`body world rebuilt ${world.rebuilds} times`)
})

t.test('nothing outside the data root was touched, and the figures are reported', async (t) => {
  if (fuzzed === undefined) return t.fail('the property never built its world')
  endChecks(t, where, fuzzed, 'fuzzing bodies', RUNS.bodies)
})
