/** What a hostile request is (a row: the request and its exact answer), the placeholders filled from the seeded stack, and the builders the tables share. */
import { stackUrl } from '../../helpers/app.js'

export function withEntries(entries: unknown[]): string {
  return JSON.stringify({
    'format-version': 1,
    factory: { name: 'f', version: '1', 'content-revision': 'x' },
    stack: 'dev',
    'generated-at': '2026-07-10T12:00:00Z',
    entries,
    outputs: {},
  })
}
export const entry = (over: Record<string, unknown>): Record<string, unknown> => ({
  address: 'a.b',
  'entry-kind': 'leaf',
  category: 'resource',
  binding: { alias: 'aws', kind: 'vpc' },
  ...over,
})
export const doc = (over: Record<string, unknown>): string =>
  JSON.stringify({ ...(JSON.parse(withEntries([entry({})])) as Record<string, unknown>), ...over })

export const BODY_LIMIT = 2048
export const S = stackUrl()
export const JSON_TYPE = 'application/json'
/** Stands for the seeded holder's lock id (so a refusal proves the hostile part, not the fence). */
export const HOLDER = '<holder>'
/** Stands for the first seeded rev (not current). */
export const OLD_REV = '<old-rev>'
/** Stands for the current rev. */
export const CUR_REV = '<current-rev>'

export interface Row {
  readonly name: string
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'PROPFIND'
  readonly url: string
  readonly body?: string | Buffer
  readonly type?: string
  readonly headers?: Record<string, string>
  readonly status: number
  readonly code: string
}

export const snap = (name: string, body: string | Buffer, status: number, code: string): Row => ({
  name,
  method: 'POST',
  url: `${S}/snapshots`,
  body,
  type: JSON_TYPE,
  headers: { 'lock-id': HOLDER },
  status,
  code,
})
/** A JSON request to `path` of the stack, presenting the seeded holder's lock id, so only the hostile part can be refused. */
export const fenced = (
  name: string,
  method: Row['method'],
  path: string,
  body: string | Buffer,
  status: number,
  code: string,
): Row => ({ name, method, url: `${S}${path}`, body, type: JSON_TYPE, headers: { 'lock-id': HOLDER }, status, code })
export const lockPost = (name: string, body: string, status: number, code: string, query = ''): Row => ({
  name,
  method: 'POST',
  url: `${S}/lock${query}`,
  body,
  type: JSON_TYPE,
  status,
  code,
})
