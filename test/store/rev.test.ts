import t from 'tap'
import { isStateError } from '../../src/errors.js'
import { assertRev, formatRev, isRev, nextRev, parseRev, sortRevs } from '../../src/store/rev.js'
import { fixture } from '../helpers/store.js'

interface InstantCase {
  readonly rfc3339nano: string
  readonly 'unix-nanos': string
}

const instants = JSON.parse(fixture('rfc3339nano.json').toString('utf8')) as InstantCase[]
const sortGolden = JSON.parse(fixture('revision-sort.json').toString('utf8')) as { input: string[]; output: string[] }

t.test('parseRev round-trips every Go RFC3339Nano fixture', async (t) => {
  for (const c of instants) {
    const parsed = parseRev(c.rfc3339nano)
    t.same(parsed, { nanos: BigInt(c['unix-nanos']), suffix: 0 }, c.rfc3339nano)
    t.equal(formatRev(parsed!), c.rfc3339nano)
  }
})

t.test('parseRev reads the collision suffix', async (t) => {
  t.same(parseRev('2026-07-10T12:00:00Z_2'), {
    nanos: BigInt(Date.parse('2026-07-10T12:00:00Z')) * 1_000_000n,
    suffix: 2,
  })
  t.equal(formatRev({ nanos: 0n, suffix: 10 }), '1970-01-01T00:00:00Z_10')
})

t.test('parseRev accepts the first and last instants RFC 3339 can write', async (t) => {
  for (const rev of [
    '0000-01-01T00:00:00Z',
    '0001-01-01T00:00:00Z',
    '1969-12-31T23:59:59.999999999Z',
    '9999-12-31T23:59:59.999999999Z_999999999',
  ]) {
    const parsed = parseRev(rev)
    t.not(parsed, undefined, rev)
    t.equal(formatRev(parsed!), rev)
  }
})

t.test('sortRevs orders the Go golden input exactly as Go does', async (t) => {
  t.same(sortRevs(sortGolden.input), sortGolden.output)
})

t.test('sortRevs leaves its input array as it was', async (t) => {
  const input = [...sortGolden.input]
  const sorted = sortRevs(input)
  t.same(input, sortGolden.input)
  t.not(sorted, input)
})

t.test('sortRevs of nothing is an empty array', async (t) => {
  const sorted = sortRevs([])
  t.ok(Array.isArray(sorted))
  t.same(sorted, [])
})

t.test('sortRevs never throws on names that look like revs of impossible years', async (t) => {
  t.same(sortRevs(['2026-07-10T12:00:00Z', '0000-01-01T00:00:00Z', 'zz']), [
    '0000-01-01T00:00:00Z',
    '2026-07-10T12:00:00Z',
    'zz',
  ])
})

const NON_CANONICAL: ReadonlyArray<readonly [string, string]> = [
  ['trailing zero in the fraction', '2026-07-10T12:00:00.10Z'],
  ['an all-zero fraction', '2026-07-10T12:00:00.0Z'],
  ['a ten-digit fraction', '2026-07-10T12:00:00.1234567891Z'],
  ['a dot without digits', '2026-07-10T12:00:00.Z'],
  ['a +00:00 offset', '2026-07-10T12:00:00+00:00'],
  ['a non-zero offset', '2026-07-10T14:00:00+02:00'],
  ['lower-case z', '2026-07-10T12:00:00z'],
  ['lower-case t', '2026-07-10t12:00:00Z'],
  ['a space for T', '2026-07-10 12:00:00Z'],
  ['suffix _0', '2026-07-10T12:00:00Z_0'],
  ['suffix _01', '2026-07-10T12:00:00Z_01'],
  ['an empty suffix', '2026-07-10T12:00:00Z_'],
  ['a ten-digit suffix', '2026-07-10T12:00:00Z_1000000000'],
  ['a negative suffix', '2026-07-10T12:00:00Z_-1'],
  ['February 30', '2026-02-30T12:00:00Z'],
  ['February 29 of a common year', '2026-02-29T12:00:00Z'],
  ['month 13', '2026-13-01T12:00:00Z'],
  ['hour 24', '2026-07-10T24:00:00Z'],
  ['second 60', '2026-07-10T12:00:60Z'],
  ['a path', '../x'],
  ['a traversal dressed as a rev', '../2026-07-10T12:00:00Z'],
  ['a trailing slash', '2026-07-10T12:00:00Z/'],
  ['a NUL byte', '2026-07-10T12:00:00Z\u0000'],
  ['a trailing newline', '2026-07-10T12:00:00Z\n'],
  ['Arabic-Indic digits', '٢٠٢٦-07-10T12:00:00Z'],
  ['fullwidth digits', '２０２６-07-10T12:00:00Z'],
  ['a file name with the suffix', '2026-07-10T12:00:00Z.json.enc'],
  ['the empty string', ''],
]

t.test('parseRev refuses every non-canonical name', async (t) => {
  for (const [why, name] of NON_CANONICAL) {
    t.equal(parseRev(name), undefined, why)
    t.equal(isRev(name), false, why)
  }
})

t.test('assertRev throws invalid-rev for every non-canonical name', async (t) => {
  for (const [why, name] of NON_CANONICAL) {
    t.throws(() => assertRev(name), { code: 'invalid-rev' }, why)
  }
})

t.test('assertRev shows a hostile name escaped in its details', async (t) => {
  try {
    assertRev('../x\u0000\n')
    t.fail('expected invalid-rev')
  } catch (err) {
    t.ok(isStateError(err, 'invalid-rev'))
    if (isStateError(err)) {
      t.equal(err.details.rev, '../x\\u0000\\n')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the message must not carry a NUL or a newline
      t.notMatch(err.message, /[\u0000\n]/)
    }
  }
})

t.test('nextRev with a frozen clock gives the next suffix, which sorts last', async (t) => {
  const now = BigInt(Date.parse('2026-07-10T12:00:00Z')) * 1_000_000n
  const stored = ['2026-07-10T12:00:00Z', '2026-07-10T12:00:00Z_1']
  const next = formatRev(nextRev(now, parseRev(stored[1]!)))
  t.equal(next, '2026-07-10T12:00:00Z_2')
  t.equal(sortRevs([next, ...stored]).at(-1), next)
})

t.test('nextRev with a clock stepped back still sorts after the newest rev', async (t) => {
  const newest = '2026-07-10T12:00:00.5Z'
  const oneHourEarlier = BigInt(Date.parse('2026-07-10T11:00:00Z')) * 1_000_000n
  const next = formatRev(nextRev(oneHourEarlier, parseRev(newest)))
  t.equal(next, '2026-07-10T12:00:00.5Z_1')
  t.equal(sortRevs([next, newest, '2026-07-10T11:00:00Z']).at(-1), next)
})

t.test('nextRev with a later clock uses the instant itself', async (t) => {
  const later = BigInt(Date.parse('2026-07-10T12:00:01Z')) * 1_000_000n + 5n
  t.equal(formatRev(nextRev(later, parseRev('2026-07-10T12:00:00Z_7'))), '2026-07-10T12:00:01.000000005Z')
  t.equal(formatRev(nextRev(later, undefined)), '2026-07-10T12:00:01.000000005Z')
})

t.test('fields out of range are not revs, even where Date would roll them past year 9999', async (t) => {
  // Found by fuzzing: these rolled over and made formatting throw (500) instead of invalid-rev.
  for (const name of [
    '9999-13-01T00:00:00Z',
    '9999-12-32T00:00:00Z_1',
    '0000-00-01T00:00:00Z',
    '0000-01-00T00:00:00Z',
    '2026-07-10T24:00:00Z',
    '2026-07-10T12:60:00Z',
    '2026-07-10T12:00:60Z',
  ]) {
    t.equal(parseRev(name), undefined, name)
    t.throws(() => assertRev(name), { code: 'invalid-rev' }, `${name} is invalid-rev`)
  }
  t.ok(isRev('9999-12-31T23:59:59.999999999Z'), 'the last instant is a rev')
  t.ok(isRev('0000-01-01T00:00:00Z'), 'and so is the first')
})
