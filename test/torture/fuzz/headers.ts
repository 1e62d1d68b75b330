/** Arbitraries of headers, stack targets, and the operations the header and body properties send. */
import fc from 'fast-check'
import { stackUrl } from '../../helpers/app.js'
import { HOLDER, JSON_TYPE, REV0, REV1, TF_LOCK_ID, TRASHED } from './settings.js'
import type { BodyKind } from './bodies.js'

// --- arbitraries: headers -------------------------------------------------------------

/** A character a header value can carry on the wire (latin1, no CR/LF/NUL). */
export const headerChar = fc
  .oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
    { weight: 1, arbitrary: fc.constant(9) },
  )
  .map((c) => String.fromCharCode(c))
/** Header text as a server receives it (Node trims surrounding whitespace). */
export const headerText = (maxLength = 60): fc.Arbitrary<string> =>
  fc.string({ unit: headerChar, maxLength }).map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''))

export const revHeader = fc
  .tuple(
    fc.constantFrom(REV0, REV1, TRASHED),
    fc.constantFrom('raw', 'quoted', 'weak', 'list', 'spaced', 'unterminated'),
  )
  .map(
    ([rev, form]) =>
      ({
        raw: rev,
        quoted: `"${rev}"`,
        weak: `W/"${rev}"`,
        list: `"2020-01-01T00:00:00Z", "${rev}"`,
        spaced: `  "${rev}"`,
        unterminated: `"${rev}`,
      })[form],
  )
export const conditional = fc.oneof(
  revHeader,
  fc.constantFrom('*', '""', '"', 'W/', 'W/""', ', ,', '"a", *'),
  headerText(),
)
export const lockIdHeader = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(HOLDER, TF_LOCK_ID) },
  { weight: 2, arbitrary: headerText() },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'x'.repeat(257),
      '00000000-0000-0000-0000-000000000000',
      `${HOLDER} `,
      `${HOLDER},${HOLDER}`,
    ),
  },
)
export const contentType = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      JSON_TYPE,
      'application/json; charset=utf-8',
      'application/json; charset=utf-16',
      'application/problem+json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      '*/*',
      'application/json, text/plain',
      ';',
      'application/json;;',
      'APPLICATION/JSON',
      'application/json; a="b',
      'application/jsonx',
      'application/vnd.api+json',
      'application/octet-stream',
    ),
  },
  { weight: 1, arbitrary: headerText() },
  { weight: 1, arbitrary: headerText(20).map((s) => `application/json; ${s}`) },
)
export const md5Header = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom('@MD5@', '@MD5-HEX@', '@MD5-OTHER@', '@MD5@ ', 'AAAAAAAAAAAAAAAAAAAAAA==', '=', ''),
  },
  { weight: 1, arbitrary: headerText(30) },
)
export const contentEncoding = fc.oneof(
  fc.constantFrom('gzip', 'deflate', 'br', 'zstd', 'identity', 'x-garbage', 'gzip, gzip', 'chunked'),
  headerText(20),
)
export const accept = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/problem+json',
    'text/html',
    '*/*',
    'application/xml;q=0.9',
    'text/plain;q=x',
    'application/*',
    'image/png',
  ),
  headerText(30),
)

/** Optional headers of a header case (undefined: not sent). */
export interface HeaderSet {
  readonly 'lock-id'?: string | undefined
  readonly 'if-match'?: string | undefined
  readonly 'if-none-match'?: string | undefined
  readonly 'content-type'?: string | undefined
  readonly 'content-md5'?: string | undefined
  readonly 'content-encoding'?: string | undefined
  readonly accept?: string | undefined
}

export const headerSet: fc.Arbitrary<HeaderSet> = fc.record({
  'lock-id': fc.option(lockIdHeader, { nil: undefined, freq: 2 }),
  'if-match': fc.option(conditional, { nil: undefined, freq: 3 }),
  'if-none-match': fc.option(conditional, { nil: undefined, freq: 3 }),
  'content-type': fc.option(contentType, { nil: undefined, freq: 4 }),
  'content-md5': fc.option(md5Header, { nil: undefined, freq: 3 }),
  'content-encoding': fc.option(contentEncoding, { nil: undefined, freq: 3 }),
  accept: fc.option(accept, { nil: undefined, freq: 3 }),
})

/** A stack a header or body case targets: a seeded one, or a fresh valid name. */
export const stackTarget: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('f1/s1', 'f1/s2', 'f2/tf', 'f2/legacy') },
  { weight: 1, arbitrary: fc.stringMatching(/^fz[a-z0-9]{1,5}$/).map((s) => `f3/${s}`) },
)
export const urlOf = (target: string): string => {
  const [f, s] = target.split('/') as [string, string]
  return stackUrl(f, s)
}
/** The lock id that holds a seeded stack (placeholder or constant), if any. */
export const holderOf = (target: string): string | undefined =>
  target === 'f1/s1' ? HOLDER : target === 'f2/tf' ? TF_LOCK_ID : undefined

/** The operations of the header and body properties: method, path under the stack, body kind. */
export const OPERATIONS: ReadonlyArray<{ readonly method: string; readonly path: string; readonly body: BodyKind }> = [
  { method: 'GET', path: '/current', body: 'none' },
  { method: 'PUT', path: '/current', body: 'set-current' },
  { method: 'GET', path: '/snapshots', body: 'none' },
  { method: 'POST', path: '/snapshots', body: 'snapshot' },
  { method: 'POST', path: '/snapshots?current=true', body: 'snapshot' },
  { method: 'GET', path: `/snapshots/${REV1}`, body: 'none' },
  { method: 'DELETE', path: `/snapshots/${REV0}`, body: 'none' },
  { method: 'POST', path: '/snapshots:gc', body: 'gc' },
  { method: 'POST', path: '/snapshots:prune', body: 'prune' },
  { method: 'POST', path: '/snapshots:restore', body: 'restore' },
  { method: 'GET', path: '/trash', body: 'none' },
  { method: 'GET', path: '/lock', body: 'none' },
  { method: 'POST', path: '/lock', body: 'lock' },
  { method: 'PUT', path: '/lock', body: 'renew' },
  { method: 'DELETE', path: '/lock', body: 'none' },
  { method: 'GET', path: '/terraform', body: 'none' },
  { method: 'POST', path: `/terraform?ID=${TF_LOCK_ID}`, body: 'tf-state' },
  { method: 'PUT', path: '/terraform', body: 'tf-state' },
  { method: 'DELETE', path: '/terraform', body: 'none' },
  { method: 'LOCK', path: '/terraform', body: 'lockinfo' },
  { method: 'UNLOCK', path: '/terraform', body: 'unlockinfo' },
  { method: 'POST', path: '/terraform/lock', body: 'lockinfo' },
  { method: 'DELETE', path: '/terraform/lock', body: 'unlockinfo' },
]
