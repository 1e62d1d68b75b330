import t from 'tap'
import { diffDocuments } from '../../src/diff/diff.js'
import { parseDocument } from '../../src/diff/document.js'
import { SENSITIVE_MARKER } from '../../src/diff/redaction.js'
import { TERRAFORM_PAYLOAD } from '../../src/store/envelope.js'
import { type ResourceSpec, encryptedState, tfState } from '../helpers/terraform-state.js'

const doc = (rev: string, body: Buffer) => parseDocument(rev, TERRAFORM_PAYLOAD, body)
const A = '2026-07-10T12:00:00Z'
const B = '2026-07-10T12:00:01Z'

const web = (ami: string, extra: Partial<ResourceSpec> = {}): ResourceSpec => ({
  type: 'aws_instance',
  name: 'web',
  each: 'list',
  instances: [
    { index_key: 0, attributes: { ami, tags: { Name: 'web' }, password: 'hunter2' }, sensitive: ['password'] },
  ],
  ...extra,
})

t.test('a changed attribute is reported under its instance address with old and new', async (t) => {
  const diff = diffDocuments(
    doc(A, tfState({ serial: 1, resources: [web('ami-1')] })),
    doc(B, tfState({ serial: 2, resources: [web('ami-2')] })),
  )
  t.equal(diff.kind, 'terraform')
  t.equal(diff.entries.length, 1)
  const entry = diff.entries[0]!
  t.equal(entry.address, 'aws_instance.web[0]')
  t.equal(entry.action, 'changed')
  t.strictSame(entry.resource, {
    module: null,
    mode: 'managed',
    type: 'aws_instance',
    name: 'web',
    index: 0,
    deposed: null,
  })
  t.strictSame(entry.changes, [{ op: 'replace', path: '/attributes/ami', old: 'ami-1', new: 'ami-2' }])
  t.strictSame(diff.header, [{ op: 'replace', path: '/serial', old: 1, new: 2 }])
  t.strictSame(diff.summary, { added: 0, removed: 0, changed: 1, unchanged: 0, outputs: 0 })
})

t.test('instances are keyed by module, mode, type, name and key, not by position', async (t) => {
  const resources = (order: string[]): ResourceSpec[] =>
    order.map((k) => ({
      module: 'module.net',
      type: 'aws_subnet',
      name: 'private',
      each: 'map',
      instances: [{ index_key: k, attributes: { cidr: `10.0.${k.charCodeAt(0)}.0/24` } }],
    }))
  const data: ResourceSpec = {
    mode: 'data',
    type: 'aws_ami',
    name: 'ubuntu',
    instances: [{ attributes: { id: 'ami-9' } }],
  }
  const diff = diffDocuments(
    doc(A, tfState({ serial: 1, resources: [...resources(['a', 'b']), data] })),
    doc(B, tfState({ serial: 1, resources: [data, ...resources(['b', 'a'])] })),
  )
  t.strictSame(diff.entries, [], 'reordering resources changes nothing')
  t.equal(diff.summary.unchanged, 3)
  const grown = diffDocuments(
    doc(A, tfState({ serial: 1, resources: resources(['a']) })),
    doc(B, tfState({ serial: 2, resources: [...resources(['a', 'c']), data] })),
  )
  t.strictSame(
    grown.entries.map((e) => [e.address, e.action]),
    [
      ['data.aws_ami.ubuntu', 'added'],
      ['module.net.aws_subnet.private["c"]', 'added'],
    ],
  )
})

t.test('added and removed instances carry their whole value with sensitive attributes redacted', async (t) => {
  const diff = diffDocuments(
    doc(A, tfState({ serial: 1, resources: [web('ami-1')] })),
    doc(B, tfState({ serial: 2, resources: [web('ami-1', { name: 'api' })] })),
  )
  t.strictSame(
    diff.entries.map((e) => [e.address, e.action]),
    [
      ['aws_instance.api[0]', 'added'],
      ['aws_instance.web[0]', 'removed'],
    ],
  )
  for (const entry of diff.entries) {
    const value = entry.value as { attributes: Record<string, unknown> }
    t.equal(value.attributes.password, SENSITIVE_MARKER)
    t.equal(value.attributes.ami, 'ami-1')
  }
  t.notMatch(JSON.stringify(diff), /hunter2/, 'the secret appears nowhere')
})

t.test('a changed sensitive attribute says that it changed, never to what', async (t) => {
  const before = tfState({
    serial: 1,
    resources: [
      {
        type: 'aws_db_instance',
        name: 'db',
        instances: [
          {
            attributes: { password: 'old-secret', conn: { user: 'u', pass: 'p1' }, list: ['x', 'k1'] },
            sensitive: ['password', ['conn', 'pass'], ['list', 1]],
          },
        ],
      },
    ],
  })
  const after = tfState({
    serial: 2,
    resources: [
      {
        type: 'aws_db_instance',
        name: 'db',
        instances: [
          {
            attributes: { password: 'new-secret', conn: { user: 'v', pass: 'p2' }, list: ['y', 'k2'] },
            sensitive: ['password', ['conn', 'pass'], ['list', 1]],
          },
        ],
      },
    ],
  })
  const diff = diffDocuments(doc(A, before), doc(B, after))
  t.strictSame(diff.entries[0]!.changes, [
    { op: 'replace', path: '/attributes/password', old: SENSITIVE_MARKER, new: SENSITIVE_MARKER, sensitive: true },
    { op: 'replace', path: '/attributes/conn/user', old: 'u', new: 'v' },
    { op: 'replace', path: '/attributes/conn/pass', old: SENSITIVE_MARKER, new: SENSITIVE_MARKER, sensitive: true },
    { op: 'replace', path: '/attributes/list/0', old: 'x', new: 'y' },
    { op: 'replace', path: '/attributes/list/1', old: SENSITIVE_MARKER, new: SENSITIVE_MARKER, sensitive: true },
  ])
  t.notMatch(JSON.stringify(diff), /secret|p1|p2|k1|k2/)
})

t.test('an attribute sensitive on either side is hidden on both', async (t) => {
  const before = tfState({
    serial: 1,
    resources: [{ type: 'x', name: 'y', instances: [{ attributes: { token: 'plain-before' } }] }],
  })
  const after = tfState({
    serial: 2,
    resources: [{ type: 'x', name: 'y', instances: [{ attributes: { token: 'secret-after' }, sensitive: ['token'] }] }],
  })
  const diff = diffDocuments(doc(A, before), doc(B, after))
  t.strictSame(diff.entries[0]!.changes, [
    { op: 'replace', path: '/attributes/token', old: SENSITIVE_MARKER, new: SENSITIVE_MARKER, sensitive: true },
  ])
})

t.test('unreadable sensitive_attributes hide the whole instance (fail closed)', async (t) => {
  const text = (v: string) =>
    Buffer.from(
      JSON.stringify({
        version: 4,
        serial: 1,
        lineage: 'l',
        outputs: {},
        resources: [
          {
            mode: 'managed',
            type: 'x',
            name: 'y',
            instances: [{ attributes: { a: v }, sensitive_attributes: [{ weird: true }] }],
          },
        ],
      }),
    )
  const diff = diffDocuments(doc(A, text('one')), doc(B, text('two')))
  t.strictSame(diff.entries[0]!.changes, [
    { op: 'replace', path: '/attributes', old: SENSITIVE_MARKER, new: SENSITIVE_MARKER, sensitive: true },
  ])
})

t.test('private data is reported as changed without its content', async (t) => {
  const s = (p: string) =>
    tfState({ serial: 1, resources: [{ type: 'x', name: 'y', instances: [{ attributes: {}, private: p }] }] })
  const diff = diffDocuments(doc(A, s('cHJpdmF0ZTE=')), doc(B, s('cHJpdmF0ZTI=')))
  t.strictSame(diff.entries[0]!.changes, [
    { op: 'replace', path: '/private', old: SENSITIVE_MARKER, new: SENSITIVE_MARKER, sensitive: true },
  ])
})

t.test('outputs: changed, added, removed, and sensitive ones hidden', async (t) => {
  const before = tfState({
    serial: 1,
    outputs: {
      url: { value: 'http://a' },
      gone: { value: 1, type: 'number' },
      pw: { value: 'pw-old', sensitive: true },
    },
  })
  const after = tfState({
    serial: 2,
    outputs: {
      url: { value: 'http://b' },
      fresh: { value: ['x'], type: ['list', 'string'] },
      pw: { value: 'pw-new', sensitive: true },
    },
  })
  const diff = diffDocuments(doc(A, before), doc(B, after))
  t.strictSame(diff.outputs, [
    { name: 'fresh', action: 'added', new: ['x'], sensitive: false },
    { name: 'gone', action: 'removed', old: 1, sensitive: false },
    { name: 'pw', action: 'changed', old: SENSITIVE_MARKER, new: SENSITIVE_MARKER, sensitive: true },
    { name: 'url', action: 'changed', old: 'http://a', new: 'http://b', sensitive: false },
  ])
  t.notMatch(JSON.stringify(diff), /pw-old|pw-new/)
})

t.test('serial and lineage of both sides are shown, and a lineage switch is a header change', async (t) => {
  const diff = diffDocuments(
    doc(A, tfState({ serial: 4, lineage: 'one' })),
    doc(B, tfState({ serial: 1, lineage: 'two' })),
  )
  t.equal(diff.from?.serial, 4)
  t.equal(diff.to.lineage, 'two')
  t.strictSame(
    diff.header.map((c) => c.path),
    ['/serial', '/lineage'],
  )
})

t.test('a rev diffed against itself is empty and identical', async (t) => {
  const d = doc(A, tfState({ serial: 1, resources: [web('ami-1')] }))
  const diff = diffDocuments(d, d)
  t.ok(diff.identical)
  t.strictSame([diff.entries, diff.outputs, diff.header], [[], [], []])
})

t.test('the first rev diffs against nothing: everything is added', async (t) => {
  const diff = diffDocuments(
    null,
    doc(B, tfState({ serial: 1, resources: [web('ami-1')], outputs: { o: { value: 1 } } })),
  )
  t.equal(diff.from, null)
  t.strictSame(
    diff.entries.map((e) => e.action),
    ['added'],
  )
  t.strictSame(
    diff.outputs.map((o) => o.action),
    ['added'],
  )
})

t.test('an encrypted state is opaque: sizes and hashes, no contents', async (t) => {
  const diff = diffDocuments(doc(A, tfState({ serial: 1 })), doc(B, encryptedState(2)))
  t.equal(diff.kind, 'opaque')
  t.equal(diff.comparable, false)
  t.match(diff.detail, /^opaque: the contents cannot be compared/)
  t.equal(diff.to.bytes, encryptedState(2).length)
  t.equal(diff.to.serial, 2, 'an encrypted OpenTofu state keeps its serial in the clear')
  t.equal(diffDocuments(doc(A, encryptedState(2)), doc(B, encryptedState(2))).identical, true)
})

t.test('a state that is not JSON is opaque, never an error', async (t) => {
  const diff = diffDocuments(doc(A, Buffer.from('not json')), doc(B, tfState({ serial: 1 })))
  t.equal(diff.kind, 'opaque')
  t.equal(diff.from?.bytes, 8)
})
