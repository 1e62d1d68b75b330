import t from 'tap'
import { parseDocument } from '../../src/diff/document.js'
import { outputsOf } from '../../src/diff/outputs.js'
import { SENSITIVE_MARKER } from '../../src/diff/redaction.js'
import { TERRAFORM_PAYLOAD, UNOBIN_PAYLOAD } from '../../src/store/envelope.js'
import { sampleSnapshot } from '../helpers/store.js'
import { encryptedState, tfState } from '../helpers/terraform-state.js'

const REV = '2026-07-10T12:00:00Z'

t.test('Terraform outputs with their types, sensitive ones redacted', async (t) => {
  const doc = parseDocument(
    REV,
    TERRAFORM_PAYLOAD,
    tfState({
      serial: 1,
      outputs: {
        url: { value: 'https://x' },
        pw: { value: 'hunter2', sensitive: true },
        ids: { value: [1], type: ['list', 'number'] },
      },
    }),
  )
  t.strictSame(outputsOf(doc, 'f/s'), {
    url: { value: 'https://x', sensitive: false, type: 'string' },
    pw: { value: SENSITIVE_MARKER, sensitive: true, type: 'string' },
    ids: { value: [1], sensitive: false, type: ['list', 'number'] },
  })
})

t.test('unobin snapshot outputs by name', async (t) => {
  t.strictSame(outputsOf(parseDocument(REV, UNOBIN_PAYLOAD, sampleSnapshot(7)), 'f/s'), {
    marker: { value: '7', sensitive: false, type: null },
  })
})

t.test('an output named __proto__ is an ordinary output', async (t) => {
  const body = Buffer.from(
    '{"version":4,"serial":1,"lineage":"l","outputs":{"__proto__":{"value":"x","type":"string"}},"resources":[]}',
  )
  const outputs = outputsOf(parseDocument(REV, TERRAFORM_PAYLOAD, body), 'f/s')
  t.ok(Object.hasOwn(outputs, '__proto__'))
  t.equal(Object.getPrototypeOf(outputs), Object.prototype)
})

t.test('an encrypted state has no readable outputs', async (t) => {
  t.throws(() => outputsOf(parseDocument(REV, TERRAFORM_PAYLOAD, encryptedState(1)), 'f/s'), { code: 'opaque-state' })
})
