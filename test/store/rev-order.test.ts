/**
 * The rev order is one rule (`compareParsedRevs`): `compareRevs` (paging
 * with `?after=`) and `sortRevs` (listing) must agree on every pair, and
 * suffixes order numerically after their instant.
 */
import t from 'tap'
import { compareParsedRevs, compareRevs, parseRev, sortRevs } from '../../src/store/rev.js'
import { fixture } from '../helpers/store.js'

const T0 = '2026-07-10T12:00:00Z'
const sortGolden = JSON.parse(fixture('revision-sort.json').toString('utf8')) as { input: string[]; output: string[] }

t.test('suffixes order numerically after their instant: Z < Z_1 < Z_2 < Z_10', async (t) => {
  const ordered = [T0, `${T0}_1`, `${T0}_2`, `${T0}_10`]
  t.same(sortRevs([...ordered].reverse()), ordered)
  for (let i = 1; i < ordered.length; i++) {
    t.ok(compareRevs(ordered[i - 1]!, ordered[i]!) < 0, `${ordered[i - 1]} before ${ordered[i]}`)
    t.ok(
      compareParsedRevs(parseRev(ordered[i]!)!, parseRev(ordered[i - 1]!)!) > 0,
      `${ordered[i]} after ${ordered[i - 1]} when parsed`,
    )
  }
})

t.test('a later instant orders after every suffix of an earlier one', async (t) => {
  t.ok(compareRevs(`${T0}_9`, '2026-07-10T12:00:00.000000001Z') < 0)
})

t.test('compareRevs agrees with sortRevs on every pair of the Go golden input', async (t) => {
  const position = new Map(sortRevs(sortGolden.input).map((name, i) => [name, i]))
  let pairs = 0
  for (const a of sortGolden.input) {
    for (const b of sortGolden.input) {
      const byPosition = Math.sign(position.get(a)! - position.get(b)!)
      if (Math.sign(compareRevs(a, b)) !== byPosition) t.fail(`compareRevs(${a}, ${b}) disagrees with sortRevs`)
      pairs++
    }
  }
  t.ok(pairs > 0, `${pairs} pairs compared`)
})

t.test('sorting with compareRevs gives the Go golden order', async (t) => {
  t.same([...sortGolden.input].sort(compareRevs), sortGolden.output)
})
