/** Arbitraries of route parameters (names and revs in every encoding), query strings and foreign methods. */
import fc from 'fast-check'
import { formatRev } from '../../../src/store/rev.js'
import { HOLDER, REV0, TF_LOCK_ID } from './settings.js'
import { type Encoding, component } from './router-model.js'

// --- arbitraries: names, revs, paths -------------------------------------------------

export const LOOKALIKES = [
  '\u0430',
  '\u0435',
  '\u043e',
  '\u0455',
  '\u0456',
  '\u03bf',
  '\uff46',
  '\uff53',
  '\uff11',
  '\u0131',
  '\u212a',
  '\u017f',
  '\u200b',
  '\u00a0',
  '\u2024',
  '\u2215',
  '\u2044',
  '\uff0f',
  '\uff0e',
  '\ufe52',
  '\u0301',
  '\u0130',
  '\u1d00',
  '\u0660',
]
export const TRAVERSAL_PARTS = [
  '..',
  '.',
  '/',
  '\\',
  '%',
  '\u0000',
  '%00',
  '..%2f',
  '%2e%2e',
  'etc',
  'passwd',
  'current',
  'lock',
  'snapshots',
  '.mutex',
  '.trash',
  '.meta',
  '.lock-released',
  '~',
  'C:',
  '//',
  '..\\',
  '../',
  '.json.enc',
  '*',
  '?',
  '#',
  ' ',
  '\n',
  '\r\n',
  '\t',
  'f1',
  's1',
  '\u202e',
  ';',
  '@',
  ':',
]
export const SPECIAL_NAMES = [
  '',
  '.',
  '..',
  '...',
  '.git',
  '-rf',
  '_x',
  'a/b',
  'a\\b',
  'f1\u0000',
  'f1\n',
  ' f1',
  'f1 ',
  'F1',
  '%',
  '%2e',
  'con',
  'nul',
  '*',
  '?',
  '#',
  '~root',
  '$HOME',
  '${x}',
  'snapshots',
  'current',
  'lock',
  'f1.',
  'a'.repeat(128),
  'a'.repeat(129),
  'a'.repeat(256),
  'a'.repeat(257),
  'é'.repeat(128),
]

/** A decoded name-ish string: valid names, traversal, look-alikes, unicode, overlong. */
export const nameIntent: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,12}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{120,135}$/) },
  {
    weight: 3,
    arbitrary: fc.array(fc.constantFrom(...TRAVERSAL_PARTS), { minLength: 1, maxLength: 7 }).map((a) => a.join('')),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('f1', 's1', 'tf', 'stack', 'prod'), fc.nat(), fc.constantFrom(...LOOKALIKES), fc.boolean())
      .map(([name, at, c, insert]) => {
        const i = at % (name.length + 1)
        return name.slice(0, i) + c + name.slice(insert ? i : i + 1)
      }),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 100, max: 320 }), fc.constantFrom('a', '.', 'é', '\u0100', '\u{1f600}', '%'))
      .map(([n, c]) => c.repeat(n)),
  },
  { weight: 2, arbitrary: fc.constantFrom(...SPECIAL_NAMES) },
)

export const MIN_NANOS = -62167219200n * 1_000_000_000n
export const MAX_NANOS = 253402300799n * 1_000_000_000n + 999_999_999n

/** Instants at the edges: the first and last a rev can name, the epoch, a leap day, the last second of a leap year. */
export const EDGE_NANOS = [
  MIN_NANOS,
  MAX_NANOS - 999_999_999n,
  MAX_NANOS,
  0n,
  -1n,
  951_782_400n * 1_000_000_000n,
  1_483_228_799n * 1_000_000_000n,
]

/** A canonical rev (its nanos rounded to whole seconds or milliseconds at times; edge instants often). */
export const canonicalRev: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.bigInt({ min: MIN_NANOS, max: MAX_NANOS }) },
      { weight: 2, arbitrary: fc.constantFrom(...EDGE_NANOS) },
    ),
    fc.constantFrom(1n, 1_000_000n, 1_000_000_000n),
    fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 999_999_999 })),
  )
  .map(([ns, unit, suffix]) => formatRev({ nanos: ns - (((ns % unit) + unit) % unit), suffix }))

/** Ways to break a canonical rev a little. */
export const REV_MUTATIONS: ReadonlyArray<(rev: string, at: number) => string> = [
  (r) => (r.includes('.') ? r.replace('Z', '0Z') : r.replace('Z', '.0Z')),
  (r) => r.replace('Z', '+00:00'),
  (r) => r.replace('Z', 'z'),
  (r) => r.replace('T', 't'),
  (r) => r.replace('T', ' '),
  (r) => `${r.replace(/_\d+$/, '')}_0`,
  (r) => `${r.replace(/_\d+$/, '')}_01`,
  (r) => `${r.replace(/_\d+$/, '')}_1234567890`,
  (r) => `${r.slice(0, 5)}13${r.slice(7)}`,
  (r) => `${r.slice(0, 5)}00${r.slice(7)}`,
  (r) => `${r.slice(0, 8)}00${r.slice(10)}`,
  (r) => `${r.slice(0, 5)}02-30${r.slice(10)}`,
  (r) => `${r.slice(0, 8)}32${r.slice(10)}`,
  (r) => `${r.slice(0, 11)}24${r.slice(13)}`,
  (r) => `${r.slice(0, 17)}60${r.slice(19)}`,
  (r) => `1${r}`,
  (r) => `${r}.json.enc`,
  (r) => `../${r}`,
  (r) => `${r}/..`,
  (r) => `${r}\u0000`,
  (r) => `${r} `,
  (r, at) => {
    const i = at % r.length
    return r.slice(0, i) + r.slice(i + 1)
  },
  (r, at) => {
    const i = at % r.length
    return r.slice(0, i) + r[i]! + r.slice(i)
  },
  (r, at) => {
    const i = [...r].findIndex((c, j) => j >= at % r.length && /\d/.test(c))
    return i < 0 ? r : `${r.slice(0, i)}\uff10${r.slice(i + 1)}`
  },
  (r, at) => {
    const i = [...r].findIndex((c, j) => j >= at % r.length && /\d/.test(c))
    return i < 0 ? r : `${r.slice(0, i)}\u0663${r.slice(i + 1)}`
  },
]

/** Rev-shaped strings built from calendar edges: edge years with months, days and times in and just out of range. */
export const calendarRev: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('0000', '0001', '1969', '1970', '2000', '2024', '2100', '9999'),
    fc.constantFrom('00', '01', '02', '12', '13'),
    fc.constantFrom('00', '01', '28', '29', '30', '31', '32'),
    fc.constantFrom('00:00:00', '23:59:59', '24:00:00', '23:59:60', '23:60:00'),
    fc.constantFrom('', '.5', '.999999999', '.1000000000', '.0'),
    fc.constantFrom('', '', '_1', '_999999999'),
  )
  .map(([y, mo, d, time, frac, suffix]) => `${y}-${mo}-${d}T${time}${frac}Z${suffix}`)

/** A decoded rev-ish string: canonical, broken a little, calendar edges, or any name-ish string. */
export const revIntent: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: canonicalRev },
  { weight: 4, arbitrary: calendarRev },
  {
    weight: 3,
    arbitrary: fc
      .tuple(canonicalRev, fc.integer({ min: 0, max: REV_MUTATIONS.length - 1 }), fc.nat())
      .map(([r, m, at]) => REV_MUTATIONS[m]!(r, at)),
  },
  { weight: 2, arbitrary: nameIntent },
)

/** A route parameter: a seeded value (by index), or a fuzzed intent in some encoding. */
export type ParamInput =
  | { readonly known: number }
  | { readonly intent: string; readonly encoding: Encoding; readonly upper: boolean }

export const encoding = fc.constantFrom<Encoding>(
  'component',
  'component',
  'bytes',
  'double',
  'raw',
  'raw',
  'specials',
  'overlong',
)
export const paramInput = (intent: fc.Arbitrary<string>): fc.Arbitrary<ParamInput> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.record({ known: fc.nat(9) }) },
    { weight: 5, arbitrary: fc.record({ intent, encoding, upper: fc.boolean() }) },
  )

export const FACTORIES = ['f1', 'f2']
export const STACKS = ['s1', 's2', 'tf', 'legacy']

export type Noise =
  | 'none'
  | 'encode-static'
  | 'upper-static'
  | 'dot-segment'
  | 'encoded-dot-segment'
  | 'dotdot-pair'
  | 'double-slash'
  | 'trailing-slash'
export const noise = fc.record({
  kind: fc.oneof(
    { weight: 12, arbitrary: fc.constant<Noise>('none') },
    {
      weight: 5,
      arbitrary: fc.constantFrom<Noise>(
        'encode-static',
        'upper-static',
        'dot-segment',
        'encoded-dot-segment',
        'dotdot-pair',
        'double-slash',
        'trailing-slash',
      ),
    },
  ),
  at: fc.nat(),
})

export const QUERIES = [
  '?current=true',
  '?force=true',
  '?force=true&reason=fuzz',
  '?dryRun=1',
  '?limit=1',
  '?limit=0',
  '?wait=1',
  '?ID=x',
  `?ID=${TF_LOCK_ID}`,
  `?id=${HOLDER}`,
  '?id=..%2F..%2Fcurrent',
  '?after=..%2F',
  '?x=%zz',
  '?=&&=',
  '?current=true&current=false',
  `?after=${REV0}`,
]
export const query: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constant('') },
  { weight: 3, arbitrary: fc.constantFrom(...QUERIES) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('wait', 'limit', 'after', 'force', 'current', 'id', 'ID', 'reason', 'x'), nameIntent)
      .map(([k, v]) => `?${k}=${component(v)}`),
  },
  { weight: 1, arbitrary: revIntent.map((r) => `?after=${component(r)}`) },
)

export const FOREIGN_METHODS = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'LOCK',
  'UNLOCK',
  'PATCH',
  'HEAD',
  'OPTIONS',
  'PROPFIND',
]
