import t from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { isStateError } from '../../src/errors.js'
import { validateUnobinSnapshot } from '../../src/store/unobin-snapshot.js'
import { FIXTURES, fixture, sampleSnapshot } from '../helpers/store.js'

type Doc = Record<string, unknown>

function entry(fields: Doc = {}): Doc {
  return {
    address: 'network.vpc',
    'entry-kind': 'leaf',
    category: 'resource',
    binding: { alias: 'aws', kind: 'vpc' },
    ...fields,
  }
}

function snapshot(entries: unknown[], fields: Doc = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      'format-version': 1,
      factory: { name: 'f', version: '1', 'content-revision': 'r' },
      stack: 'dev',
      'generated-at': '2026-07-10T12:00:00Z',
      entries,
      outputs: {},
      ...fields,
    }),
  )
}

/** The code and details of what validating `bytes` throws (undefined when it passes). */
function refusal(bytes: Buffer): { code: string; details: Record<string, unknown>; message: string } | undefined {
  try {
    validateUnobinSnapshot(bytes)
    return undefined
  } catch (err) {
    if (!isStateError(err)) throw err
    return { code: err.code, details: err.details, message: err.message }
  }
}

t.test('every Go-written fixture plaintext passes', async (t) => {
  const dirs = ['env-key/plaintext/cluster-deploy/prod-east', 'noop/plaintext/cluster-deploy/dev']
  let count = 0
  for (const dir of dirs) {
    for (const name of readdirSync(join(FIXTURES, dir))) {
      t.equal(refusal(fixture(dir, name)), undefined, `${dir}/${name}`)
      count++
    }
  }
  t.equal(count, 7)
})

t.test('the sample snapshot of the test helpers passes', async (t) => {
  t.equal(validateUnobinSnapshot(sampleSnapshot(3))['format-version'], 1)
})

t.test('a snapshot without entries passes', async (t) => {
  t.equal(refusal(Buffer.from('{"format-version":1}')), undefined)
  t.equal(refusal(snapshot([])), undefined)
})

t.test('format-version other than 1 is refused with rule format-version', async (t) => {
  for (const version of [0, 2, '1', null, 1.5]) {
    t.match(
      refusal(snapshot([entry()], { 'format-version': version })),
      { code: 'invalid-snapshot', details: { rule: 'format-version' } },
      JSON.stringify(version),
    )
  }
  t.match(
    refusal(Buffer.from('{"entries":[]}')),
    { code: 'invalid-snapshot', details: { rule: 'format-version' } },
    'missing',
  )
})

t.test('a missing or empty address is refused with rule address naming the entry index', async (t) => {
  const { address: _address, ...noAddress } = entry()
  t.match(refusal(snapshot([entry({ address: 'a' }), noAddress])), {
    code: 'invalid-snapshot',
    details: { rule: 'address', entry: 1 },
  })
  t.match(refusal(snapshot([entry({ address: '' })])), {
    code: 'invalid-snapshot',
    details: { rule: 'address', entry: 0 },
  })
  t.match(refusal(snapshot([entry({ address: 7 })])), {
    code: 'invalid-snapshot',
    details: { rule: 'address', entry: 0 },
  })
})

t.test('a duplicate address is refused with rule unique-address naming the address', async (t) => {
  const r = refusal(snapshot([entry({ address: 'x.a' }), entry({ address: 'x.b' }), entry({ address: 'x.a' })]))
  t.match(r, { code: 'invalid-snapshot', details: { rule: 'unique-address', entry: 'x.a' } })
  t.match(r?.message, 'x.a')
})

const KINDS = ['leaf', 'library-call', 'action', 'data-source'] as const
const CATEGORIES = ['resource', 'data-source', 'action'] as const
const ALLOWED: Record<(typeof KINDS)[number], readonly string[]> = {
  leaf: ['resource'],
  'library-call': ['resource', 'data-source', 'action'],
  action: ['action'],
  'data-source': ['data-source'],
}

t.test('each entry-kind accepts exactly its categories', async (t) => {
  for (const kind of KINDS) {
    for (const category of [...CATEGORIES, 'other', '']) {
      const r = refusal(snapshot([entry({ address: 'e.1', 'entry-kind': kind, category })]))
      if (ALLOWED[kind].includes(category)) t.equal(r, undefined, `${kind} with ${category}`)
      else
        t.match(
          r,
          { code: 'invalid-snapshot', details: { rule: 'category', entry: 'e.1' } },
          `${kind} with ${category || 'empty category'}`,
        )
    }
    const { category: _category, ...noCategory } = entry({ address: 'e.1', 'entry-kind': kind })
    t.match(
      refusal(snapshot([noCategory])),
      { code: 'invalid-snapshot', details: { rule: 'category', entry: 'e.1' } },
      `${kind} without category`,
    )
  }
})

t.test('an unknown or missing entry-kind is refused with rule entry-kind', async (t) => {
  for (const kind of ['resource', 'Leaf', '', 'toString', '__proto__', 3]) {
    t.match(
      refusal(snapshot([entry({ address: 'e.1', 'entry-kind': kind })])),
      { code: 'invalid-snapshot', details: { rule: 'entry-kind', entry: 'e.1' } },
      String(kind),
    )
  }
  const { 'entry-kind': _kind, ...noKind } = entry({ address: 'e.1' })
  t.match(
    refusal(snapshot([noKind])),
    { code: 'invalid-snapshot', details: { rule: 'entry-kind', entry: 'e.1' } },
    'missing',
  )
})

t.test('a missing binding, empty alias or empty kind is refused with rule binding', async (t) => {
  const { binding: _binding, ...noBinding } = entry({ address: 'e.1' })
  const cases: ReadonlyArray<readonly [string, Doc]> = [
    ['missing binding', noBinding],
    ['null binding', entry({ address: 'e.1', binding: null })],
    ['array binding', entry({ address: 'e.1', binding: ['aws', 'vpc'] })],
    ['empty alias', entry({ address: 'e.1', binding: { alias: '', kind: 'vpc' } })],
    ['missing alias', entry({ address: 'e.1', binding: { kind: 'vpc' } })],
    ['empty kind', entry({ address: 'e.1', binding: { alias: 'aws', kind: '' } })],
    ['missing kind', entry({ address: 'e.1', binding: { alias: 'aws' } })],
    ['numeric kind', entry({ address: 'e.1', binding: { alias: 'aws', kind: 1 } })],
  ]
  for (const [why, e] of cases) {
    t.match(
      refusal(snapshot([entry({ address: 'ok.1' }), e])),
      { code: 'invalid-snapshot', details: { rule: 'binding', entry: 'e.1' } },
      why,
    )
  }
})

t.test('a refusal message names the entry and the rule', async (t) => {
  const r = refusal(snapshot([entry({ address: 'network.subnet', 'entry-kind': 'action', category: 'resource' })]))
  t.match(r?.message, 'network.subnet')
  t.match(r?.message, 'category')
})

t.test('a document that is not an object, or with entries not an array, is invalid-snapshot', async (t) => {
  for (const text of ['[]', '1', 'null', '"x"']) t.match(refusal(Buffer.from(text)), { code: 'invalid-snapshot' }, text)
  t.match(refusal(snapshot([], { entries: {} })), { code: 'invalid-snapshot', details: { rule: 'entries' } })
  t.match(refusal(snapshot(['not an entry'])), { code: 'invalid-snapshot', details: { rule: 'entry', entry: 0 } })
  t.match(refusal(snapshot([], { factory: 'f' })), { code: 'invalid-snapshot', details: { rule: 'factory' } })
  t.match(refusal(snapshot([], { stack: 5 })), { code: 'invalid-snapshot', details: { rule: 'stack' } })
})

t.test('bytes that are not JSON are malformed-json', async (t) => {
  for (const text of ['', '{', '{"format-version":1', 'format-version: 1', '\u0000']) {
    t.match(refusal(Buffer.from(text)), { code: 'malformed-json' }, JSON.stringify(text))
  }
})

t.test(
  'a value nested thousands deep is refused as invalid-snapshot with a short detail, never a stack overflow',
  async (t) => {
    // Found by fuzzing: the detail used to serialise the value (RangeError -> 500) and echo it back whole.
    for (const field of ['format-version', 'entry-kind'] as const) {
      const deep = `${'{"x":'.repeat(6000)}1${'}'.repeat(6000)}`
      const doc =
        field === 'format-version'
          ? `{"format-version":${deep}}`
          : `{"format-version":1,"entries":[{"address":"a.b","entry-kind":${deep},"category":"resource"}]}`
      t.throws(() => validateUnobinSnapshot(Buffer.from(doc)), { code: 'invalid-snapshot' }, field)
      try {
        validateUnobinSnapshot(Buffer.from(doc))
      } catch (err) {
        t.ok(
          (err as Error).message.length < 300,
          `${field}: the detail stays short (${(err as Error).message.length} characters)`,
        )
      }
    }
  },
)
