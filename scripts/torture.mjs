#!/usr/bin/env node
// `npm run torture [-- --long] [-- --seed N] [-- --only NAME] [-- --cycles N]`:
// runs the torture scenarios (test/torture) on their own, in the short mode
// `npm test` also runs or in the long release mode, then prints the figures
// every scenario reported (cycles survived, operations checked, faults
// injected, cases fuzzed, the worst first answer after a restart) and writes
// them to bench/torture-results.json; a passing long run also writes its rows
// into the table of BENCHMARKS.md (a run of some scenarios replaces only
// theirs, and each row says when, how long and with how many cycles it ran).
// Exits with tap's status: figures are only reported by scenarios that passed.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../', import.meta.url))
const args = process.argv.slice(2)
const long = args.includes('--long')
/** The value after `flag`, or undefined when the flag is absent. */
const flagValue = (flag) => (args.indexOf(flag) >= 0 ? (args[args.indexOf(flag) + 1] ?? '') : undefined)
const seed = flagValue('--seed')
const only = flagValue('--only')
const cycles = flagValue('--cycles')
const bad =
  (seed !== undefined && !/^\d+$/.test(seed)) ||
  (cycles !== undefined && !/^[1-9]\d*$/.test(cycles)) ||
  (only !== undefined && !existsSync(join(repo, 'test/torture', `${only}.test.ts`)))
if (args.includes('--help') || bad) {
  console.log(
    [
      'usage: npm run torture [-- --long] [-- --seed N] [-- --only NAME] [-- --cycles N]',
      '  --long      the release soak (200 kill cycles, 30 lease pauses, more faults and fuzz cases)',
      '  --seed N    replay the random choices of an earlier run (its seed is printed)',
      '  --only NAME run one scenario, test/torture/NAME.test.ts (server-kill, replicas, lease-pause, fs-fault-sweep, fuzz)',
      "  --cycles N  the kill -9 and lease-pause scenarios run N cycles instead of their mode's count",
    ].join('\n'),
  )
  process.exit(bad ? 2 : 0)
}

const work = mkdtempSync(join(tmpdir(), 'torture-'))
const report = join(work, 'figures.jsonl')
writeFileSync(report, '')
const env = { ...process.env, UNOBIN_TORTURE_MODE: long ? 'long' : 'short', UNOBIN_TORTURE_REPORT: report }
if (seed !== undefined) env.UNOBIN_TORTURE_SEED = seed
if (cycles !== undefined) env.UNOBIN_TORTURE_CYCLES = cycles
const started = Date.now()
// One file at a time: the scenarios start server processes and would starve each other on a small machine.
const tap = spawnSync(
  join(repo, 'node_modules/.bin/tap'),
  [
    '--disable-coverage',
    '--jobs',
    '1',
    '--timeout',
    long ? '7200' : '600',
    only === undefined ? 'test/torture' : `test/torture/${only}.test.ts`,
  ],
  { cwd: repo, env, stdio: 'inherit' },
)
const seconds = Math.round((Date.now() - started) / 1000)

const rows = readFileSync(report, 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l))
rmSync(work, { recursive: true, force: true })
const mode = long ? 'long' : 'short'
const run = `${new Date().toISOString().slice(0, 10)}, ${mode}${cycles === undefined ? '' : ` --cycles ${cycles}`}, ${seconds} s`
const row = (r) =>
  `| ${r.scenario} | ${run} | ${r.seed} | ${Object.entries(r.figures)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')} |`
const head = ['| scenario | run | seed | figures |', '| --- | --- | --- | --- |']
const table = [...head, ...rows.map(row)].join('\n')
console.log(`\ntorture (${mode} mode, ${seconds} s, exit ${tap.status}):\n\n${table}\n`)

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`
writeFileSync(
  join(repo, 'bench', 'torture-results.json'),
  `${JSON.stringify({ date: new Date().toISOString(), machine, mode, cycles: cycles === undefined ? null : Number(cycles), seconds, passed: tap.status === 0, rows }, null, 2)}\n`,
)
// Only a passing long run replaces release figures in BENCHMARKS.md, and only the rows of the scenarios it ran.
if (tap.status === 0 && long) {
  const path = join(repo, 'BENCHMARKS.md')
  const doc = readFileSync(path, 'utf8')
  const old = /<!-- torture:start -->([\s\S]*)<!-- torture:end -->/.exec(doc)?.[1] ?? ''
  const ran = new Set(rows.map((r) => r.scenario))
  const kept = old
    .split('\n')
    .filter((l) => /^\| [^-|]/.test(l) && !l.startsWith('| scenario |'))
    .filter((l) => l.split(' | ').length === 4 && !ran.has(l.slice(2, l.indexOf(' | '))))
  const merged = [...head, ...kept, ...rows.map(row)].join('\n')
  const block = `<!-- torture:start -->\nLatest \`npm run torture -- --long\` figures per scenario (${machine}; each row: its run's date, mode, cycle count when reduced with \`--cycles\`, and duration; all its checks passed):\n\n${merged}\n<!-- torture:end -->`
  writeFileSync(path, doc.replace(/<!-- torture:start -->[\s\S]*<!-- torture:end -->/, block))
  console.log('wrote bench/torture-results.json and the rows in BENCHMARKS.md')
}
process.exitCode = tap.status ?? 1
