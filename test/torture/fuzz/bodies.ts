/** Arbitraries of request bodies: JSON texts, bytes, almost-valid snapshots, Terraform states and LockInfos. */
import fc from 'fast-check'
import { lockInfo, terraformState } from '../../helpers/auth.js'
import { sampleSnapshot } from '../../helpers/store.js'
import { BODY_LIMIT, HOLDER, LINEAGE, REV0, REV1, TF_LOCK_ID, TRASHED } from './settings.js'
import { revIntent } from './names.js'

// --- arbitraries: bodies -------------------------------------------------------------

export type BodyKind =
  | 'none'
  | 'set-current'
  | 'snapshot'
  | 'lock'
  | 'renew'
  | 'gc'
  | 'prune'
  | 'restore'
  | 'tf-state'
  | 'lockinfo'
  | 'unlockinfo'

/** Which body a route takes (by its method and URL template). */
export function bodyKindOf(method: string, url: string): BodyKind {
  if (url.endsWith('/current')) return method === 'PUT' ? 'set-current' : 'none'
  if (url.endsWith('/snapshots')) return method === 'POST' ? 'snapshot' : 'none'
  if (url.endsWith('/terraform/lock'))
    return method === 'POST' ? 'lockinfo' : method === 'DELETE' ? 'unlockinfo' : 'none'
  if (url.endsWith('/lock')) return method === 'POST' ? 'lock' : method === 'PUT' ? 'renew' : 'none'
  if (url.endsWith('::gc')) return 'gc'
  if (url.endsWith('::prune')) return 'prune'
  if (url.endsWith('::restore')) return 'restore'
  if (url.endsWith('/terraform'))
    return method === 'POST' || method === 'PUT'
      ? 'tf-state'
      : method === 'LOCK'
        ? 'lockinfo'
        : method === 'UNLOCK'
          ? 'unlockinfo'
          : 'none'
  return 'none'
}

/** A body a well-behaved client would send for `kind` (placeholders filled later). */
export function plausibleBody(kind: BodyKind, choice: number): string | undefined {
  switch (kind) {
    case 'none':
      return undefined
    case 'set-current':
      return JSON.stringify({ rev: choice % 2 === 0 ? REV0 : REV1 })
    case 'snapshot':
      return sampleSnapshot(`fuzz-${choice}`).toString('utf8')
    case 'lock':
      return JSON.stringify({ who: 'fuzz', operation: 'plan', ttl: 1 })
    case 'renew':
      return JSON.stringify({ ttl: 60 })
    case 'gc':
      return JSON.stringify({ keep: choice % 4, dryRun: choice % 3 !== 0 })
    case 'prune':
      return JSON.stringify({ keep: 1 + (choice % 3), dryRun: choice % 2 === 0 })
    case 'restore':
      return JSON.stringify({ rev: TRASHED })
    case 'tf-state':
      return terraformState(3 + (choice % 5), LINEAGE)
    case 'lockinfo':
      return lockInfo(choice % 3 === 0 ? TF_LOCK_ID : `fuzz-lock-${choice % 5}`)
    case 'unlockinfo':
      return choice % 4 === 0 ? '' : lockInfo(choice % 2 === 0 ? TF_LOCK_ID : `fuzz-lock-${choice % 5}`)
  }
}

export const NUMBER_TEXTS = [
  '0',
  '-0',
  '1',
  '-1',
  '1.5',
  '1e3',
  '1E+3',
  '1e400',
  '-1e400',
  '1e-400',
  '9007199254740993',
  '123456789012345678901234567890',
  '0.0000001',
  '1.0',
  '604800',
  '604801',
  '3600',
  '1000000',
  '1000001',
  '2147483648',
  '-2147483649',
  '1e20',
  '1e300',
  '2e305',
  '1e306',
  '8e307',
  '1e308',
  '1.7976931348623157e308',
  '5e-324',
]
export const STRING_TEXTS = [
  '""',
  '"__proto__"',
  '"../../etc/passwd"',
  `"${REV0}"`,
  `"${REV1}"`,
  `"${TRASHED}"`,
  `"${HOLDER}"`,
  `"${TF_LOCK_ID}"`,
  `"${LINEAGE}"`,
  '"\\u0000"',
  '"\\ud800"',
  '"2026-02-30T12:00:00Z"',
  '"1"',
  '"true"',
  '"null"',
  `"${'x'.repeat(5000)}"`,
]
export const KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'who',
  'operation',
  'info',
  'ttl',
  'id',
  'rev',
  'keep',
  'dryRun',
  'maxAge',
  'ID',
  'Id',
  'Operation',
  'Info',
  'Who',
  'Version',
  'Created',
  'Path',
  'lineage',
  'serial',
  'version',
  'format-version',
  'factory',
  'stack',
  'entries',
  'outputs',
  'address',
  'entry-kind',
  'category',
  'binding',
  'alias',
  'kind',
  'toString',
  'valueOf',
  'hasOwnProperty',
]

export const numberText = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...NUMBER_TEXTS) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)) },
)
export const stringText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 16 }).map((s) => JSON.stringify(s)),
  fc.constantFrom(...STRING_TEXTS),
)
export const keyText = fc
  .oneof({ weight: 3, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) })
  .map((k) => JSON.stringify(k))

/** Arbitrary JSON texts (written out by hand, so `__proto__` keys and odd number spellings survive). */
const { value: jsonText } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthSize: 'small' },
    numberText,
    stringText,
    fc.constantFrom('true', 'false', 'null'),
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('value'), { maxLength: 4 }).map((vs) => `[${vs.join(',')}]`),
  object: fc
    .array(fc.tuple(keyText, tie('value')), { maxLength: 5 })
    .map((kvs) => `{${kvs.map(([k, v]) => `${k}:${v}`).join(',')}}`),
}))

/** Values of the kind each field expects, odd ones included (numbers for counts, strings for names, revs for revs). */
export const FIELD_VALUES: Readonly<Record<string, fc.Arbitrary<string>>> = {
  ttl: numberText,
  keep: numberText,
  maxAge: numberText,
  serial: numberText,
  version: numberText,
  'format-version': numberText,
  dryRun: fc.constantFrom('true', 'false', '"true"', '1', '0', 'null', '[]'),
  rev: fc.oneof(
    fc.constantFrom(`"${REV0}"`, `"${REV1}"`, `"${TRASHED}"`),
    revIntent.map((r) => JSON.stringify(r)),
  ),
  Created: fc.constantFrom(
    '"2026-07-10T12:00:00Z"',
    '"0001-01-01T00:00:00Z"',
    '""',
    '"not a time"',
    '"2026-07-10T12:00:00.000000001+14:00"',
    'null',
    '0',
  ),
}
export const fieldValue = (field: string): fc.Arbitrary<string> =>
  fc.oneof({ weight: 4, arbitrary: FIELD_VALUES[field] ?? stringText }, { weight: 1, arbitrary: jsonText })

/** An object with some of the fields a route expects (each once), values of the expected kind or any other. */
export const fieldsText = (fields: readonly string[]): fc.Arbitrary<string> =>
  fc
    .subarray([...fields])
    .chain((keys) =>
      fc
        .tuple(...keys.map((k) => fieldValue(k)))
        .map((values) => `{${keys.map((k, i) => `${JSON.stringify(k)}:${values[i]!}`).join(',')}}`),
    )

/** An object whose keys are mostly the fields a route expects, some repeated or foreign, with values of any type. */
export const shapedText = (fields: readonly string[]): fc.Arbitrary<string> =>
  fc
    .array(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.constantFrom(...fields).chain((k) => fieldValue(k).map((v): [string, string] => [k, v])),
        },
        { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...KEYS), jsonText) },
      ),
      { maxLength: fields.length + 1 },
    )
    .map((kvs) => `{${kvs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`)

/** A unobin snapshot with one to three things wrong (or, at times, nothing). */
export const snapshotText: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.integer({ min: 0, max: 9 }),
      fc.constantFrom('format-version', 'factory', 'stack', 'generated-at', 'entries', 'outputs', '__proto__', 'extra'),
      fc.constantFrom('address', 'entry-kind', 'category', 'binding', 'outputs', 'alias', 'kind'),
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom('leaf', 'library-call', 'action', 'data-source', 'resource', '__proto__', 'toString'),
    ),
    { maxLength: 3 },
  )
  .map((mutations) => {
    const doc = JSON.parse(sampleSnapshot('near').toString('utf8')) as Record<string, unknown>
    const entries = doc.entries as Array<Record<string, unknown>>
    for (const [op, top, field, value, word] of mutations) {
      const entry = entries[0] ?? {}
      switch (op) {
        case 0:
          delete doc[top]
          break
        case 1:
          Object.defineProperty(doc, top, { value, enumerable: true, configurable: true, writable: true })
          break
        case 2:
          delete entry[field]
          break
        case 3:
          entry[field] = value
          break
        case 4:
          entries.push({ ...entry })
          break // a duplicate address
        case 5:
          entry['entry-kind'] = word
          break
        case 6:
          entry.category = word
          break
        case 7:
          entry.binding = { alias: field === 'alias' ? '' : 'aws', kind: field === 'kind' ? value : 'vpc' }
          break
        case 8:
          entries.push({
            address: `extra.${String(word)}`,
            'entry-kind': word,
            category: word === 'leaf' ? 'resource' : word,
            binding: { alias: 'a', kind: 'k' },
          })
          break
        default:
          doc['format-version'] = value
      }
    }
    return JSON.stringify(doc)
  })

/** A Terraform state with odd lineage and serial (sometimes a proper successor). */
export const tfStateText: fc.Arbitrary<string> = fc
  .record({
    version: fc.oneof(fc.constant('4'), numberText, stringText),
    serial: fc.oneof(fc.integer({ min: 0, max: 9 }).map(String), numberText, stringText, fc.constant('null')),
    lineage: fc.oneof(fc.constant(JSON.stringify(LINEAGE)), stringText, numberText, fc.constant('null')),
    rest: fc.array(fc.tuple(keyText, jsonText), { maxLength: 2 }),
    drop: fc.constantFrom<Array<'version' | 'serial' | 'lineage' | 'none'>>(
      'none',
      'none',
      'version',
      'serial',
      'lineage',
    ),
  })
  .map(({ version, serial, lineage, rest, drop }) => {
    const kvs: Array<[string, string]> = [
      ['"version"', version],
      ['"serial"', serial],
      ['"lineage"', lineage],
      ['"terraform_version"', '"1.9.0"'],
      ['"resources"', '[]'],
      ...rest,
    ]
    return `{${kvs
      .filter(([k]) => k !== `"${drop}"`)
      .map(([k, v]) => `${k}:${v}`)
      .join(',')}}`
  })

/** A Terraform LockInfo with odd fields. */
export const lockInfoText: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        '"ID"',
        '"id"',
        '"Operation"',
        '"Info"',
        '"Who"',
        '"Version"',
        '"Created"',
        '"Path"',
        '"__proto__"',
        '"constructor"',
      ),
      fc.oneof(
        fc.constant(JSON.stringify(TF_LOCK_ID)),
        fc.constant('"0001-01-01T00:00:00Z"'),
        fc.constant('""'),
        stringText,
        numberText,
        fc.constant('null'),
        jsonText,
      ),
    ),
    { maxLength: 7 },
  )
  .map((kvs) => `{${kvs.map(([k, v]) => `${k}:${v}`).join(',')}}`)

/** A body: JSON text, raw bytes, truncated or deeply nested JSON, oversize, or route-shaped values. */
export const bodyFor = (kind: BodyKind, fields: readonly string[]): fc.Arbitrary<string | Buffer> => {
  const special: fc.Arbitrary<string> =
    kind === 'snapshot'
      ? snapshotText
      : kind === 'tf-state'
        ? tfStateText
        : kind === 'lockinfo' || kind === 'unlockinfo'
          ? lockInfoText
          : fieldsText(fields)
  return fc.oneof(
    { weight: 5, arbitrary: special },
    { weight: 4, arbitrary: fieldsText(fields) },
    { weight: 3, arbitrary: shapedText(fields) },
    { weight: 2, arbitrary: jsonText },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.nat(), fc.nat()).map(([choice, at]) => {
        const text = plausibleBody(kind, choice) ?? '{"a":[1,2,{"b":"c"}]}'
        return text.slice(0, at % Math.max(1, text.length))
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 1000, max: 12_000 }), fc.constantFrom('[', '{"a":', `{"${fields[0] ?? 'x'}":`))
        .map(([n, open]) => open.repeat(n) + (open === '[' ? '' : '1') + (open === '[' ? ']' : '}').repeat(n)),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        `{"who":"${'x'.repeat(BODY_LIMIT)}"}`,
        `\ufeff${plausibleBody(kind, 1) ?? '{}'}`,
        `${plausibleBody(kind, 1) ?? '{}'}${plausibleBody(kind, 1) ?? '{}'}`,
        `${plausibleBody(kind, 1) ?? '{}'} trailing`,
      ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        Buffer.from(plausibleBody(kind, 2) ?? '{}', 'utf16le'),
        Buffer.concat([Buffer.from('{"who":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xae]), Buffer.from('"}')]),
      ),
    },
  )
}

export const FIELDS: Record<BodyKind, readonly string[]> = {
  none: ['x'],
  'set-current': ['rev'],
  snapshot: ['format-version', 'factory', 'stack', 'entries', 'outputs'],
  lock: ['who', 'operation', 'info', 'ttl'],
  renew: ['id', 'ttl'],
  gc: ['keep', 'dryRun'],
  prune: ['keep', 'maxAge', 'dryRun'],
  restore: ['rev'],
  'tf-state': ['version', 'serial', 'lineage'],
  lockinfo: ['ID', 'Operation', 'Info', 'Who', 'Version', 'Created', 'Path'],
  unlockinfo: ['ID', 'Operation', 'Info', 'Who', 'Version', 'Created', 'Path'],
}
