/**
 * `?redacted=true` on a rev and on current: the whole document an operator
 * may read without its secrets — sensitive outputs, sensitive attributes and
 * provider private data replaced by the marker, everything else as stored.
 */
import t, { type Test } from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { sampleSnapshot } from '../helpers/store.js'

const SECRET = 'hunter2-do-not-show'
const STATE = {
  version: 4,
  terraform_version: '1.9.0',
  serial: 3,
  lineage: 'lin-redact',
  outputs: {
    db_password: { value: SECRET, type: 'string', sensitive: true },
    endpoint: { value: 'db.internal:5432', type: 'string' },
  },
  resources: [
    {
      mode: 'managed',
      type: 'aws_db_instance',
      name: 'main',
      provider: 'provider["registry.terraform.io/hashicorp/aws"]',
      instances: [
        {
          schema_version: 2,
          attributes: { id: 'db-1', password: SECRET, tags: { team: 'core', token: SECRET } },
          sensitive_attributes: [
            [{ type: 'get_attr', value: 'password' }],
            [
              { type: 'get_attr', value: 'tags' },
              { type: 'index', value: { value: 'token', type: 'string' } },
            ],
          ],
          private: Buffer.from(SECRET).toString('base64'),
        },
      ],
    },
  ],
}
const JSON_TYPE = { 'content-type': 'application/json' }

async function terraformStack(t: Test) {
  const built = await buildTestApp(t)
  const res = await built.app.inject({
    method: 'POST',
    url: `${stackUrl()}/terraform`,
    headers: JSON_TYPE,
    payload: JSON.stringify(STATE),
  })
  t.equal(res.statusCode, 200)
  return { ...built, rev: res.json<{ rev: string }>().rev }
}

t.test('a redacted rev hides sensitive outputs, attributes and private data, and keeps the rest', async (t) => {
  const { app, rev } = await terraformStack(t)
  const res = await app.inject({ method: 'GET', url: `${stackUrl()}/snapshots/${rev}?redacted=true` })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['unobin-redacted'], 'true')
  t.equal(res.headers.etag, `"${rev}+redacted"`)
  t.notMatch(res.body, SECRET, 'the secret appears nowhere')
  t.notMatch(res.body, Buffer.from(SECRET).toString('base64'))
  const doc = res.json<typeof STATE>()
  t.same(doc.outputs, {
    db_password: { value: '(sensitive)', type: 'string', sensitive: true },
    endpoint: STATE.outputs.endpoint,
  })
  const instance = doc.resources[0]!.instances[0]!
  t.same(instance.attributes, { id: 'db-1', password: '(sensitive)', tags: { team: 'core', token: '(sensitive)' } })
  t.equal(instance.private, '(sensitive)')
  t.same(instance.sensitive_attributes, STATE.resources[0]!.instances[0]!.sensitive_attributes)
  t.equal(doc.serial, 3)
  const raw = await app.inject({ method: 'GET', url: `${stackUrl()}/snapshots/${rev}` })
  t.match(raw.body, SECRET, 'without ?redacted the rev is still byte-exact')
})

t.test('current answers redacted too, with its own validator', async (t) => {
  const { app, rev } = await terraformStack(t)
  const res = await app.inject({ method: 'GET', url: `${stackUrl()}/current?redacted=true` })
  t.equal(res.statusCode, 200)
  t.notMatch(res.body, SECRET)
  const again = await app.inject({
    method: 'GET',
    url: `${stackUrl()}/current?redacted=true`,
    headers: { 'if-none-match': `"${rev}+redacted"` },
  })
  t.equal(again.statusCode, 304)
  const rawTag = await app.inject({
    method: 'GET',
    url: `${stackUrl()}/current?redacted=true`,
    headers: { 'if-none-match': `"${rev}"` },
  })
  t.equal(rawTag.statusCode, 200, "the raw rev's validator does not stand for the redacted view")
})

t.test('an unobin snapshot marks nothing sensitive: its redacted view is the document', async (t) => {
  const { app } = await buildTestApp(t)
  const body = sampleSnapshot('u')
  const w = await app.inject({
    method: 'POST',
    url: `${stackUrl()}/snapshots?current=true`,
    headers: JSON_TYPE,
    payload: body,
  })
  t.equal(w.statusCode, 201)
  const res = await app.inject({ method: 'GET', url: `${stackUrl()}/current?redacted=true` })
  t.equal(res.statusCode, 200)
  t.same(res.json(), JSON.parse(body.toString('utf8')))
})

t.test('a state its client encrypted cannot be shown redacted (409 opaque-state)', async (t) => {
  const { app } = await buildTestApp(t)
  const state = JSON.stringify({ serial: 1, lineage: 'l', encrypted_data: 'AAAA', encryption_version: 'v0' })
  const w = await app.inject({ method: 'POST', url: `${stackUrl()}/terraform`, headers: JSON_TYPE, payload: state })
  t.equal(w.statusCode, 200)
  const res = await app.inject({ method: 'GET', url: `${stackUrl()}/current?redacted=true` })
  t.equal(res.statusCode, 409)
  t.equal(res.json<{ code: string }>().code, 'opaque-state')
})

t.test('redacted must be a boolean (400), and unknown query parameters are refused', async (t) => {
  const { app, rev } = await terraformStack(t)
  for (const url of [`${stackUrl()}/current?redacted=maybe`, `${stackUrl()}/snapshots/${rev}?redact=true`]) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 400, url)
    t.equal(res.json<{ code: string }>().code, 'invalid-request')
  }
})
