import t from 'tap'
import { diffDocuments } from '../../src/diff/diff.js'
import { parseDocument } from '../../src/diff/document.js'
import { TERRAFORM_PAYLOAD, UNOBIN_PAYLOAD } from '../../src/store/envelope.js'
import { tfState } from '../helpers/terraform-state.js'

const A = '2026-07-10T12:00:00Z'
const B = '2026-07-10T12:00:01Z'

function snapshot(
  entries: Record<string, unknown>[],
  outputs: Record<string, unknown> = {},
  generatedAt = '2026-07-10T12:00:00Z',
): Buffer {
  return Buffer.from(
    JSON.stringify({
      'format-version': 1,
      factory: { name: 'f', version: '1', 'content-revision': 'r' },
      stack: 'dev',
      'generated-at': generatedAt,
      entries,
      outputs,
    }),
  )
}
const entry = (address: string, fields: Record<string, unknown> = {}) => ({
  address,
  'entry-kind': 'leaf',
  category: 'resource',
  binding: { alias: 'aws', kind: 'vpc' },
  ...fields,
})
const doc = (rev: string, body: Buffer) => parseDocument(rev, UNOBIN_PAYLOAD, body)

t.test('entries are keyed by address; changed fields are JSON pointers with old and new', async (t) => {
  const before = snapshot([entry('net.vpc', { outputs: { id: 'vpc-1' } }), entry('net.gone'), entry('a/b~c', { x: 1 })])
  const after = snapshot(
    [entry('net.new'), entry('a/b~c', { x: 2 }), entry('net.vpc', { outputs: { id: 'vpc-2', arn: 'arn' } })],
    {},
    '2026-07-10T13:00:00Z',
  )
  const diff = diffDocuments(doc(A, before), doc(B, after))
  t.equal(diff.kind, 'unobin')
  t.strictSame(
    diff.entries.map((e) => [e.address, e.action]),
    [
      ['a/b~c', 'changed'],
      ['net.gone', 'removed'],
      ['net.new', 'added'],
      ['net.vpc', 'changed'],
    ],
  )
  t.strictSame(diff.entries[0]!.changes, [{ op: 'replace', path: '/x', old: 1, new: 2 }])
  t.strictSame(diff.entries[3]!.changes, [
    { op: 'replace', path: '/outputs/id', old: 'vpc-1', new: 'vpc-2' },
    { op: 'add', path: '/outputs/arn', new: 'arn' },
  ])
  t.same((diff.entries[2]!.value as { address: string }).address, 'net.new')
  t.strictSame(diff.header, [
    { op: 'replace', path: '/generated-at', old: '2026-07-10T12:00:00Z', new: '2026-07-10T13:00:00Z' },
  ])
  t.strictSame(diff.summary, { added: 1, removed: 1, changed: 2, unchanged: 0, outputs: 0 })
})

t.test('keys with / and ~ are escaped in pointers', async (t) => {
  const diff = diffDocuments(
    doc(A, snapshot([entry('e', { m: { 'a/b': 1, 'c~d': 1 } })])),
    doc(B, snapshot([entry('e', { m: { 'a/b': 2, 'c~d': 2 } })])),
  )
  t.strictSame(
    diff.entries[0]!.changes.map((c) => c.path),
    ['/m/a~1b', '/m/c~0d'],
  )
})

t.test('the snapshot outputs changed, added and removed', async (t) => {
  const diff = diffDocuments(
    doc(A, snapshot([], { a: 1, b: { x: 1 }, c: 'same' })),
    doc(B, snapshot([], { b: { x: 2 }, c: 'same', d: null })),
  )
  t.strictSame(diff.outputs, [
    { name: 'a', action: 'removed', old: 1, sensitive: false },
    { name: 'b', action: 'changed', old: { x: 1 }, new: { x: 2 }, sensitive: false },
    { name: 'd', action: 'added', new: null, sensitive: false },
  ])
})

t.test('an unobin snapshot and a Terraform state cannot be compared', async (t) => {
  t.throws(() => diffDocuments(doc(A, snapshot([])), parseDocument(B, TERRAFORM_PAYLOAD, tfState({ serial: 1 }))), {
    code: 'incomparable-revs',
    message: /unobin snapshot.*Terraform state/,
  })
})

t.test('arrays shrinking and growing report removed and added indexes', async (t) => {
  const diff = diffDocuments(
    doc(A, snapshot([entry('e', { l: [1, 2, 3] })])),
    doc(B, snapshot([entry('e', { l: [1, 5] })])),
  )
  t.strictSame(diff.entries[0]!.changes, [
    { op: 'replace', path: '/l/1', old: 2, new: 5 },
    { op: 'remove', path: '/l/2', old: 3 },
  ])
})
