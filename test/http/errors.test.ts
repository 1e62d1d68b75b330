/**
 * Keeps the error table honest: every code of the contract has one HTTP
 * status, every status is an error status, and the Problem schema published
 * in openapi.yaml names exactly the codes the server can answer with.
 */
import t from 'tap'
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js'
import { STATUS, classify, problem } from '../../src/http/problems.js'
import { ProblemSchema as Problem } from '../../src/http/schemas.js'

const CODES = Object.keys(ERROR_CODES) as ErrorCode[]

/** The codes a schema allows: an `enum`, or a union of `const`s. */
function enumOf(schema: Record<string, unknown>): string[] {
  if (Array.isArray(schema.enum)) return schema.enum as string[]
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Array<Record<string, unknown>>).map((s) => s.const as string)
  throw new Error(`no enum in ${JSON.stringify(schema)}`)
}

t.test('every error code has a status between 400 and 599', async (t) => {
  t.ok(CODES.length > 0)
  for (const code of CODES) {
    const status = STATUS[code]
    t.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code} → ${status}`)
  }
})

t.test('the status table has no code the contract does not define', async (t) => {
  t.strictSame(Object.keys(STATUS).sort(), [...CODES].sort())
})

t.test('every error code is kebab-case and documented', async (t) => {
  for (const code of CODES) {
    t.match(code, /^[a-z]+(-[a-z0-9]+)*$/, code)
    t.ok(ERROR_CODES[code].length > 0, `${code} has a description`)
  }
})

t.test("the Problem schema's code enum equals the error codes", async (t) => {
  const codeSchema = (Problem as unknown as { properties: Record<string, Record<string, unknown>> }).properties.code!
  t.strictSame([...enumOf(codeSchema)].sort(), [...CODES].sort())
})

t.test('the Problem schema requires every RFC 9457 field', async (t) => {
  const required = (Problem as unknown as { required?: string[] }).required ?? []
  for (const field of ['type', 'title', 'status', 'code', 'detail', 'instance']) t.ok(required.includes(field), field)
})

t.test("a problem body carries the code's own status", async (t) => {
  for (const code of CODES) {
    const body = problem(code, 'detail', '/x')
    t.equal(body.status, STATUS[code], code)
    t.equal(body.code, code)
    t.equal(body.type, `urn:unobin-state:problem:${code}`)
    t.equal(body.title, ERROR_CODES[code])
  }
})

t.test('an error the server does not know is classified as internal', async (t) => {
  t.equal(classify(new Error('boom')).code, 'internal')
  t.equal(classify('not even an error').code, 'internal')
  t.equal(STATUS.internal, 500)
})

t.test("Fastify's client errors are classified with our codes", async (t) => {
  const fastifyError = (code: string, statusCode: number) => Object.assign(new Error(code), { code, statusCode })
  t.equal(classify(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413)).code, 'body-too-large')
  t.equal(classify(fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)).code, 'unsupported-media-type')
  t.equal(classify(fastifyError('FST_ERR_BAD_URL', 400)).code, 'invalid-request')
  t.equal(classify(fastifyError('FST_ERR_MAX_PARAM_LENGTH', 414)).code, 'uri-too-long')
  t.equal(
    classify(
      Object.assign(fastifyError('FST_ERR_VALIDATION', 400), {
        validationContext: 'params',
        validation: [{ instancePath: '/rev' }],
      }),
    ).code,
    'invalid-rev',
  )
  t.equal(
    classify(
      Object.assign(fastifyError('FST_ERR_VALIDATION', 400), {
        validationContext: 'params',
        validation: [{ instancePath: '/stack' }],
      }),
    ).code,
    'invalid-name',
  )
  t.equal(
    classify(
      Object.assign(fastifyError('FST_ERR_VALIDATION', 400), {
        validationContext: 'body',
        validation: [{ instancePath: '/ttl' }],
      }),
    ).code,
    'invalid-request',
  )
})
