/** GET …/outputs over HTTP, and the `outputs` permission that allows it and nothing else. */
import t from 'tap'
import { SENSITIVE_MARKER } from '../../src/diff/redaction.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { authFromText, bearer, newToken, tokensFileText } from '../helpers/auth.js'
import { sampleSnapshot } from '../helpers/store.js'
import { encryptedState, tfState } from '../helpers/terraform-state.js'

const state = tfState({
  serial: 1,
  outputs: { vpc_id: { value: 'vpc-123' }, db_password: { value: 'hunter2', sensitive: true } },
})

t.test('an outputs-only caller reads outputs, sensitive ones redacted, and nothing else', async (t) => {
  const downstream = newToken()
  const admin = newToken()
  const b = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([
        { name: 'downstream', token: downstream, grants: [{ scope: 'f1/*', allow: ['outputs'] }] },
        { name: 'admin', token: admin, grants: [{ scope: '*/*', allow: ['*'] }] },
      ]),
    ),
  })
  const url = stackUrl()
  const written = await b.app.inject({
    method: 'POST',
    url: `${url}/terraform`,
    payload: state,
    headers: { ...bearer(admin), 'content-type': 'application/json' },
  })
  t.equal(written.statusCode, 200)
  const rev = (written.json() as { rev: string }).rev
  const res = await b.app.inject({ url: `${url}/outputs`, headers: bearer(downstream) })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), {
    rev,
    kind: 'terraform',
    outputs: {
      vpc_id: { value: 'vpc-123', sensitive: false, type: 'string' },
      db_password: { value: SENSITIVE_MARKER, sensitive: true, type: 'string' },
    },
  })
  t.notMatch(res.body, /hunter2/)
  for (const path of ['current', 'terraform', `snapshots/${rev}`, 'snapshots', 'diff', 'lock']) {
    const refused = await b.app.inject({ url: `${url}/${path}`, headers: bearer(downstream) })
    t.equal(refused.statusCode, 403, `…/${path} needs more than outputs`)
    t.equal(refused.json().code, 'forbidden')
  }
  t.equal(
    (await b.app.inject({ url: `${stackUrl('f2', 's1')}/outputs`, headers: bearer(downstream) })).statusCode,
    403,
    'only where granted',
  )
})

t.test('read includes outputs', async (t) => {
  const reader = newToken()
  const b = await buildTestApp(t, {
    auth: authFromText(
      tokensFileText([{ name: 'reader', token: reader, grants: [{ scope: '*/*', allow: ['read'] }] }]),
    ),
  })
  await b.root.stack('f1', 's1').write(sampleSnapshot(3), { payloadType: 'state', makeCurrent: true })
  const res = await b.app.inject({ url: `${stackUrl()}/outputs`, headers: bearer(reader) })
  t.equal(res.statusCode, 200)
  t.strictSame(res.json().outputs, { marker: { value: '3', sensitive: false, type: null } })
  t.equal(res.json().kind, 'unobin')
})

t.test('?rev= reads an older rev; unknown rev, no current and encrypted states are refused', async (t) => {
  const b = await buildTestApp(t)
  const url = stackUrl()
  const none = await b.app.inject({ url: `${url}/outputs` })
  t.equal(none.statusCode, 404)
  t.equal(none.json().code, 'no-current')
  const store = b.root.stack('f1', 's1')
  const old = (
    await store.write(tfState({ serial: 1, outputs: { n: { value: 1, type: 'number' } } }), {
      payloadType: 'terraform-state',
      makeCurrent: true,
    })
  ).rev
  await store.write(encryptedState(2), { payloadType: 'terraform-state', makeCurrent: true })
  const older = await b.app.inject({ url: `${url}/outputs?rev=${old}` })
  t.equal(older.statusCode, 200)
  t.strictSame(older.json().outputs, { n: { value: 1, sensitive: false, type: 'number' } })
  t.match(older.headers['cache-control'], /immutable/)
  const opaque = await b.app.inject({ url: `${url}/outputs` })
  t.equal(opaque.statusCode, 409)
  t.equal(opaque.json().code, 'opaque-state')
  const unknown = await b.app.inject({ url: `${url}/outputs?rev=2020-01-01T00:00:00Z` })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'rev-not-found')
})
