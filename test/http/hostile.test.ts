/**
 * Hostile requests ("bad input always gets a 4xx with a clear
 * problem body and changes nothing"). One seeded stack — two revs, a current
 * and a lock — then a table of requests, each answered with its exact status
 * and code, never a 5xx, and the data directory byte-identical afterwards.
 */
import { lstat, readFile, readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { sampleSnapshot } from '../helpers/store.js'

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
function withEntries(entries: unknown[]): string {
  return JSON.stringify({
    'format-version': 1,
    factory: { name: 'f', version: '1', 'content-revision': 'x' },
    stack: 'dev',
    'generated-at': '2026-07-10T12:00:00Z',
    entries,
    outputs: {},
  })
}
const entry = (over: Record<string, unknown>): Record<string, unknown> => ({
  address: 'a.b',
  'entry-kind': 'leaf',
  category: 'resource',
  binding: { alias: 'aws', kind: 'vpc' },
  ...over,
})
const doc = (over: Record<string, unknown>): string =>
  JSON.stringify({ ...(JSON.parse(withEntries([entry({})])) as Record<string, unknown>), ...over })

const BODY_LIMIT = 2048
const S = stackUrl()
const JSON_TYPE = 'application/json'
/** Stands for the seeded holder's lock id (so a refusal proves the hostile part, not the fence). */
const HOLDER = '<holder>'
/** Stands for the first seeded rev (not current). */
const OLD_REV = '<old-rev>'
/** Stands for the current rev. */
const CUR_REV = '<current-rev>'

interface Row {
  readonly name: string
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'PROPFIND'
  readonly url: string
  readonly body?: string | Buffer
  readonly type?: string
  readonly headers?: Record<string, string>
  readonly status: number
  readonly code: string
}

const snap = (name: string, body: string | Buffer, status: number, code: string): Row => ({
  name,
  method: 'POST',
  url: `${S}/snapshots`,
  body,
  type: JSON_TYPE,
  headers: { 'lock-id': HOLDER },
  status,
  code,
})
const lockPost = (name: string, body: string, status: number, code: string, query = ''): Row => ({
  name,
  method: 'POST',
  url: `${S}/lock${query}`,
  body,
  type: JSON_TYPE,
  status,
  code,
})

const ROWS: Row[] = [
  // Traversal and names, in every encoding.
  {
    name: 'factory ..%2f..%2fcurrent',
    method: 'GET',
    url: '/v1/factories/..%2f..%2fcurrent/stacks',
    status: 400,
    code: 'invalid-name',
  },
  {
    name: 'stack ..%2f..%2fcurrent',
    method: 'GET',
    url: '/v1/factories/f1/stacks/..%2f..%2fcurrent/current',
    status: 400,
    code: 'invalid-name',
  },
  {
    name: 'stack %2e%2e%2f%2e%2e (write)',
    method: 'POST',
    url: '/v1/factories/f1/stacks/%2e%2e%2f%2e%2e/snapshots',
    body: sampleSnapshot(9),
    type: JSON_TYPE,
    status: 400,
    code: 'invalid-name',
  },
  // light-my-request resolves a whole "%2e%2e" segment like a browser: the path no longer names a route.
  {
    name: 'stack segment %2e%2e',
    method: 'GET',
    url: '/v1/factories/f1/stacks/%2e%2e/current',
    status: 404,
    code: 'route-not-found',
  },
  {
    name: 'factory ..%5c..%5c (backslash)',
    method: 'GET',
    url: '/v1/factories/..%5c..%5cetc/stacks/s1/current',
    status: 400,
    code: 'invalid-name',
  },
  {
    name: 'stack with a backslash, force-unlock',
    method: 'DELETE',
    url: '/v1/factories/f1/stacks/s1%5c..%5cs1/lock?force=true&reason=x',
    status: 400,
    code: 'invalid-name',
  },
  { name: 'factory with %00', method: 'GET', url: '/v1/factories/f1%00/stacks', status: 400, code: 'invalid-name' },
  {
    name: 'stack with %00 (write)',
    method: 'POST',
    url: '/v1/factories/f1/stacks/s1%00.json/snapshots',
    body: sampleSnapshot(9),
    type: JSON_TYPE,
    status: 400,
    code: 'invalid-name',
  },
  {
    name: 'fullwidth f in factory',
    method: 'GET',
    url: '/v1/factories/%EF%BD%861/stacks/s1/current',
    status: 400,
    code: 'invalid-name',
  },
  {
    name: 'Cyrillic a in stack (lock)',
    method: 'POST',
    url: '/v1/factories/f1/stacks/st%D0%B0ck/lock',
    status: 400,
    code: 'invalid-name',
  },
  {
    name: 'factory starting with a dot',
    method: 'POST',
    url: '/v1/factories/.git/stacks/s1/snapshots',
    body: sampleSnapshot(9),
    type: JSON_TYPE,
    status: 400,
    code: 'invalid-name',
  },
  {
    name: 'stack starting with a dash',
    method: 'PUT',
    url: '/v1/factories/f1/stacks/-rf/current',
    body: JSON.stringify({ rev: '2026-07-10T12:00:00Z' }),
    type: JSON_TYPE,
    status: 400,
    code: 'invalid-name',
  },
  {
    name: 'stack with a space',
    method: 'GET',
    url: '/v1/factories/f1/stacks/s%201/lock',
    status: 400,
    code: 'invalid-name',
  },
  {
    name: '129-character stack',
    method: 'GET',
    url: `/v1/factories/f1/stacks/${'s'.repeat(129)}/current`,
    status: 400,
    code: 'invalid-name',
  },
  {
    name: '300-character factory',
    method: 'GET',
    url: `/v1/factories/${'f'.repeat(300)}/stacks`,
    status: 414,
    code: 'uri-too-long',
  },
  {
    name: 'overlong UTF-8 dots',
    method: 'GET',
    url: '/v1/factories/%C0%AE%C0%AE/stacks',
    status: 400,
    code: 'invalid-request',
  },
  {
    name: 'discovery after=../',
    method: 'GET',
    url: '/v1/factories?after=..%2f',
    status: 400,
    code: 'invalid-request',
  },

  // Revs.
  {
    name: 'rev with a slash',
    method: 'GET',
    url: `${S}/snapshots/2026%2F..%2Fcurrent`,
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'rev ..%2fcurrent (delete)',
    method: 'DELETE',
    url: `${S}/snapshots/..%2fcurrent?force=true`,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'rev with trailing fraction zero',
    method: 'GET',
    url: `${S}/snapshots/2026-07-10T12:00:00.10Z`,
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'rev with +00:00',
    method: 'DELETE',
    url: `${S}/snapshots/2026-07-10T12:00:00+00:00`,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'rev with suffix _0',
    method: 'GET',
    url: `${S}/snapshots/2026-07-10T12:00:00Z_0`,
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'rev on February 30',
    method: 'GET',
    url: `${S}/snapshots/2026-02-30T12:00:00Z`,
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'rev .json.enc suffix',
    method: 'GET',
    url: `${S}/snapshots/2026-07-10T12:00:00Z.json.enc`,
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'set current to ../current',
    method: 'PUT',
    url: `${S}/current`,
    body: JSON.stringify({ rev: '../current' }),
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-request',
  },
  {
    name: 'set current to a non-canonical rev',
    method: 'PUT',
    url: `${S}/current`,
    body: JSON.stringify({ rev: '2026-07-10T12:00:00.10Z' }),
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'set current to an absent rev',
    method: 'PUT',
    url: `${S}/current`,
    body: JSON.stringify({ rev: '2020-01-01T00:00:00Z' }),
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 404,
    code: 'rev-not-found',
  },
  { name: 'list after=../x', method: 'GET', url: `${S}/snapshots?after=..%2fx`, status: 400, code: 'invalid-request' },
  { name: 'list limit=0', method: 'GET', url: `${S}/snapshots?limit=0`, status: 400, code: 'invalid-request' },
  {
    name: 'list limit huge',
    method: 'GET',
    url: `${S}/snapshots?limit=99999999999`,
    status: 400,
    code: 'invalid-request',
  },

  // JSON bodies.
  lockPost('malformed JSON lock body', '{"who":', 400, 'malformed-json'),
  lockPost('__proto__ lock body', '{"__proto__":{"polluted":true}}', 400, 'malformed-json'),
  {
    name: 'constructor.prototype gc body',
    method: 'POST',
    url: `${S}/snapshots:gc`,
    body: '{"keep":0,"constructor":{"prototype":{"polluted":true}}}',
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'malformed-json',
  },
  {
    name: '__proto__ set-current body',
    method: 'PUT',
    url: `${S}/current`,
    body: `{"rev":"2026-07-10T12:00:00Z","__proto__":{"x":1}}`,
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'malformed-json',
  },
  lockPost('lock who is a number', '{"who":1}', 400, 'invalid-request'),
  lockPost('lock info is an object', '{"info":{"a":1}}', 400, 'invalid-request'),
  lockPost('unknown field in lock body', '{"who":"x","admin":true}', 400, 'invalid-request'),
  lockPost('lock body is an array', '[]', 400, 'invalid-request'),
  lockPost('lock body is a number', '1', 400, 'invalid-request'),
  lockPost('lock body is a string', '"x"', 400, 'invalid-request'),
  lockPost('lock body is null', 'null', 400, 'invalid-request'),
  lockPost('negative ttl', '{"ttl":-5}', 400, 'invalid-request'),
  lockPost('zero ttl', '{"ttl":0}', 400, 'invalid-request'),
  lockPost('huge ttl', '{"ttl":1e12}', 400, 'invalid-request'),
  lockPost('fractional ttl', '{"ttl":1.5}', 400, 'invalid-request'),
  lockPost('ttl as a string', '{"ttl":"60"}', 400, 'invalid-request'),
  lockPost('negative wait', '{}', 400, 'invalid-request', '?wait=-1'),
  lockPost('wait not a number', '{}', 400, 'invalid-request', '?wait=soon'),
  // A huge wait is capped by the server maximum, then times out like any wait.
  lockPost('huge wait on the held lock', '{}', 423, 'wait-timeout', '?wait=99999999999'),
  {
    name: 'gc keep as a string',
    method: 'POST',
    url: `${S}/snapshots:gc`,
    body: '{"keep":"0"}',
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-request',
  },
  {
    name: 'gc negative keep',
    method: 'POST',
    url: `${S}/snapshots:gc`,
    body: '{"keep":-1}',
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-request',
  },
  {
    name: 'gc unknown field',
    method: 'POST',
    url: `${S}/snapshots:gc`,
    body: '{"keep":0,"all":true}',
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-request',
  },
  {
    name: 'set current rev is a number',
    method: 'PUT',
    url: `${S}/current`,
    body: '{"rev":1}',
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-request',
  },
  {
    name: 'set current body is a string',
    method: 'PUT',
    url: `${S}/current`,
    body: '"x"',
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-request',
  },
  {
    name: 'renew with an unknown field',
    method: 'PUT',
    url: `${S}/lock`,
    body: `{"id":"${HOLDER}","forever":true}`,
    type: JSON_TYPE,
    status: 400,
    code: 'invalid-request',
  },
  {
    name: 'boolean query not a boolean',
    method: 'POST',
    url: `${S}/snapshots?current=yes`,
    body: sampleSnapshot(9),
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-request',
  },
  { name: 'force not a boolean', method: 'DELETE', url: `${S}/lock?force=maybe`, status: 400, code: 'invalid-request' },
  {
    name: 'If-Match: * on set current',
    method: 'PUT',
    url: `${S}/current`,
    body: JSON.stringify({ rev: OLD_REV }),
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER, 'if-match': '*' },
    status: 400,
    code: 'invalid-request',
  },
  {
    name: 'stale If-Match on set current',
    method: 'PUT',
    url: `${S}/current`,
    body: JSON.stringify({ rev: OLD_REV }),
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER, 'if-match': `"${OLD_REV}"` },
    status: 412,
    code: 'current-mismatch',
  },

  // Sizes and content types.
  snap(
    'snapshot over the body limit',
    Buffer.from(withEntries([entry({ outputs: { pad: 'x'.repeat(BODY_LIMIT) } })])),
    413,
    'body-too-large',
  ),
  lockPost('lock body over the body limit', JSON.stringify({ info: 'x'.repeat(BODY_LIMIT) }), 413, 'body-too-large'),
  {
    name: 'text/plain lock body',
    method: 'POST',
    url: `${S}/lock`,
    body: 'who=me',
    type: 'text/plain',
    status: 415,
    code: 'unsupported-media-type',
  },
  {
    name: 'form-encoded set-current body',
    method: 'PUT',
    url: `${S}/current`,
    body: `rev=${OLD_REV}`,
    type: 'application/x-www-form-urlencoded',
    headers: { 'lock-id': HOLDER },
    status: 415,
    code: 'unsupported-media-type',
  },
  {
    name: 'XML gc body',
    method: 'POST',
    url: `${S}/snapshots:gc`,
    body: '<keep>0</keep>',
    type: 'application/xml',
    headers: { 'lock-id': HOLDER },
    status: 415,
    code: 'unsupported-media-type',
  },
  {
    name: 'Lock-Id longer than 256',
    method: 'DELETE',
    url: `${S}/lock`,
    headers: { 'lock-id': 'x'.repeat(300) },
    status: 400,
    code: 'invalid-request',
  },

  // Snapshot documents: every rule of the Go tool broken once.
  snap('empty snapshot body', '', 400, 'malformed-json'),
  snap('snapshot not JSON', '{"format-version": 1,', 400, 'malformed-json'),
  snap('snapshot is an array', '[]', 422, 'invalid-snapshot'),
  snap('snapshot is a number', '1', 422, 'invalid-snapshot'),
  snap('snapshot is a string', '"x"', 422, 'invalid-snapshot'),
  snap('snapshot is null', 'null', 422, 'invalid-snapshot'),
  snap('format-version 2', doc({ 'format-version': 2 }), 422, 'invalid-snapshot'),
  snap('format-version missing', doc({ 'format-version': undefined }), 422, 'invalid-snapshot'),
  snap('format-version as a string', doc({ 'format-version': '1' }), 422, 'invalid-snapshot'),
  snap('factory not an object', doc({ factory: 'cluster-deploy' }), 422, 'invalid-snapshot'),
  snap('stack not a string', doc({ stack: 5 }), 422, 'invalid-snapshot'),
  snap('entries not an array', doc({ entries: {} }), 422, 'invalid-snapshot'),
  snap('entry not an object', withEntries([1]), 422, 'invalid-snapshot'),
  snap('entry without address', withEntries([entry({ address: undefined })]), 422, 'invalid-snapshot'),
  snap('entry with empty address', withEntries([entry({ address: '' })]), 422, 'invalid-snapshot'),
  snap(
    'duplicate addresses',
    withEntries([entry({}), entry({ 'entry-kind': 'action', category: 'action' })]),
    422,
    'invalid-snapshot',
  ),
  snap('entry-kind missing', withEntries([entry({ 'entry-kind': undefined })]), 422, 'invalid-snapshot'),
  snap('entry-kind unknown', withEntries([entry({ 'entry-kind': 'resource' })]), 422, 'invalid-snapshot'),
  snap('entry-kind __proto__', withEntries([entry({ 'entry-kind': '__proto__' })]), 422, 'invalid-snapshot'),
  snap('leaf with category data-source', withEntries([entry({ category: 'data-source' })]), 422, 'invalid-snapshot'),
  snap(
    'action with category resource',
    withEntries([entry({ 'entry-kind': 'action', category: 'resource' })]),
    422,
    'invalid-snapshot',
  ),
  snap(
    'data-source with category action',
    withEntries([entry({ 'entry-kind': 'data-source', category: 'action' })]),
    422,
    'invalid-snapshot',
  ),
  snap(
    'library-call without category',
    withEntries([entry({ 'entry-kind': 'library-call', category: undefined })]),
    422,
    'invalid-snapshot',
  ),
  snap('binding missing', withEntries([entry({ binding: undefined })]), 422, 'invalid-snapshot'),
  snap('binding alias empty', withEntries([entry({ binding: { alias: '', kind: 'vpc' } })]), 422, 'invalid-snapshot'),
  snap('binding kind missing', withEntries([entry({ binding: { alias: 'aws' } })]), 422, 'invalid-snapshot'),

  // Locks and fencing.
  {
    name: "write with another holder's Lock-Id",
    method: 'POST',
    url: `${S}/snapshots`,
    body: sampleSnapshot(9),
    type: JSON_TYPE,
    headers: { 'lock-id': 'someone-else' },
    status: 423,
    code: 'locked',
  },
  {
    name: 'write without Lock-Id on the locked stack',
    method: 'POST',
    url: `${S}/snapshots?current=true`,
    body: sampleSnapshot(9),
    type: JSON_TYPE,
    status: 423,
    code: 'locked',
  },
  {
    name: 'delete rev with another Lock-Id',
    method: 'DELETE',
    url: `${S}/snapshots/${OLD_REV}`,
    headers: { 'lock-id': 'someone-else' },
    status: 423,
    code: 'locked',
  },
  {
    name: 'gc without Lock-Id',
    method: 'POST',
    url: `${S}/snapshots:gc`,
    body: '{"keep":0}',
    type: JSON_TYPE,
    status: 423,
    code: 'locked',
  },
  {
    name: 'rollback without Lock-Id',
    method: 'PUT',
    url: `${S}/current`,
    body: JSON.stringify({ rev: OLD_REV }),
    type: JSON_TYPE,
    status: 423,
    code: 'locked',
  },
  {
    name: 'delete the current rev without force',
    method: 'DELETE',
    url: `${S}/snapshots/${CUR_REV}`,
    headers: { 'lock-id': HOLDER },
    status: 409,
    code: 'rev-is-current',
  },
  lockPost('second lock', '{"who":"intruder"}', 423, 'locked'),
  { name: 'unlock with another id', method: 'DELETE', url: `${S}/lock?id=someone-else`, status: 423, code: 'locked' },
  {
    name: 'renew with another Lock-Id',
    method: 'PUT',
    url: `${S}/lock`,
    body: '{"ttl":60}',
    type: JSON_TYPE,
    headers: { 'lock-id': 'someone-else' },
    status: 423,
    code: 'locked',
  },
  { name: 'unlock without an id', method: 'DELETE', url: `${S}/lock`, status: 400, code: 'invalid-request' },

  // Found by the fuzzing torture scenario (each once answered 500, or left a trace).
  {
    name: 'rev in month 13 (rolls past year 9999)',
    method: 'GET',
    url: `${S}/snapshots/9999-13-01T00:00:00Z`,
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'rev on day 0 of month 0',
    method: 'GET',
    url: `${S}/snapshots/0000-00-01T00:00:00Z`,
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'rev at hour 24',
    method: 'DELETE',
    url: `${S}/snapshots/2026-07-10T24:00:00Z`,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'restore a rev on day 32',
    method: 'POST',
    url: `${S}/snapshots:restore`,
    body: JSON.stringify({ rev: '9999-12-32T00:00:00Z_1' }),
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'list after an hour-24 rev',
    method: 'GET',
    url: `${S}/snapshots?after=9999-12-31T24:00:00Z`,
    status: 400,
    code: 'invalid-rev',
  },
  {
    name: 'prune maxAge 1e400 (Infinity)',
    method: 'POST',
    url: `${S}/snapshots:prune`,
    body: '{"maxAge":1e400}',
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-request',
  },
  {
    name: 'prune maxAge 1e308',
    method: 'POST',
    url: `${S}/snapshots:prune`,
    body: '{"maxAge":1e308}',
    type: JSON_TYPE,
    headers: { 'lock-id': HOLDER },
    status: 400,
    code: 'invalid-request',
  },
  {
    name: 'write to a new stack with a made-up Lock-Id',
    method: 'POST',
    url: '/v1/factories/brand-new/stacks/s2/snapshots',
    body: sampleSnapshot(9),
    type: JSON_TYPE,
    headers: { 'lock-id': 'c0ffee00-0000-4000-8000-000000000000' },
    status: 409,
    code: 'lock-not-held',
  },

  // Routes and methods.
  { name: 'unknown route', method: 'GET', url: '/v1/secrets', status: 404, code: 'route-not-found' },
  {
    name: 'unknown route under a stack',
    method: 'GET',
    url: `${S}/snapshots/../../../../../../etc/passwd`,
    status: 404,
    code: 'route-not-found',
  },
  {
    name: 'unknown method PATCH',
    method: 'PATCH',
    url: `${S}/current`,
    body: '{}',
    type: JSON_TYPE,
    status: 404,
    code: 'route-not-found',
  },
  { name: 'unknown method PROPFIND', method: 'PROPFIND', url: `${S}/snapshots`, status: 404, code: 'route-not-found' },
]

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
