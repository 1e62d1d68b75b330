/** GET …/diff over HTTP: both kinds, defaults, the text rendering, redaction and every error. */
import t from 'tap'
import { SENSITIVE_MARKER } from '../../src/diff/redaction.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { sampleSnapshot } from '../helpers/store.js'
import { encryptedState, tfState } from '../helpers/terraform-state.js'

type Built = Awaited<ReturnType<typeof buildTestApp>>

async function tfWrite(b: Built, url: string, body: Buffer): Promise<string> {
  const res = await b.app.inject({
    method: 'POST',
    url: `${url}/terraform`,
    payload: body,
    headers: { 'content-type': 'application/json' },
  })
  if (res.statusCode !== 200) throw new Error(`terraform write answered ${res.statusCode}: ${res.body}`)
  return (res.json() as { rev: string }).rev
}

async function nativeWrite(b: Built, url: string, body: Buffer): Promise<string> {
  const res = await b.app.inject({
    method: 'POST',
    url: `${url}/snapshots?current=true`,
    payload: body,
    headers: { 'content-type': 'application/json' },
  })
  if (res.statusCode !== 201) throw new Error(`write answered ${res.statusCode}: ${res.body}`)
  return (res.json() as { rev: string }).rev
}

const server = (ami: string, password: string) =>
  tfState({
    serial: 1,
    resources: [
      { type: 'aws_instance', name: 'web', instances: [{ attributes: { ami, password }, sensitive: ['password'] }] },
    ],
    outputs: {
      ip: { value: ami === 'ami-1' ? '10.0.0.1' : '10.0.0.2' },
      secret: { value: `out-${password}`, sensitive: true },
    },
  })

t.test('without from and to, current is diffed against the rev before it', async (t) => {
  const b = await buildTestApp(t)
  const url = stackUrl()
  const first = await tfWrite(b, url, server('ami-1', 'pw-one'))
  const second = await tfWrite(
    b,
    url,
    tfState({
      serial: 2,
      resources: [
        {
          type: 'aws_instance',
          name: 'web',
          instances: [{ attributes: { ami: 'ami-2', password: 'pw-two' }, sensitive: ['password'] }],
        },
      ],
      outputs: { ip: { value: '10.0.0.2' }, secret: { value: 'out-pw-two', sensitive: true } },
    }),
  )
  const res = await b.app.inject({ url: `${url}/diff` })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'private, no-cache', 'a diff against current may change')
  const diff = res.json() as Record<string, any>
  t.equal(diff.from.rev, first)
  t.equal(diff.to.rev, second)
  t.equal(diff.kind, 'terraform')
  t.strictSame(diff.entries[0].changes, [
    { op: 'replace', path: '/attributes/ami', old: 'ami-1', new: 'ami-2' },
    { op: 'replace', path: '/attributes/password', old: SENSITIVE_MARKER, new: SENSITIVE_MARKER, sensitive: true },
  ])
  t.strictSame(
    diff.outputs.find((o: { name: string }) => o.name === 'secret'),
    { name: 'secret', action: 'changed', old: SENSITIVE_MARKER, new: SENSITIVE_MARKER, sensitive: true },
  )
  t.notMatch(res.body, /pw-one|pw-two/, 'no sensitive value leaves the server')
})

t.test('explicit from and to answer an immutable diff; from equal to to is empty', async (t) => {
  const b = await buildTestApp(t)
  const url = stackUrl()
  const one = await nativeWrite(b, url, sampleSnapshot(1))
  const two = await nativeWrite(b, url, sampleSnapshot(2))
  const res = await b.app.inject({ url: `${url}/diff?from=${two}&to=${one}` })
  t.equal(res.statusCode, 200)
  t.match(res.headers['cache-control'], /immutable/)
  const diff = res.json() as Record<string, any>
  t.equal(diff.kind, 'unobin')
  t.strictSame(
    diff.entries.map((e: { address: string; action: string }) => [e.address, e.action]),
    [['network.vpc', 'changed']],
  )
  t.strictSame(diff.outputs, [{ name: 'marker', action: 'changed', old: '2', new: '1', sensitive: false }])
  const same = (await b.app.inject({ url: `${url}/diff?from=${one}&to=${one}` })).json() as Record<string, any>
  t.equal(same.identical, true)
  t.strictSame([same.entries, same.outputs, same.header], [[], [], []])
})

t.test('the first rev diffs against nothing', async (t) => {
  const b = await buildTestApp(t)
  const url = stackUrl()
  const only = await nativeWrite(b, url, sampleSnapshot(1))
  const diff = (await b.app.inject({ url: `${url}/diff?to=${only}` })).json() as Record<string, any>
  t.equal(diff.from, null)
  t.equal(diff.summary.added, 1)
})

t.test('Accept: text/plain answers the human diff', async (t) => {
  const b = await buildTestApp(t)
  const url = stackUrl()
  await tfWrite(b, url, server('ami-1', 'pw-one'))
  await tfWrite(
    b,
    url,
    tfState({
      serial: 2,
      resources: [
        {
          type: 'aws_instance',
          name: 'web',
          instances: [{ attributes: { ami: 'ami-2', password: 'pw-one' }, sensitive: ['password'] }],
        },
      ],
    }),
  )
  const res = await b.app.inject({ url: `${url}/diff`, headers: { accept: 'text/plain' } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain/)
  t.match(res.body, /~ aws_instance\.web\n {4}~ \/attributes\/ami: "ami-1" -> "ami-2"\n/)
  t.match(res.body, /- ip = "10\.0\.0\.1"/)
  t.notMatch(res.body, /pw-one/)
  const json = await b.app.inject({ url: `${url}/diff`, headers: { accept: 'text/plain;q=0.5, application/json' } })
  t.match(json.headers['content-type'], /^application\/json/, 'JSON when preferred')
})

t.test('an encrypted state answers opaque with both sizes, never 500', async (t) => {
  const b = await buildTestApp(t)
  const url = stackUrl()
  const plain = tfState({ serial: 1, lineage: 'enc-lineage' })
  await tfWrite(b, url, plain)
  await tfWrite(b, url, encryptedState(2))
  const res = await b.app.inject({ url: `${url}/diff` })
  t.equal(res.statusCode, 200)
  const diff = res.json() as Record<string, any>
  t.equal(diff.comparable, false)
  t.match(diff.detail, /^opaque: the contents cannot be compared/)
  t.strictSame([diff.from.bytes, diff.to.bytes], [plain.length, encryptedState(2).length])
  const text = await b.app.inject({ url: `${url}/diff`, headers: { accept: 'text/plain' } })
  t.match(text.body, /opaque: the contents cannot be compared/)
})

t.test('errors: unknown rev 404, no current 404, different kinds 409, malformed rev 400', async (t) => {
  const b = await buildTestApp(t)
  const url = stackUrl()
  const empty = await b.app.inject({ url: `${url}/diff` })
  t.equal(empty.statusCode, 404)
  t.equal(empty.json().code, 'no-current')
  const unobin = await nativeWrite(b, url, sampleSnapshot(1))
  const missing = await b.app.inject({ url: `${url}/diff?from=2020-01-01T00:00:00Z&to=${unobin}` })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'rev-not-found')
  t.equal((await b.app.inject({ url: `${url}/diff?to=2020-01-01T00:00:00Z` })).json().code, 'rev-not-found')
  const terraform = (await b.root.stack('f1', 's1').write(tfState({ serial: 1 }), { payloadType: 'terraform-state' }))
    .rev
  const kinds = await b.app.inject({ url: `${url}/diff?from=${unobin}&to=${terraform}` })
  t.equal(kinds.statusCode, 409)
  t.equal(kinds.json().code, 'incomparable-revs')
  t.match(kinds.json().detail, /unobin snapshot.*Terraform state/)
  const bad = await b.app.inject({ url: `${url}/diff?from=yesterday` })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'invalid-request')
})
