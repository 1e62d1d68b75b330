/**
 * Large documents are scanned (fast-checks.ts) or, when the scan does not
 * accept them, parsed in a worker thread with the same functions as small
 * ones in place: the same results and the same errors, code, message and
 * details included.
 */
import t from 'tap'
import { StateError } from '../../src/errors.js'
import { MAX_VALUES, OFF_THREAD_BYTES, checkUnobinSnapshot, parseStateMeta } from '../../src/parse/parse-pool.js'
import { validateUnobinSnapshot } from '../../src/store/unobin-snapshot.js'
import { readStateMeta } from '../../src/terraform/state-meta.js'

const pad = 'p'.repeat(OFF_THREAD_BYTES)

function errorOf(fn: () => unknown): StateError {
  try {
    fn()
  } catch (err) {
    if (err instanceof StateError) return err
    throw err
  }
  throw new Error('no error')
}

t.test('a large valid snapshot passes the check (by the scan, see json-scan.test.ts)', async (t) => {
  const body = Buffer.from(
    JSON.stringify({
      'format-version': 1,
      entries: [{ address: 'a', 'entry-kind': 'leaf', category: 'resource', binding: { alias: 'x', kind: 'y' } }],
      outputs: { pad },
    }),
  )
  t.ok(body.length >= OFF_THREAD_BYTES)
  await t.resolves(checkUnobinSnapshot(body))
})

t.test('a large valid snapshot the scan leaves undecided passes the reference, off the main thread', async (t) => {
  // A repeated member the rules read: JSON.parse keeps the last, and the scan does not reason about it.
  const body = Buffer.from(`{"format-version":2,"format-version":1,"entries":[],"outputs":${JSON.stringify({ pad })}}`)
  t.ok(body.length >= OFF_THREAD_BYTES)
  await t.resolves(checkUnobinSnapshot(body))
})

t.test('a large snapshot breaking a Go rule is refused with the error the main thread gives', async (t) => {
  const body = Buffer.from(
    JSON.stringify({ 'format-version': 1, entries: [{ address: 'a', 'entry-kind': 'nope' }], outputs: { pad } }),
  )
  const expected = errorOf(() => validateUnobinSnapshot(body))
  t.equal(expected.code, 'invalid-snapshot')
  await t.rejects(checkUnobinSnapshot(body), {
    code: expected.code,
    message: expected.message,
    details: expected.details,
  })
  const err = await checkUnobinSnapshot(body).catch((e: unknown) => e)
  t.ok(err instanceof StateError, 'a StateError, so the HTTP layer answers it as a problem')
})

t.test('large malformed JSON is malformed-json, as on the main thread', async (t) => {
  const body = Buffer.from(`{"format-version":1,"outputs":{"pad":"${pad}"}`)
  const expected = errorOf(() => validateUnobinSnapshot(body))
  await t.rejects(checkUnobinSnapshot(body), { code: 'malformed-json', message: expected.message })
})

t.test('lineage and serial of a large Terraform state are read off the main thread', async (t) => {
  const body = Buffer.from(JSON.stringify({ version: 4, serial: 7, lineage: 'l-1', outputs: { pad: { value: pad } } }))
  t.same(await parseStateMeta(body), readStateMeta(body))
  const bad = Buffer.from(JSON.stringify({ version: 4, serial: -1, lineage: 'l-1', outputs: { pad: { value: pad } } }))
  const expected = errorOf(() => readStateMeta(bad))
  await t.rejects(parseStateMeta(bad), { code: expected.code, message: expected.message })
})

t.test('a large document of more values than the worker may parse is refused as body-too-large', async (t) => {
  const body = Buffer.from(`{"format-version":1,"entries":[${'{},'.repeat(MAX_VALUES)}{}]}`)
  await t.rejects(checkUnobinSnapshot(body), { code: 'body-too-large', message: /JSON values/ })
  // The same document with fewer values passes the count and meets the Go rules instead.
  const fewer = Buffer.from(`{"format-version":1,"entries":[{}],"pad":"${'p'.repeat(OFF_THREAD_BYTES)}"}`)
  await t.rejects(checkUnobinSnapshot(fewer), { code: 'invalid-snapshot' })
})

t.test('small documents are parsed in place with the same rules', async (t) => {
  await t.rejects(checkUnobinSnapshot(Buffer.from('{"format-version":2}')), { code: 'invalid-snapshot' })
  const small = Buffer.from('{"serial":1,"lineage":"x"}')
  t.same(await parseStateMeta(small), readStateMeta(small))
})
