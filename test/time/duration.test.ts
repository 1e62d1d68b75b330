import t from 'tap'
import { parseDuration } from '../../src/time/duration.js'

const DAY = 86_400_000

t.test('durations are seconds or a number with s, m, h or d', async (t) => {
  t.same(['90', '90s', '15m', '12h', '30d', '1w', '', '-1', '1.5h'].map(parseDuration), [
    90_000,
    90_000,
    900_000,
    43_200_000,
    30 * DAY,
    undefined,
    undefined,
    undefined,
    undefined,
  ])
})
