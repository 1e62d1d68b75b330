/**
 * Hostile requests ("bad input always gets a 4xx with a clear
 * problem body and changes nothing"). One seeded stack — two revs, a current
 * and a lock — then a table of requests, each answered with its exact status
 * and code, never a 5xx, and the data directory byte-identical afterwards.
 */
import { lstat, readFile, readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { sampleSnapshot } from '../helpers/store.js'
import { BODY_LIMIT, CUR_REV, HOLDER, JSON_TYPE, OLD_REV, type Row, S } from './hostile/rows.js'
import { NAME_ROWS } from './hostile/name-rows.js'
import { BODY_ROWS } from './hostile/body-rows.js'
import { LOCK_ROWS } from './hostile/lock-rows.js'

/** Every path under `dir` with its kind and, for files, its bytes (base64). */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dir, rel))).sort()
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`
      const st = await lstat(join(dir, path))
      if (st.isSymbolicLink()) out[path] = `symlink:${await readlink(join(dir, path))}`
      else if (st.isDirectory()) {
        out[path] = 'dir'
        await walk(path)
      } else out[path] = `file:${(await readFile(join(dir, path))).toString('base64')}`
    }
  }
  await walk('')
  return out
}

/** A snapshot document from one entry (the rest valid), as bytes. */

const ROWS: readonly Row[] = [...NAME_ROWS, ...BODY_ROWS, ...LOCK_ROWS]

t.test('every hostile request is refused with its exact 4xx and changes nothing', async (t) => {
  t.ok(ROWS.length >= 40, `${ROWS.length} hostile requests`)
  const { app, dir } = await buildTestApp(t, { bodyLimitBytes: BODY_LIMIT, maxWaitSeconds: 0.05 })

  const post = async (query: string) => {
    const res = await app.inject({
      method: 'POST',
      url: `${S}/snapshots${query}`,
      headers: { 'content-type': JSON_TYPE },
      payload: sampleSnapshot(query),
    })
    t.equal(res.statusCode, 201, 'seed write')
    return (res.json() as { rev: string }).rev
  }
  const oldRev = await post('')
  const curRev = await post('?current=true')
  const lock = await app.inject({
    method: 'POST',
    url: `${S}/lock`,
    payload: { who: 'seed', operation: 'apply', ttl: 3600 },
  })
  t.equal(lock.statusCode, 201, 'seed lock')
  const holderId = (lock.json() as { id: string }).id
  const fill = (s: string): string =>
    s.replaceAll(HOLDER, holderId).replaceAll(OLD_REV, oldRev).replaceAll(CUR_REV, curRev)

  const before = await tree(dir)
  t.ok(
    Object.keys(before).some((p) => p.endsWith('/lock')),
    'the seeded tree holds the lock marker',
  )
  t.equal(Object.keys(before).filter((p) => p.endsWith('.json.enc')).length, 2, 'the seeded tree holds two revs')

  for (const row of ROWS) {
    const headers: Record<string, string> = {}
    if (row.type !== undefined) headers['content-type'] = row.type
    for (const [k, v] of Object.entries(row.headers ?? {})) headers[k] = fill(v)
    const payload = row.body === undefined ? undefined : Buffer.isBuffer(row.body) ? row.body : fill(row.body)
    const res = await app.inject({
      method: row.method,
      url: fill(row.url),
      headers,
      ...(payload === undefined ? {} : { payload }),
    })
    t.ok(res.statusCode < 500, `${row.name}: no 5xx (got ${res.statusCode})`)
    t.equal(res.statusCode, row.status, `${row.name}: status`)
    t.match(String(res.headers['content-type']), /^application\/problem\+json/, `${row.name}: problem content type`)
    let code: unknown
    try {
      code = (res.json() as { code?: unknown }).code
    } catch {
      code = `<not JSON: ${res.body.slice(0, 80)}>`
    }
    t.equal(code, row.code, `${row.name}: code`)
    t.strictSame(await tree(dir), before, `${row.name}: data directory unchanged`)
  }

  // The seeded state still reads back as it was.
  const current = await app.inject({ method: 'GET', url: `${S}/current` })
  t.equal(current.headers.etag, `"${curRev}"`)
  const held = await app.inject({ method: 'GET', url: `${S}/lock` })
  t.equal((held.json() as { id: string }).id, holderId)
})

t.test('no hostile name creates a factory or stack directory', async (t) => {
  const { app, dir } = await buildTestApp(t)
  const names = ['..', '.', '..%2f..', '%2e%2e%2fx', 'a%5cb', 'x%00', '%EF%BD%86', '.hidden', '-x', 'x'.repeat(129)]
  for (const name of names) {
    const res = await app.inject({ method: 'POST', url: `/v1/factories/${name}/stacks/${name}/lock` })
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `${name}: 4xx (got ${res.statusCode})`)
  }
  t.strictSame(await readdir(dir), [], 'nothing was created')
})
