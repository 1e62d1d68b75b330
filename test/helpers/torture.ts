/**
 * What every torture scenario (test/torture) shares: the mode (short in
 * `npm test`, long for release checks with `npm run torture -- --long`), a
 * seeded generator so a failing run replays from its printed seed, and the
 * figures each scenario reports (cycles survived, operations checked, faults
 * injected, cases fuzzed), which `scripts/torture.mjs` gathers into a table.
 */
import type { Test } from 'tap'
import { appendFileSync } from 'node:fs'

/** `short` runs on every change (CI); `long` is the release soak. */
export type TortureMode = 'short' | 'long'

export const MODE: TortureMode = process.env.UNOBIN_TORTURE_MODE === 'long' ? 'long' : 'short'

/** The value for the current mode. */
export function sized<T>(short: T, long: T): T {
  return MODE === 'long' ? long : short
}

/**
 * A scenario's cycle count: `sized(short, long)`, unless UNOBIN_TORTURE_CYCLES
 * (`npm run torture -- --cycles N`) asks for N, e.g. a long run cut to what a
 * loaded machine finishes in reasonable time (the figures report the count).
 */
export function cycleCount(short: number, long: number): number {
  const asked = Number(process.env.UNOBIN_TORTURE_CYCLES)
  return Number.isSafeInteger(asked) && asked > 0 ? asked : sized(short, long)
}

/**
 * The run's seed: UNOBIN_TORTURE_SEED replays a run; otherwise the short mode
 * uses a fixed one, so `npm test` draws the same cases every time (only
 * timing varies), and the long mode a fresh one, to explore.
 */
export const SEED = Number(
  process.env.UNOBIN_TORTURE_SEED ?? (MODE === 'long' ? Math.floor(Math.random() * 2 ** 31) : 20261125),
)

/** mulberry32: a small seeded generator, so random choices replay from the seed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32
  }
}

/** An integer in [0, n) from `random`. */
export function below(random: () => number, n: number): number {
  return Math.floor(random() * n)
}

/** Figures of one scenario: names to counts (cycles, operations checked, faults injected...). */
export type Figures = Record<string, number>

/**
 * Reports a scenario's figures: as a TAP comment always, and as one JSON line
 * appended to UNOBIN_TORTURE_REPORT when the torture runner set it. Call it
 * after the scenario's checks, so a failed run reports nothing as survived.
 */
export function reportFigures(t: Test, scenario: string, figures: Figures): void {
  const text = Object.entries(figures)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  t.comment(`${scenario} (${MODE}, seed ${SEED}): ${text}`)
  const file = process.env.UNOBIN_TORTURE_REPORT
  if (file !== undefined && file !== '')
    appendFileSync(file, `${JSON.stringify({ scenario, mode: MODE, seed: SEED, figures })}\n`)
}
