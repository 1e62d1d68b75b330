/** A model of the router: URL normalisation and encodings, the route table, and what each request must be answered. */
import type { RouteEntry } from '../../../src/http/auth.js'
import { MAX_PARAM_LENGTH, NAME } from './settings.js'
import { pathOf } from './exchange.js'

// --- encodings and the router model ------------------------------------------------

export type Encoding = 'component' | 'bytes' | 'double' | 'raw' | 'specials' | 'overlong'

export const hex = (b: number, upper: boolean): string => {
  const h = b.toString(16).padStart(2, '0')
  return `%${upper ? h.toUpperCase() : h}`
}

/** encodeURIComponent, or every UTF-8 byte escaped where it refuses. */
export function component(s: string): string {
  try {
    return encodeURIComponent(s)
  } catch {
    return [...Buffer.from(s, 'utf8')].map((b) => hex(b, true)).join('')
  }
}

/** How a decoded intent travels in the path. */
export function encode(intent: string, encoding: Encoding, upper: boolean): string {
  switch (encoding) {
    case 'component':
      return component(intent)
    case 'bytes':
      return [...Buffer.from(intent, 'utf8')].map((b) => hex(b, upper)).join('')
    case 'double':
      return component(component(intent))
    case 'raw':
      return intent
    case 'specials': {
      const map: Record<string, string> = {
        '.': hex(0x2e, upper),
        '/': hex(0x2f, upper),
        '\\': hex(0x5c, upper),
        '\u0000': '%00',
        '%': '%25',
        ' ': '%20',
        '?': hex(0x3f, upper),
        '#': '%23',
      }
      return [...intent].map((c) => map[c] ?? c).join('')
    }
    case 'overlong': {
      const map: Record<string, string> = {
        '.': upper ? '%C0%AE' : '%c0%ae',
        '/': upper ? '%C0%AF' : '%c0%af',
        '\\': upper ? '%C1%9C' : '%c1%9c',
      }
      return [...intent].map((c) => map[c] ?? component(c)).join('')
    }
  }
}

export interface Template {
  readonly method: string
  readonly url: string
  readonly segs: ReadonlyArray<{ readonly text: string } | { readonly param: string }>
}

/** The route table as the router sees it (`::` is a literal colon). */
export function templatesOf(routes: readonly RouteEntry[]): Template[] {
  return routes.map((r) => ({
    method: r.method,
    url: r.url,
    segs: r.url
      .replaceAll('::', '\u0000')
      .split('/')
      .slice(1)
      .map((s) => (s.startsWith(':') ? { param: s.slice(1) } : { text: s.replaceAll('\u0000', ':') })),
  }))
}

/**
 * The shape the route schema checks a rev against; a rev of this shape that
 * is not canonical (`.10Z`, February 30) passes the schema and is refused by
 * the store, after the query and headers were validated.
 */
export const REV_SHAPE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z(_[1-9]\d{0,8})?$/

/** A canonical rev, as the README defines it (checked independently of src/store/rev.ts). */
export function isCanonicalRev(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z(?:_([1-9]\d{0,8}))?$/.exec(s)
  if (m === null) return false
  const [, y, mo, d, h, mi, se, frac] = m
  if (frac?.endsWith('0')) return false
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  if (month < 1 || month > 12 || day < 1) return false
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!
  return day <= days && Number(h) <= 23 && Number(mi) <= 59 && Number(se) <= 59
}

/** The console's asset file names, as `GET /ui/assets/:file` validates them. */
export const ASSET_NAME = /^[A-Za-z0-9._-]{1,128}$/

export type Expectation =
  | { readonly kind: 'bad-url' }
  | { readonly kind: 'no-route' }
  | { readonly kind: 'too-long'; readonly param: string }
  | {
      readonly kind: 'invalid'
      readonly code: 'invalid-name' | 'invalid-rev'
      readonly param: string
      readonly value: string
      readonly schemaPasses: boolean
    }
  | { readonly kind: 'valid'; readonly route: string }

/**
 * What the server must answer for `method url`, from a model of the path's
 * journey: the client normalises the URL (WHATWG: dot segments, `\` as `/`,
 * tabs and newlines dropped, unsafe characters escaped), the router rejects
 * a path that does not percent-decode, matches static segments after
 * decodeURI and parameters up to the next `/` (refusing a decoded parameter
 * longer than 256 characters with 414), and the params are then validated in
 * order: factory, stack, rev.
 */
export function expectationOf(method: string, url: string, templates: readonly Template[]): Expectation {
  const path = pathOf(url)
  try {
    decodeURI(path)
  } catch {
    return { kind: 'bad-url' }
  }
  const segs = path.split('/').slice(1)
  let candidates = templates.filter((tpl) => tpl.method === method)
  const params: Array<[string, string]> = []
  for (let i = 0; i < segs.length && candidates.length > 0; i++) {
    const seg = segs[i]!
    const statics = candidates.filter((tpl) => {
      const s = tpl.segs[i]
      return s !== undefined && 'text' in s && s.text === decodeURI(seg)
    })
    if (statics.length > 0) {
      candidates = statics
      continue
    }
    const parametric = candidates.filter((tpl) => {
      const s = tpl.segs[i]
      return s !== undefined && 'param' in s
    })
    if (parametric.length === 0) return { kind: 'no-route' }
    let value: string
    try {
      value = decodeURIComponent(seg)
    } catch {
      return { kind: 'bad-url' }
    }
    const name = (parametric[0]!.segs[i] as { param: string }).param
    if (value.length > MAX_PARAM_LENGTH) return { kind: 'too-long', param: name }
    params.push([name, value])
    candidates = parametric
  }
  const matched = candidates.find((tpl) => tpl.segs.length === segs.length)
  if (matched === undefined) return { kind: 'no-route' }
  for (const [name, value] of params) {
    if ((name === 'factory' || name === 'stack') && !NAME.test(value))
      return { kind: 'invalid', code: 'invalid-name', param: name, value, schemaPasses: false }
    if (name === 'rev' && !isCanonicalRev(value))
      return {
        kind: 'invalid',
        code: 'invalid-rev',
        param: name,
        value,
        schemaPasses: REV_SHAPE.test(value) && value.length <= 40,
      }
    // The console's asset names (GET /ui/assets/:file) are refused like names when they leave the asset alphabet.
    if (name === 'file' && !ASSET_NAME.test(value))
      return { kind: 'invalid', code: 'invalid-name', param: name, value, schemaPasses: false }
  }
  return { kind: 'valid', route: `${matched.method} ${matched.url}` }
}
