import t from 'tap'
import { formatInstant } from '../../src/time/instant.js'
import { fixture } from '../helpers/store.js'

interface InstantCase {
  readonly rfc3339nano: string
  readonly 'unix-nanos': string
}

const instants = JSON.parse(fixture('rfc3339nano.json').toString('utf8')) as InstantCase[]

t.test('formatInstant renders every Go RFC3339Nano fixture exactly', async (t) => {
  t.ok(instants.length > 0)
  for (const c of instants) t.equal(formatInstant(BigInt(c['unix-nanos'])), c.rfc3339nano, c.rfc3339nano)
})

t.test('formatInstant refuses instants outside the years 0000-9999', async (t) => {
  t.throws(() => formatInstant(253402300800n * 1_000_000_000n), RangeError)
  t.throws(() => formatInstant(-62167219201n * 1_000_000_000n), RangeError)
})
