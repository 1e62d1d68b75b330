/**
 * What every fuzz file checks around its property: the data root lives in a
 * parent directory next to a sentinel directory the fuzz must never touch;
 * at the end the parent lists the same names, the sentinel holds the same
 * bytes, every filesystem path the store used was inside the root, and the
 * figures are reported (as survived only when everything held).
 */
import { join } from 'node:path'
import { readdirSync } from 'node:fs'
import type { Test } from 'tap'
import { MODE, SEED, reportFigures } from '../../helpers/torture.js'
import { failed, figures } from './settings.js'
import { digestTree } from './tree.js'
import type { World } from './world.js'

/** The parent of one fuzz file's data root, with its sentinel directory. */
export interface FuzzParent {
  readonly parent: string
  /** The data root's directory name under `parent`. */
  readonly dataName: string
  readonly root: string
  readonly sentinelBefore: string
}

/** A testdir holding a sentinel directory; the data root goes next to it as `dataName`. */
export function fuzzParent(t: Test, dataName: string): FuzzParent {
  const parent = t.testdir({
    sentinel: { 'canary.txt': 'the fuzz must never touch this\n', nested: { 'deeper.txt': 'nor this\n' } },
  })
  return { parent, dataName, root: join(parent, dataName), sentinelBefore: digestTree(join(parent, 'sentinel')).text }
}

/** The end checks of one fuzz file, and its figures reported under `scenario` when all held. */
export function endChecks(t: Test, where: FuzzParent, world: World, scenario: string, runs: number): void {
  t.strictSame(readdirSync(where.parent).sort(), [where.dataName, 'sentinel'], 'the parent lists the same names')
  t.equal(
    digestTree(join(where.parent, 'sentinel')).text,
    where.sentinelBefore,
    'the sentinel directory next to the data root is byte-identical',
  )
  t.doesNotThrow(() => world.drain('after the fuzz'), `${world.dir}: every recorded filesystem path is inside the root`)
  t.ok(figures.fsCallsChecked > 0, `${figures.fsCallsChecked} filesystem calls checked`)
  if (failed.length === 0)
    t.ok(figures.casesFuzzed >= runs, `${figures.casesFuzzed} cases fuzzed, at least one per run`)
  t.ok(
    figures.answered4xx > 0 && figures.answered2xx > 0,
    `${figures.answered4xx} answered 4xx, ${figures.answered2xx} answered 2xx/304`,
  )
  // The figures count as survived only when the property and every check held.
  if (t.passing() && failed.length === 0) reportFigures(t, scenario, { ...figures })
  else
    t.comment(
      `not reported as survived (${[...failed, ...(t.passing() ? [] : ['end checks'])].join(', ')} failed): ${JSON.stringify(figures)} (${MODE}, seed ${SEED})`,
    )
}
