/**
 * Generated hostile inputs for the shapes the hardening work named, each against the
 * documented answer, and, on refusal, no change: oversized LockInfo fields
 * (400 invalid-request, or 413 over the whole-body limit; no lock taken),
 * `__proto__` / `constructor.prototype` keys anywhere in a Terraform state
 * (stored and served byte-exact, no prototype polluted), reused lock ids
 * (409 lock-id-reused; the stack stays unlocked), many distinct names (the
 * store root keeps a bounded number of handles), and names in other cases
 * on a case-folding volume (400 name-case-conflict; nothing written).
 */
import fc from 'fast-check'
import t from 'tap'
import { LOCK_BODY_LIMIT, LOCK_INFO_FIELD_MAX } from '../../src/terraform/lock-info.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { lockInfo, terraformState } from '../helpers/auth.js'
import { caseFoldingRoot } from '../helpers/case-folding-fs.js'

const RUNS = Number(process.env.HOSTILE_RUNS ?? 25)
let stacks = 0
const freshUrl = (): string => stackUrl('hostile', `s${++stacks}`)
const FIELDS = Object.keys(LOCK_INFO_FIELD_MAX) as Array<keyof typeof LOCK_INFO_FIELD_MAX>

t.test('a LockInfo with an oversized field is refused and takes no lock', async (t) => {
  const { app } = await buildTestApp(t)
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...FIELDS),
      fc.integer({ min: 1, max: 20_000 }),
      fc.constantFrom('x', 'é', '"', '\u0000'),
      async (field, over, ch) => {
        const url = freshUrl()
        const body = JSON.parse(lockInfo('11111111-2222-4333-8444-555555555555')) as Record<string, string>
        body[field] = ch.repeat(LOCK_INFO_FIELD_MAX[field] + over)
        const raw = JSON.stringify(body)
        const res = await app.inject({ method: 'LOCK', url: `${url}/terraform`, payload: raw })
        const expected = Buffer.byteLength(raw) > LOCK_BODY_LIMIT ? 413 : 400
        t.equal(res.statusCode, expected, `${field} +${over} (${Buffer.byteLength(raw)} bytes)`)
        t.equal(res.json().code, expected === 413 ? 'body-too-large' : 'invalid-request')
        t.equal((await app.inject({ url: `${url}/lock` })).statusCode, 404, 'no lock was taken')
      },
    ),
    { numRuns: RUNS },
  )
})

/** JSON text of a value where `key` (a hostile key) appears at a random depth. */
const hostileState = fc
  .tuple(
    fc.constantFrom('__proto__', 'constructor', 'prototype'),
    fc.integer({ min: 0, max: 4 }),
    fc.jsonValue({ maxDepth: 2 }),
  )
  .map(([key, depth, value]) => {
    let inner = `{${JSON.stringify(key)}: ${key === 'constructor' ? `{"prototype": ${JSON.stringify(value)}}` : JSON.stringify(value)}, "polluted": true}`
    for (let i = 0; i < depth; i++) inner = `{"tags": ${inner}, "n": ${i}}`
    const state = JSON.parse(terraformState(1)) as Record<string, unknown>
    // Spliced, not String.replace: a generated value holding `$'` or `$\`` would be read as a replacement pattern.
    return `${JSON.stringify(state).slice(0, -1)}, "resources": [{"instances": [{"attributes": ${inner}}]}]}`
  })

t.test(
  'states holding __proto__ or constructor.prototype keys are stored byte-exact and pollute nothing',
  async (t) => {
    const { app } = await buildTestApp(t)
    await fc.assert(
      fc.asyncProperty(hostileState, async (raw) => {
        const url = freshUrl()
        const write = await app.inject({
          method: 'POST',
          url: `${url}/terraform`,
          headers: { 'content-type': 'application/json' },
          payload: raw,
        })
        t.equal(write.statusCode, 200, write.body)
        const read = await app.inject({ url: `${url}/terraform` })
        t.equal(read.body, raw, 'served byte-exact')
        t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
      }),
      { numRuns: RUNS },
    )
  },
)

t.test('a released lock id is never granted again, and the refusal leaves the stack unlocked', async (t) => {
  const { app } = await buildTestApp(t)
  await fc.assert(
    fc.asyncProperty(fc.uuid(), fc.constantFrom('unlock', 'force'), async (id, how) => {
      const url = freshUrl()
      t.equal((await app.inject({ method: 'LOCK', url: `${url}/terraform`, payload: lockInfo(id) })).statusCode, 200)
      const release =
        how === 'unlock'
          ? await app.inject({ method: 'UNLOCK', url: `${url}/terraform`, payload: lockInfo(id) })
          : await app.inject({ method: 'DELETE', url: `${url}/lock?force=true&reason=fuzz` })
      t.equal(release.statusCode, 200)
      const again = await app.inject({ method: 'LOCK', url: `${url}/terraform`, payload: lockInfo(id) })
      t.equal(again.statusCode, 409)
      t.equal(again.json().code, 'lock-id-reused')
      t.equal((await app.inject({ url: `${url}/lock` })).statusCode, 404, 'still unlocked')
    }),
    { numRuns: RUNS },
  )
})

t.test('many distinct names leave a bounded number of stack handles', async (t) => {
  const { app, root } = await buildTestApp(t)
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/), { minLength: 50, maxLength: 200 }),
      async (names) => {
        for (const name of names) {
          const res = await app.inject({ url: `${stackUrl('many', name)}/current` })
          t.equal(res.statusCode, 404)
        }
        t.equal(root.handles(), 0, 'reads of missing stacks leave no handle')
      },
    ),
    { numRuns: 5 },
  )
})

t.test('on a case-folding volume a name in another case is refused and nothing is written', async (t) => {
  const dir = t.testdir()
  const root = caseFoldingRoot(dir)
  const { app } = await buildTestApp(t, { dir, root })
  const write = (factory: string, stack: string, serial: number) =>
    app.inject({
      method: 'POST',
      url: `${stackUrl(factory, stack)}/terraform`,
      headers: { 'content-type': 'application/json' },
      payload: terraformState(serial),
    })
  t.equal((await write('prod', 'app', 1)).statusCode, 200)
  const variants = fc
    .tuple(fc.boolean(), fc.mixedCase(fc.constant('prod')), fc.mixedCase(fc.constant('app')))
    .filter(([, f, s]) => f !== 'prod' || s !== 'app')
  await fc.assert(
    fc.asyncProperty(variants, async ([lock, factory, stack]) => {
      const res = lock
        ? await app.inject({ method: 'POST', url: `${stackUrl(factory, stack)}/lock`, payload: {} })
        : await write(factory, stack, 2)
      t.equal(res.statusCode, 400, `${factory}/${stack}`)
      t.equal(res.json().code, 'name-case-conflict')
      const state = await app.inject({ url: `${stackUrl('prod', 'app')}/terraform` })
      t.equal(state.json().serial, 1, 'the state is unchanged')
      t.equal((await app.inject({ url: `${stackUrl('prod', 'app')}/lock` })).statusCode, 404, 'no lock was taken')
    }),
    { numRuns: RUNS },
  )
})
