/**
 * Schemas compile on first use (or in the warm-up after listening), not while
 * the app gets ready: the answers are the same, each schema compiles once,
 * and the warm-up compiles every route's schemas, so a schema that does not
 * compile still fails the tests rather than a first request in production.
 */
import t from 'tap'
import { Ajv } from 'ajv'
import { LazyCompilers } from '../../src/http/lazy-compilers.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'

t.test('a validator compiles on its first call, once, and carries the errors of the compiled one', async (t) => {
  const lazy = new LazyCompilers()
  const ajv = new Ajv()
  let compiles = 0
  const validate = lazy.validator(() => {
    compiles++
    return ajv.compile({ type: 'object', required: ['id'], properties: { id: { type: 'string' } } })
  })
  t.equal(compiles, 0, 'nothing compiles before the first call')
  t.equal(lazy.pending, 1)
  t.equal(validate({ id: 'x' }), true)
  t.equal(validate({}), false)
  t.match(
    validate.errors,
    [{ keyword: 'required', params: { missingProperty: 'id' } }],
    "the compiled function's errors",
  )
  t.equal(validate({ id: 'y' }), true)
  t.equal(validate.errors, null, 'a passing call clears them')
  t.equal(compiles, 1, 'compiled once')
  t.equal(lazy.pending, 0)
  t.equal(await lazy.warmUp(), 0, 'nothing left to warm up')
})

t.test(
  'serializers: one per schema (a GET and its HEAD share it), all made by the warm-up, which an abort stops',
  async (t) => {
    const lazy = new LazyCompilers()
    const compile = lazy.buildSerializer({}, {})
    const shared = { type: 'object', properties: { n: { type: 'integer' } } }
    const get = compile({ schema: shared, method: 'GET', url: '/a', httpStatus: '200' })
    const head = compile({ schema: shared, method: 'HEAD', url: '/a', httpStatus: '200' })
    const other = compile({
      schema: { type: 'object', properties: { s: { type: 'string' } } },
      method: 'GET',
      url: '/b',
      httpStatus: '200',
    })
    t.equal(lazy.pending, 3)
    t.equal(get({ n: 1, dropped: true }), '{"n":1}', 'the schema shapes the output')
    t.equal(head({ n: 2 }), '{"n":2}')
    t.equal(lazy.pending, 1, 'the HEAD twin reused the GET serializer')
    const stop = new AbortController()
    stop.abort()
    t.equal(await lazy.warmUp(stop.signal), 0, 'an aborted warm-up makes nothing')
    t.equal(await lazy.warmUp(), 1)
    t.equal(other({ s: 'x' }), '{"s":"x"}')
    t.equal(lazy.pending, 0)
  },
)

t.test(
  "the app's schemas: answers before any warm-up, then the warm-up compiles every remaining route schema",
  async (t) => {
    const { app, warmUp } = await buildTestApp(t)
    const refused = await app.inject({ method: 'POST', url: `${stackUrl()}/lock`, payload: { who: 5 } })
    t.equal(refused.statusCode, 400, 'a body that breaks its schema is refused before any warm-up')
    t.equal(refused.json().code, 'invalid-request')
    const held = await app.inject({ method: 'POST', url: `${stackUrl()}/lock`, payload: {} })
    t.equal(held.statusCode, 201, held.body)
    t.type(held.json().id, 'string', 'the lock answer is serialized by its schema')
    const made = await warmUp()
    t.ok(made > 50, `the warm-up compiled the remaining ${made} validators and serializers`)
    t.equal(await warmUp(), 0, 'and left nothing')
    const again = await app.inject({ method: 'GET', url: `${stackUrl()}/lock` })
    t.equal(again.statusCode, 200)
    t.equal(again.json().id, held.json().id)
  },
)
