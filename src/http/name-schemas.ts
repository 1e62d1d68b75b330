/** The schemas of the names in every path: a factory or stack name, and a rev. */
import { Type } from 'typebox'
import { NAME_PATTERN } from '../store/names.js'

/** A factory or stack name (validated again by the store before any path is built). */
export const Name = Type.String({ pattern: NAME_PATTERN, maxLength: 128 })
/** A rev (the store checks it is canonical). */
export const Rev = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z(_[1-9]\\d{0,8})?$',
  maxLength: 40,
  description: 'the write instant, RFC 3339 UTC with nanoseconds as Go renders it, plus _N when instants collide',
  examples: ['2026-07-10T12:00:00.1Z'],
})
