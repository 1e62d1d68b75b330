/**
 * Listings show only what the caller may read: with `team-a/*` allowed and
 * `team-a/app-secret` denied, the stack listing, the factory listing's
 * counts and /metrics' per-stack series leave app-secret out; a factory the
 * caller may not list is not listed.
 */
import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { authFromText, bearer, newToken, tokensFileText } from '../helpers/auth.js'

async function setup(t: Test) {
  const admin = newToken()
  const reader = newToken()
  const built = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([
        { name: 'admin', token: admin, grants: [{ scope: '*/*', allow: ['*'] }] },
        {
          name: 'reader',
          token: reader,
          grants: [
            { scope: '*/*', allow: ['read'] },
            { scope: 'team-a/app-secret', deny: ['read'] },
            { scope: 'team-b/*', deny: ['read'] },
          ],
        },
      ]),
    ),
  })
  for (const [factory, stack] of [
    ['team-a', 'app'],
    ['team-a', 'app-secret'],
    ['team-b', 'web'],
  ]) {
    const url = `/v1/factories/${factory}/stacks/${stack}`
    t.equal(
      (
        await built.app.inject({
          method: 'POST',
          url: `${url}/terraform`,
          headers: { ...bearer(admin), 'content-type': 'application/json' },
          payload: '{"version":4,"serial":1,"lineage":"l"}',
        })
      ).statusCode,
      200,
    )
    t.equal(
      (
        await built.app.inject({
          method: 'POST',
          url: `${url}/lock`,
          headers: bearer(admin),
          payload: { who: `holder of ${stack}` },
        })
      ).statusCode,
      201,
    )
  }
  return { ...built, admin, reader }
}

t.test('the stack listing leaves out a stack the caller may not read', async (t) => {
  const { app, admin, reader } = await setup(t)
  const seen = await app.inject({ url: '/v1/factories/team-a/stacks', headers: bearer(reader) })
  t.equal(seen.statusCode, 200)
  t.strictSame(
    seen.json().stacks.map((s: { name: string }) => s.name),
    ['app'],
  )
  t.notMatch(seen.body, 'app-secret')
  const all = await app.inject({ url: '/v1/factories/team-a/stacks', headers: bearer(admin) })
  t.strictSame(
    all.json().stacks.map((s: { name: string }) => s.name),
    ['app', 'app-secret'],
    'the admin sees both',
  )
})

t.test(
  'the factory listing leaves out a factory the caller may not list, and counts only readable stacks',
  async (t) => {
    const { app, reader } = await setup(t)
    const seen = await app.inject({ url: '/v1/factories', headers: bearer(reader) })
    t.equal(seen.statusCode, 200)
    t.strictSame(seen.json().factories, [{ name: 'team-a', stacks: 1 }])
  },
)

t.test('/metrics names only the stacks the caller may read', async (t) => {
  const { app, admin, reader } = await setup(t)
  const seen = await app.inject({ url: '/metrics', headers: bearer(reader) })
  t.equal(seen.statusCode, 200)
  t.match(seen.body, /unobin_state_revs\{factory="team-a",stack="app"\} 1/)
  t.notMatch(seen.body, /stack="app-secret"/)
  t.notMatch(seen.body, /factory="team-b"/)
  const all = await app.inject({ url: '/metrics', headers: bearer(admin) })
  t.match(all.body, /unobin_state_revs\{factory="team-a",stack="app-secret"\} 1/)
  t.match(all.body, /unobin_state_lock_age_seconds\{factory="team-b",stack="web"\}/)
})
