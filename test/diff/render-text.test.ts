import t from 'tap'
import { diffDocuments } from '../../src/diff/diff.js'
import { parseDocument } from '../../src/diff/document.js'
import { renderDiffText } from '../../src/diff/render-text.js'
import { TERRAFORM_PAYLOAD } from '../../src/store/envelope.js'
import { encryptedState, tfState } from '../helpers/terraform-state.js'

const A = '2026-07-10T12:00:00Z'
const B = '2026-07-10T12:00:01Z'
const doc = (rev: string, body: Buffer) => parseDocument(rev, TERRAFORM_PAYLOAD, body)

t.test('the text diff groups +, - and ~ lines by address', async (t) => {
  const before = tfState({
    serial: 1,
    resources: [
      {
        type: 'aws_instance',
        name: 'web',
        instances: [{ attributes: { ami: 'ami-1', pw: 'secret-1' }, sensitive: ['pw'] }],
      },
      { type: 'aws_s3_bucket', name: 'old', instances: [{ attributes: { id: 'b' } }] },
    ],
    outputs: { url: { value: 'a' }, key: { value: 'k1', sensitive: true } },
  })
  const after = tfState({
    serial: 2,
    resources: [
      {
        type: 'aws_instance',
        name: 'web',
        instances: [{ attributes: { ami: 'ami-2', pw: 'secret-2' }, sensitive: ['pw'] }],
      },
      { type: 'aws_s3_bucket', name: 'logs', instances: [{ attributes: { id: 'l' } }] },
    ],
    outputs: { url: { value: 'b' }, key: { value: 'k2', sensitive: true } },
  })
  const text = renderDiffText(diffDocuments(doc(A, before), doc(B, after)))
  t.equal(
    text,
    [
      `--- ${A} (terraform, serial 1, ${before.length} bytes)`,
      `+++ ${B} (terraform, serial 2, ${after.length} bytes)`,
      '~ /serial: 1 -> 2',
      '~ aws_instance.web',
      '    ~ /attributes/ami: "ami-1" -> "ami-2"',
      '    ~ /attributes/pw: (sensitive) changed',
      '+ aws_s3_bucket.logs',
      '- aws_s3_bucket.old',
      'outputs:',
      '  ~ key: (sensitive) changed',
      '  ~ url: "a" -> "b"',
      '1 added, 1 changed, 1 removed, 0 unchanged; 2 outputs changed',
      '',
    ].join('\n'),
  )
})

t.test('an empty diff says no changes, an opaque one says why with sizes', async (t) => {
  const d = doc(A, tfState({ serial: 1 }))
  t.match(renderDiffText(diffDocuments(d, d)), /\nno changes\n$/)
  const opaque = renderDiffText(diffDocuments(d, doc(B, encryptedState(2))))
  t.match(opaque, /opaque: the contents cannot be compared/)
  t.match(opaque, new RegExp(`sizes: ${tfState({ serial: 1 }).length} -> ${encryptedState(2).length} bytes`))
})

t.test('long values are cut in the text diff', async (t) => {
  const s = (v: string) =>
    tfState({ serial: 1, resources: [{ type: 'x', name: 'y', instances: [{ attributes: { big: v } }] }] })
  const text = renderDiffText(diffDocuments(doc(A, s('a'.repeat(1000))), doc(B, s('b'.repeat(1000)))))
  t.match(text, /… \(1002 characters\)/)
  t.ok(text.length < 1000)
})
