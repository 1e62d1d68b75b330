/**
 * States and snapshots holding `__proto__` / `constructor.prototype` keys
 * anywhere (resource tags, outputs, entry attributes) are legitimate: they
 * are accepted and stored byte-exact, and reading them pollutes no
 * prototype. Control bodies (a lock) may keep refusing such keys.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'

const STATE = readFileSync(new URL('../fixtures/terraform/proto-keys.tfstate', import.meta.url))
const json = { 'content-type': 'application/json' }

function polluted(): boolean {
  return (
    ({} as Record<string, unknown>).polluted !== undefined ||
    (Object.prototype as Record<string, unknown>).polluted !== undefined
  )
}

t.test(
  'a Terraform state with __proto__ and constructor.prototype keys is accepted through the Terraform route and read back byte-exact',
  async (t) => {
    const { app } = await buildTestApp(t)
    const written = await app.inject({ method: 'POST', url: `${stackUrl()}/terraform`, headers: json, payload: STATE })
    t.equal(written.statusCode, 200, written.body)
    const read = await app.inject({ url: `${stackUrl()}/terraform` })
    t.equal(read.statusCode, 200)
    t.ok(read.rawPayload.equals(STATE), 'byte-exact')
    const next = Buffer.from(STATE.toString('utf8').replace('"serial": 3', '"serial": 4'))
    t.equal(
      (await app.inject({ method: 'POST', url: `${stackUrl()}/terraform`, headers: json, payload: next })).statusCode,
      200,
      'the next write compares against it',
    )
    t.notOk(polluted(), 'no prototype was polluted')
  },
)

t.test(
  'an unobin snapshot with __proto__ and constructor.prototype keys is accepted through the native route and read back byte-exact',
  async (t) => {
    const { app } = await buildTestApp(t)
    const body = Buffer.from(
      `${JSON.stringify({
        'format-version': 1,
        stack: 'prod',
        entries: [
          {
            address: 'leaf.a',
            'entry-kind': 'leaf',
            category: 'resource',
            binding: { alias: 'a', kind: 'k' },
            attributes: { ['__proto__']: { polluted: 'yes' }, constructor: { prototype: { polluted: 'yes' } } },
          },
        ],
      })}\n`,
    ) // a computed "__proto__" key is an own property, so JSON.stringify writes it
    t.match(body.toString(), /"__proto__":\{"polluted":"yes"\}/)
    const written = await app.inject({
      method: 'POST',
      url: `${stackUrl()}/snapshots?current=true`,
      headers: json,
      payload: body,
    })
    t.equal(written.statusCode, 201, written.body)
    const read = await app.inject({ url: `${stackUrl()}/current` })
    t.ok(read.rawPayload.equals(body), 'byte-exact')
    t.notOk(polluted(), 'no prototype was polluted')
  },
)

t.test('a control body with a __proto__ key is still refused', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({
    method: 'POST',
    url: `${stackUrl()}/lock`,
    headers: json,
    payload: '{"who":"x","__proto__":{"polluted":"yes"}}',
  })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'malformed-json')
  t.notOk(polluted())
})
