/**
 * The scanner against `JSON.parse`, and the scans of large bodies against
 * the reference checks they stand in for: a scan must never accept what the
 * reference refuses, nor report another lineage or serial; it must accept
 * the ordinary documents (or the fast path would never be taken); and its
 * answer must not depend on where the slices fall.
 */
import t from 'tap'
import { scanStateMeta, scanUnobinSnapshot } from '../../src/parse/fast-checks.js'
import { JsonScanner, type JsonVisitor } from '../../src/parse/json-scan.js'
import { validateUnobinSnapshot } from '../../src/store/unobin-snapshot.js'
import { readStateMeta } from '../../src/terraform/state-meta.js'

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const silent: JsonVisitor = { maxDepth: 2, value: () => true, close: () => true }

function scanAll(bytes: Buffer, slice: number, visitor: JsonVisitor = silent): string {
  const scanner = new JsonScanner(bytes, visitor)
  for (let until = slice; ; until += slice) {
    const result = scanner.scan(until)
    if (result !== undefined) return result
  }
}

function parses(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

t.test('the scanner calls JSON exactly what JSON.parse parses (200,000 random short texts)', async (t) => {
  const pieces = [
    '{',
    '}',
    '[',
    ']',
    ',',
    ':',
    '"',
    '\\',
    'u',
    '0',
    '1',
    '9',
    '-',
    '+',
    '.',
    'e',
    'E',
    ' ',
    '\n',
    '\t',
    '\r',
    '\f',
    'a',
    't',
    'r',
    'u',
    'f',
    'n',
    'l',
    's',
    'true',
    'false',
    'null',
    '"a"',
    '"\\u00e9"',
    'é',
    '\u0001',
    '\u2028',
    '\ufeff',
    '/',
    'b',
    'x',
  ]
  const next = random(15)
  const disagreements: string[] = []
  for (let k = 0; k < 200_000; k++) {
    let text = ''
    const length = 1 + Math.floor(next() * 14)
    for (let j = 0; j < length; j++) text += pieces[Math.floor(next() * pieces.length)]
    const scanned = scanAll(Buffer.from(text), 1 + Math.floor(next() * 4))
    if ((scanned === 'json') !== parses(text)) disagreements.push(text)
  }
  t.same(disagreements.slice(0, 5), [], 'no text on which the two disagree')
})

t.test('the scanner agrees with JSON.parse on real documents and their truncations', async (t) => {
  const docs = [
    JSON.stringify({ a: [1, -2.5e-3, 0, true, false, null, 'x\u0000y', { b: '\ud800' }], 'k\\"': {} }, null, 2),
    '  [ [ [ ] ] , { } , "\\/\\b\\f\\n\\r\\t\\u12aF" ]  ',
    '-0',
    '1E+2',
    '"\u00e9\u20ac\ud83d\ude00"',
  ]
  for (const doc of docs) {
    t.equal(scanAll(Buffer.from(doc), 3), 'json', doc)
    for (let cut = 0; cut < doc.length; cut++) {
      const part = doc.slice(0, cut)
      t.equal(scanAll(Buffer.from(part), 2) === 'json', parses(part), `cut at ${cut} of ${JSON.stringify(doc)}`)
    }
  }
  t.equal(scanAll(Buffer.from('[01]'), 10), 'not-json')
  t.equal(scanAll(Buffer.from('"\t"'), 10), 'not-json', 'a raw tab inside a string')
  t.equal(scanAll(Buffer.from('\ufeff{}'), 10), 'not-json', 'a byte order mark')
  t.equal(scanAll(Buffer.from('[1,]'), 10), 'not-json')
  t.equal(scanAll(Buffer.from('{"a" 1}'), 10), 'not-json')
  t.equal(scanAll(Buffer.from(''), 10), 'not-json')
})

t.test('a long string is read across slices, not in one go', async (t) => {
  const doc = Buffer.from(`{"k":"${'x'.repeat(1000)}","${'y'.repeat(500)}":1}`)
  const scanner = new JsonScanner(doc, silent)
  let calls = 0
  let result: string | undefined
  for (let until = 100; result === undefined; until += 100) {
    result = scanner.scan(until)
    calls++
  }
  t.equal(result, 'json')
  t.ok(calls >= 15, `${calls} slices of 100 bytes for ${doc.length} bytes`)
})

t.test('the scanner counts the structural characters the parse worker counts', async (t) => {
  const doc = Buffer.from('{"a":[1,2,{"b":"x,:{["}],"c":{}}')
  const scanner = new JsonScanner(doc, silent)
  t.equal(scanner.scan(doc.length), 'json')
  // { : [ , , { : , : {  — the comma, colon and brackets inside the string do not count.
  t.equal(scanner.structural, 10)
})

function entry(address: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    address,
    'entry-kind': 'library-call',
    category: 'action',
    binding: { alias: 'x', kind: 'k' },
    attributes: { nested: { deeper: [address, { address: 'not-an-entry' }] } },
    ...extra,
  }
}

const snapshot = {
  'format-version': 1,
  factory: { name: 'f', version: '1', 'content-revision': 'r' },
  stack: 's',
  entries: [entry('a.one'), entry('a.two'), entry('b.three', { 'entry-kind': 'leaf', category: 'resource' })],
  outputs: { o: { value: 'v' } },
}

function refAccepts(bytes: Buffer): boolean {
  try {
    validateUnobinSnapshot(bytes)
    return true
  } catch {
    return false
  }
}

t.test('an ordinary snapshot is accepted by the scan, whatever its slices', async (t) => {
  const bytes = Buffer.from(JSON.stringify(snapshot, null, 2))
  t.ok(refAccepts(bytes))
  t.equal(await scanUnobinSnapshot(bytes, 1e9), true)
  for (const slice of [1, 7, 64])
    t.equal(scanAll(bytes, slice, { maxDepth: 4, value: () => true, close: () => true }), 'json', `slices of ${slice}`)
  t.equal(await scanUnobinSnapshot(Buffer.from('{"format-version":1}'), 1e9), true, 'no entries at all')
  t.equal(await scanUnobinSnapshot(Buffer.from('{"format-version":1,"entries":null}'), 1e9), true, 'null entries')
  t.equal(await scanUnobinSnapshot(bytes, 10), false, 'more values than allowed: left to the reference')
})

t.test('the scan never accepts a snapshot the Go rules refuse (mutations of a valid one)', async (t) => {
  const text = JSON.stringify(snapshot)
  const replacements: Array<[string, string]> = [
    ['"format-version":1', '"format-version":2'],
    ['"format-version":1', '"format-version":"1"'],
    ['"format-version":1', '"format-version":1.0'],
    ['"format-version":1', '"format-version":1,"format-version":2'],
    ['"format-version":1', '"format-version":2,"format-version":1'],
    ['"format-version":1,', ''],
    ['"stack":"s"', '"stack":5'],
    ['"stack":"s"', '"stack":null'],
    ['"factory":{', '"factory":null,"x":{'],
    ['"factory":{', '"factory":[],"x":{'],
    ['"entries":[', '"entries":{"x":['],
    ['"entries":[', '"entries":5,"x":['],
    ['"entries":[', '"entries":[],"entries":['],
    ['"address":"a.two"', '"address":"a.one"'],
    ['"address":"a.two"', '"address":"a.\\u006fne"'],
    ['"address":"a.two"', '"address":""'],
    ['"address":"a.two"', '"address":7'],
    ['"address":"a.two"', '"address":"a.two","address":"a.one"'],
    ['"address":"a.two"', '"addr\\u0065ss":"a.two"'],
    ['"entry-kind":"leaf"', '"entry-kind":"toString"'],
    ['"entry-kind":"leaf"', '"entry-kind":"__proto__"'],
    ['"entry-kind":"leaf"', '"entry-kind":"leaf","entry-kind":"action"'],
    ['"category":"resource"', '"category":"action"'],
    ['"category":"resource"', '"category":["resource"]'],
    [
      '"binding":{"alias":"x","kind":"k"},"attributes":{"nested":{"deeper":["b',
      '"binding":{"alias":"","kind":"k"},"attributes":{"nested":{"deeper":["b',
    ],
    [
      '"binding":{"alias":"x","kind":"k"},"attributes":{"nested":{"deeper":["b',
      '"binding":{"alias":"x"},"attributes":{"nested":{"deeper":["b',
    ],
    [
      '"binding":{"alias":"x","kind":"k"},"attributes":{"nested":{"deeper":["b',
      '"binding":"x","attributes":{"nested":{"deeper":["b',
    ],
    [
      '"binding":{"alias":"x","kind":"k"},"attributes":{"nested":{"deeper":["b',
      '"binding":{"alias":"x","kind":"k","alias":""},"attributes":{"nested":{"deeper":["b',
    ],
    [
      '"binding":{"alias":"x","kind":"k"},"attributes":{"nested":{"deeper":["b',
      '"binding":{"alias":"x","kind":"k"},"binding":null,"attributes":{"nested":{"deeper":["b',
    ],
    [',{"address":"b.three"', ',5,{"address":"b.three"'],
    ['"outputs":{', '"outputs":{,'],
  ]
  let refused = 0
  for (const [from, to] of replacements) {
    t.ok(text.includes(from), `the mutation applies: ${from}`)
    const bytes = Buffer.from(text.replace(from, to))
    const reference = refAccepts(bytes)
    if (!reference) refused++
    if (await scanUnobinSnapshot(bytes, 1e9)) t.ok(reference, `accepted only what the reference accepts: ${to}`)
  }
  t.ok(refused >= 25, `most mutations break a rule (${refused})`)
  // Random byte flips of the compact text: the scan may only ever agree with an acceptance.
  const next = random(7)
  let unsound = 0
  for (let k = 0; k < 3000; k++) {
    const bytes = Buffer.from(text)
    for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--)
      bytes[Math.floor(next() * bytes.length)] = '{}[],:"\\ 01a-'.charCodeAt(Math.floor(next() * 14))
    if ((await scanUnobinSnapshot(bytes, 1e9)) && !refAccepts(bytes)) unsound++
  }
  t.equal(unsound, 0, 'no flipped document accepted that the reference refuses')
})

t.test('the Terraform scan reads the lineage and serial the reference reads, or leaves it to it', async (t) => {
  const cases = [
    '{"version":4,"lineage":"l","serial":3,"resources":[{"lineage":"no","serial":9}]}',
    '{"lineage":"l","serial":3.0}',
    '{"lin\\u0065age":"l\\u00e9","serial":2,"encrypted_data":{}}',
    '{"lineage":"","serial":3}',
    '{"lineage":"l","serial":3.5}',
    '{"lineage":"l","serial":-1}',
    '{"lineage":"l","serial":1e400}',
    '{"lineage":"l","serial":"3"}',
    '{"lineage":"l","lineage":"m","serial":1}',
    '{"lineage":"l","serial":1,"serial":2}',
    '[{"lineage":"l","serial":1}]',
    '{"serial":1}',
    '{"lineage":"l","serial":1',
  ]
  let decided = 0
  for (const text of cases) {
    const bytes = Buffer.from(text)
    let reference: unknown
    try {
      reference = readStateMeta(bytes)
    } catch {
      reference = 'refused'
    }
    const scanned = await scanStateMeta(bytes, 1e9)
    if (scanned !== undefined) {
      decided++
      t.same(scanned, reference, text)
    }
  }
  t.equal(decided, 3, 'the three plain states are read by the scan')
})
