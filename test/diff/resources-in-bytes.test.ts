import fc from 'fast-check'
import t from 'tap'
import { diffDocuments } from '../../src/diff/diff.js'
import { type ParsedDocument, parseDocument } from '../../src/diff/document.js'
import { TERRAFORM_PAYLOAD, UNOBIN_PAYLOAD } from '../../src/store/envelope.js'
import { tfState } from '../helpers/terraform-state.js'

// A diff reads large states with their resources left in bytes (parsing only the
// elements that differ); these tests hold it to the answer of parsing both states whole.
const A = '2026-07-10T12:00:00Z'
const B = '2026-07-10T12:00:01Z'
const whole = (rev: string, text: string) => parseDocument(rev, TERRAFORM_PAYLOAD, Buffer.from(text))
const inBytes = (rev: string, text: string) =>
  parseDocument(rev, TERRAFORM_PAYLOAD, Buffer.from(text), { resourcesInBytes: true })

/** The diff, or the error's code and message when it throws. */
function outcome(from: ParsedDocument | null, to: ParsedDocument): unknown {
  try {
    return diffDocuments(from, to)
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message }
  }
}

const instance = fc.record(
  {
    index_key: fc.oneof(fc.nat(1), fc.constantFrom('a', 'é', ''), fc.constant(null)),
    deposed: fc.constantFrom('d1', ''),
    schema_version: fc.constant(1),
    attributes: fc.dictionary(
      fc.constantFrom('ami', 'size', 'password', 'tags', 'user_data'),
      fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('t3.small', 't3.large', 'hunter2')),
      { maxKeys: 4 },
    ),
    sensitive_attributes: fc.constantFrom(
      [[{ type: 'get_attr', value: 'password' }]],
      [
        [
          { type: 'get_attr', value: 'tags' },
          { type: 'index', value: { value: 'Name', type: 'string' } },
        ],
      ],
      'not a list',
      [],
    ),
    private: fc.constantFrom('cHJpdmF0ZQ==', 'b3RoZXI='),
  },
  { requiredKeys: ['attributes'] },
)

const resource = fc.record(
  {
    module: fc.constantFrom('module.a', ''),
    mode: fc.constantFrom('managed', 'managed', 'data', 7),
    type: fc.constantFrom('aws_instance', 'aws_instance', 'aws_eip'),
    name: fc.constantFrom('web', 'web', 'ünï'),
    provider: fc.constantFrom('aws', 'provider["registry.terraform.io/hashicorp/aws"]'),
    instances: fc.oneof(fc.array(fc.oneof(instance, fc.constantFrom(null, 3, [])), { maxLength: 3 }), fc.constant({})),
  },
  { requiredKeys: ['type', 'name'] },
)

/** Texts a resources array may hold: resources in several layouts, and elements that are not resources or not JSON. */
const element = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(resource, fc.constantFrom(0, 2, '\t')).map(([r, indent]) => JSON.stringify(r, null, indent)),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'null',
      '-1.5e3',
      '"a \\"quoted\\" ] string"',
      '[1, {"x": "}"}]',
      'true',
      '{"type": "t", "name": "n", "instances": [{"attributes": {"s": "\\\\"}}]}',
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom('{"a": }', 'tru', '{"type": "t" "name": "n"}', '01', '"\u0001"') },
)

const space = fc.constantFrom('', ' ', '\n  ', '\t', '\r\n')

/** A state's text around its resources: members in some order, sometimes with what the byte reader must give up on. */
const state = fc.record({
  serial: fc.nat(3),
  sensitiveOutput: fc.boolean(),
  oddity: fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom('none', 'resources-first') },
    {
      weight: 3,
      arbitrary: fc.constantFrom('duplicate', 'escaped-name', 'encrypted', 'trailing', 'not-an-array'),
    },
  ),
  sep: space,
})

type StateShape = typeof state extends fc.Arbitrary<infer T> ? T : never

/** A state document from a pool of element texts and the indices it takes from it. */
function text(s: StateShape, pool: readonly string[], picks: readonly number[]): string {
  const items = picks.map((i) => pool[i % pool.length]!)
  const array = s.oddity === 'not-an-array' ? '{}' : `[${s.sep}${items.join(`,${s.sep}`)}${s.sep}]`
  const resources = `"resources":${s.sep}${array}`
  const head = [
    '"version": 4',
    `"serial": ${s.serial}`,
    '"lineage": "l-1"',
    `"outputs": {"o": {"value": "v${s.serial}", "type": "string"${s.sensitiveOutput ? ', "sensitive": true' : ''}}}`,
  ]
  const members =
    s.oddity === 'resources-first'
      ? [resources, ...head]
      : s.oddity === 'duplicate'
        ? [...head, '"resources": []', resources]
        : s.oddity === 'escaped-name'
          ? [...head, resources, '"resource\\u0073": []']
          : s.oddity === 'encrypted'
            ? [...head, resources, '"encrypted_data": "x"']
            : [...head, resources]
  return `{${s.sep}${members.join(`,${s.sep}`)}${s.sep}}${s.oddity === 'trailing' ? ' x' : '\n'}`
}

t.test('a diff of states read with resources in bytes equals the diff of the states parsed whole', async (t) => {
  let cases = 0
  let read = 0
  fc.assert(
    fc.property(
      fc.array(element, { minLength: 1, maxLength: 6 }),
      state,
      state,
      fc.array(fc.nat(7), { maxLength: 7 }),
      fc.array(fc.nat(7), { maxLength: 7 }),
      (pool, sa, sb, picksA, picksB) => {
        const a = text(sa, pool, picksA)
        const b = text(sb, pool, picksB)
        cases++
        if (inBytes(A, a).resources !== undefined && inBytes(B, b).resources !== undefined) read++
        const expected = outcome(whole(A, a), whole(B, b))
        if (!t.strictSame(outcome(inBytes(A, a), inBytes(B, b)), expected, 'both sides in bytes'))
          t.comment(`${a}\n---\n${b}`)
        t.strictSame(outcome(inBytes(A, a), whole(B, b)), expected, 'only the old side in bytes')
        t.strictSame(outcome(whole(A, a), inBytes(B, b)), expected, 'only the new side in bytes')
        t.strictSame(outcome(null, inBytes(B, b)), outcome(null, whole(B, b)), 'against nothing')
        const same = inBytes(A, a)
        t.strictSame(outcome(same, same), outcome(whole(A, a), whole(A, a)), 'a rev against itself')
      },
    ),
    { numRuns: 400 },
  )
  t.equal(cases, 400)
  t.ok(read > 200, `both sides were read in bytes in ${read} of the cases`)
})

t.test('a state whose resources cannot all be parsed is opaque, as when parsed whole', async (t) => {
  const good = tfState({
    serial: 1,
    resources: [{ type: 'aws_instance', name: 'web', instances: [{ attributes: {} }] }],
  })
  const broken = good.toString().replace('"schema_version": 1', '"schema_version": }')
  const diff = diffDocuments(inBytes(A, good.toString()), inBytes(B, broken))
  t.equal(diff.kind, 'opaque')
  t.equal(diff.to.kind, 'opaque')
  t.equal(diff.to.serial, null, 'facts of a text that is not JSON, as the ordinary reading gives them')
  t.strictSame(diff, diffDocuments(whole(A, good.toString()), whole(B, broken)))
})

t.test('an unobin snapshot against a state read in bytes is refused as when parsed whole', async (t) => {
  const snapshot = parseDocument(A, UNOBIN_PAYLOAD, Buffer.from('{"entries": []}'))
  const state = tfState({ serial: 1 }).toString()
  t.throws(() => diffDocuments(snapshot, inBytes(B, state)), { code: 'incomparable-revs' })
  const opaque = parseDocument(A, TERRAFORM_PAYLOAD, Buffer.from('{"encrypted_data": "x", "serial": 3}'))
  t.strictSame(diffDocuments(opaque, inBytes(B, state)), diffDocuments(opaque, whole(B, state)))
})

t.test('the facts of a state read in bytes leave its resources out', async (t) => {
  const state = tfState({ serial: 4, resources: [{ type: 'aws_eip', name: 'ip', instances: [{ attributes: {} }] }] })
  const diff = diffDocuments(null, inBytes(B, state.toString()))
  t.strictSame(Object.keys(diff.to).sort(), ['bytes', 'kind', 'lineage', 'rev', 'serial', 'sha256'])
  t.equal(diff.summary.added, 1)
})

t.test(
  'two resources of one address swapped between revs: the later one wins on each side, as when parsed whole',
  async (t) => {
    const first = '{"type": "t", "name": "n", "instances": [{"attributes": {"v": 1}}]}'
    const second = '{"type": "t", "name": "n", "instances": [{"attributes": {"v": 2}}]}'
    const state = (resources: string[]) => `{"version": 4, "resources": [${resources.join(', ')}]}`
    const a = inBytes(A, state([first, second]))
    const b = inBytes(B, state([second, first]))
    t.ok(a.resources !== undefined && b.resources !== undefined, 'both read in bytes')
    const diff = diffDocuments(a, b)
    t.strictSame(diff, diffDocuments(whole(A, state([first, second])), whole(B, state([second, first]))))
    t.strictSame(diff.entries[0]?.changes, [{ op: 'replace', path: '/attributes/v', old: 2, new: 1 }])
  },
)

t.test('resources shared byte for byte are counted unchanged, and only the differing one is reported', async (t) => {
  const resource = (i: number, size: string) =>
    JSON.stringify({ type: 'aws_instance', name: `web_${i}`, instances: [{ attributes: { size } }] }, null, 2)
  const state = (changed: number) =>
    `{"version": 4, "resources": [${Array.from({ length: 50 }, (_, i) => resource(i, i === changed ? 'large' : 'small')).join(',\n')}]}`
  const diff = diffDocuments(inBytes(A, state(-1)), inBytes(B, state(17)))
  t.strictSame(diff.summary, { added: 0, removed: 0, changed: 1, unchanged: 49, outputs: 0 })
  t.equal(diff.entries[0]?.address, 'aws_instance.web_17')
})
