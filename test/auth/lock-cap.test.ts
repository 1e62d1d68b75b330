/**
 * The per-caller lock cap (--max-locks): exact under concurrency in one
 * process, counted from the caller's own index entries (never every
 * stack's marker), kept right when locks are released elsewhere, and
 * rebuilt from the markers at start.
 */
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { HELD_LOCKS_DIR } from '../../src/store/held-locks.js'
import { buildTestApp } from '../helpers/app.js'
import { authFromText, bearer, lockInfo, newToken, tokensFileText } from '../helpers/auth.js'
import { FaultyFs } from '../helpers/faulty-fs.js'
import { fileTree } from '../helpers/local-store.js'
import { makeRoot } from '../helpers/store.js'

function tokens(ci: string, admin: string): string {
  return tokensFileText([
    { name: 'ci', token: ci, grants: [{ scope: '*/*', allow: ['read', 'write', 'lock'] }] },
    { name: 'admin', token: admin, grants: [{ scope: '*/*', allow: ['*'] }] },
  ])
}

t.test('50 concurrent lock requests on 50 stacks with a cap of 5 grant exactly 5', async (t) => {
  const ci = newToken()
  const admin = newToken()
  const { app } = await buildTestApp(t, { auth: authFromText(tokens(ci, admin), { maxLocksPerCaller: 5 }) })
  const json = { 'content-type': 'application/json' }
  const answers = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      i % 2 === 0
        ? app.inject({
            method: 'POST',
            url: `/v1/factories/f${i % 3}/stacks/s${i}/lock`,
            headers: bearer(ci),
            payload: {},
          })
        : app.inject({
            method: 'LOCK',
            url: `/v1/factories/f${i % 3}/stacks/s${i}/terraform`,
            headers: { ...bearer(ci), ...json },
            payload: lockInfo(`id-${i}`),
          }),
    ),
  )
  const granted = answers.filter((a) => a.statusCode === 200 || a.statusCode === 201)
  t.equal(granted.length, 5, 'exactly the cap')
  t.equal(answers.filter((a) => a.statusCode === 429 && a.json().code === 'too-many-locks').length, 45)
  let held = 0
  for (let i = 0; i < 50; i++)
    if (
      (await app.inject({ url: `/v1/factories/f${i % 3}/stacks/s${i}/lock`, headers: bearer(admin) })).statusCode ===
      200
    )
      held++
  t.equal(held, 5, 'five stacks are locked')
})

t.test("taking a lock reads the caller's index, not every stack", async (t) => {
  const ci = newToken()
  const admin = newToken()
  const dir = t.testdir()
  const fs = new FaultyFs()
  const root = makeRoot(dir, { fs })
  const { app } = await buildTestApp(t, { dir, root, auth: authFromText(tokens(ci, admin), { maxLocksPerCaller: 30 }) })
  for (let i = 0; i < 300; i++) mkdirSync(join(dir, `f${i % 10}`, `s${i}`, 'snapshots'), { recursive: true })
  for (let i = 0; i < 20; i++)
    t.equal(
      (
        await app.inject({
          method: 'POST',
          url: `/v1/factories/f${i % 10}/stacks/s${i}/lock`,
          headers: bearer(admin),
          payload: {},
        })
      ).statusCode,
      201,
    )
  fs.calls.length = 0
  t.equal(
    (await app.inject({ method: 'POST', url: '/v1/factories/f0/stacks/s100/lock', headers: bearer(ci), payload: {} }))
      .statusCode,
    201,
  )
  const stackDirs = new Set(
    fs.calls
      .map((c) =>
        c.path
          .slice(dir.length + 1)
          .split('/')
          .slice(0, 2)
          .join('/'),
      )
      .filter((p) => p.includes('/') && !p.startsWith('.')),
  )
  // The admin's last lock may still be settling its own index entry (onResponse runs after inject resolves).
  t.ok(
    [...stackDirs].every((p) => p === 'f0/s100' || p === 'f9/s19'),
    `only the locked stack touched, not 300 (${[...stackDirs].join(', ')})`,
  )
})

t.test('a lock released on another replica or force-unlocked stops counting', async (t) => {
  const ci = newToken()
  const admin = newToken()
  const dir = t.testdir()
  const first = await buildTestApp(t, { dir, auth: authFromText(tokens(ci, admin), { maxLocksPerCaller: 2 }) })
  const second = await buildTestApp(t, { dir, auth: authFromText(tokens(ci, admin), { maxLocksPerCaller: 2 }) })
  const a = await first.app.inject({
    method: 'POST',
    url: '/v1/factories/f/stacks/a/lock',
    headers: bearer(ci),
    payload: {},
  })
  t.equal(a.statusCode, 201)
  t.equal(
    (await first.app.inject({ method: 'POST', url: '/v1/factories/f/stacks/b/lock', headers: bearer(ci), payload: {} }))
      .statusCode,
    201,
  )
  t.equal(
    (
      await second.app.inject({
        method: 'POST',
        url: '/v1/factories/f/stacks/c/lock',
        headers: bearer(ci),
        payload: {},
      })
    ).statusCode,
    429,
    'the other replica sees both',
  )
  t.equal(
    (
      await second.app.inject({
        method: 'DELETE',
        url: `/v1/factories/f/stacks/a/lock?id=${a.json().id}`,
        headers: bearer(ci),
      })
    ).statusCode,
    200,
    'released through the other replica',
  )
  t.equal(
    (await first.app.inject({ method: 'POST', url: '/v1/factories/f/stacks/c/lock', headers: bearer(ci), payload: {} }))
      .statusCode,
    201,
  )
  t.equal(
    (
      await first.app.inject({
        method: 'DELETE',
        url: '/v1/factories/f/stacks/b/lock?force=true',
        headers: bearer(admin),
      })
    ).statusCode,
    200,
    'force-unlocked by an admin',
  )
  t.equal(
    (
      await second.app.inject({
        method: 'POST',
        url: '/v1/factories/f/stacks/d/lock',
        headers: bearer(ci),
        payload: {},
      })
    ).statusCode,
    201,
  )
  t.equal(
    (
      await second.app.inject({
        method: 'POST',
        url: '/v1/factories/f/stacks/e/lock',
        headers: bearer(ci),
        payload: {},
      })
    ).statusCode,
    429,
  )
})

t.test('the index is rebuilt from the lock markers at start', async (t) => {
  const ci = newToken()
  const admin = newToken()
  const dir = t.testdir()
  const before = await buildTestApp(t, { dir, auth: authFromText(tokens(ci, admin)) }) // no cap: no index kept
  for (const s of ['a', 'b'])
    t.equal(
      (
        await before.app.inject({
          method: 'POST',
          url: `/v1/factories/f/stacks/${s}/lock`,
          headers: bearer(ci),
          payload: {},
        })
      ).statusCode,
      201,
    )
  t.notOk(readdirSync(dir).includes(HELD_LOCKS_DIR), 'no index without a cap')
  const after = await buildTestApp(t, { dir, auth: authFromText(tokens(ci, admin), { maxLocksPerCaller: 2 }) })
  t.equal(
    (await after.app.inject({ method: 'POST', url: '/v1/factories/f/stacks/c/lock', headers: bearer(ci), payload: {} }))
      .statusCode,
    429,
    'the locks taken before count',
  )
  t.ok(readdirSync(dir).includes(HELD_LOCKS_DIR), 'rebuilt at start')
  t.equal(
    (await after.app.inject({ url: '/v1/factories', headers: bearer(admin) })).json().factories.length,
    1,
    'the index is not a factory',
  )
})

t.test('an unlock refused with a 4xx leaves the index as it was, a stale entry included', async (t) => {
  const ci = newToken()
  const admin = newToken()
  const dir = t.testdir()
  const { app } = await buildTestApp(t, { dir, auth: authFromText(tokens(ci, admin), { maxLocksPerCaller: 2 }) })
  const url = '/v1/factories/f/stacks/s/lock'
  t.equal((await app.inject({ method: 'POST', url, headers: bearer(ci), payload: {} })).statusCode, 201)
  // Force-unlocked by an admin: the caller's entry is stale now, to be dropped when next counted.
  t.equal((await app.inject({ method: 'DELETE', url: `${url}?force=true`, headers: bearer(admin) })).statusCode, 200)
  const before = fileTree(dir)
  t.ok(
    Object.keys(before).some((p) => p.startsWith(`${HELD_LOCKS_DIR}/`) && p.endsWith('/f+s')),
    'the stale entry is there',
  )
  for (const refused of [
    { headers: { ...bearer(ci), 'content-type': 'text/plain' }, payload: 'x', status: 415 },
    { headers: bearer(ci), payload: undefined, status: 400 },
  ]) {
    const answer = await app.inject({ method: 'DELETE', url, headers: refused.headers, payload: refused.payload })
    t.equal(answer.statusCode, refused.status, answer.body)
    t.same(fileTree(dir), before, `a ${refused.status} changed nothing`)
  }
  // The stale entry still stops counting when the caller next takes locks.
  for (const stack of ['s', 't'])
    t.equal(
      (
        await app.inject({
          method: 'POST',
          url: `/v1/factories/f/stacks/${stack}/lock`,
          headers: bearer(ci),
          payload: {},
        })
      ).statusCode,
      201,
    )
})
