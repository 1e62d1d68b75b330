#!/usr/bin/env node
// `npm run torture [-- --long] [-- --seed N]`: runs the torture scenarios
// (test/torture) on their own, in the short mode `npm test` also runs or in
// the long release mode, then prints the figures every scenario reported
// (cycles survived, operations checked, faults injected, cases fuzzed) and
// writes them to bench/torture-results.json; a passing long run also writes
// them into BENCHMARKS.md.
// Exits with tap's status: figures are only reported by scenarios that passed.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../', import.meta.url))
const args = process.argv.slice(2)
const long = args.includes('--long')
const seedAt = args.indexOf('--seed')
const seed = seedAt >= 0 ? args[seedAt + 1] : undefined
if (args.includes('--help') || (seedAt >= 0 && !/^\d+$/.test(seed ?? ''))) {
  console.log(
    'usage: npm run torture [-- --long] [-- --seed N]\n  --long    the release soak (200 kill cycles, 30 lease pauses, more faults and fuzz cases)\n  --seed N  replay the random choices of an earlier run (its seed is printed)',
  )
  process.exit(seedAt >= 0 ? 2 : 0)
}

const work = mkdtempSync(join(tmpdir(), 'torture-'))
const report = join(work, 'figures.jsonl')
writeFileSync(report, '')
const env = { ...process.env, UNOBIN_TORTURE_MODE: long ? 'long' : 'short', UNOBIN_TORTURE_REPORT: report }
if (seed !== undefined) env.UNOBIN_TORTURE_SEED = seed
const started = Date.now()
// One file at a time: the scenarios start server processes and would starve each other on a small machine.
const tap = spawnSync(
  join(repo, 'node_modules/.bin/tap'),
  ['--disable-coverage', '--jobs', '1', '--timeout', long ? '7200' : '600', 'test/torture'],
  { cwd: repo, env, stdio: 'inherit' },
)
const seconds = Math.round((Date.now() - started) / 1000)

const rows = readFileSync(report, 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l))
rmSync(work, { recursive: true, force: true })
const mode = long ? 'long' : 'short'
const lines = rows.map(
  (r) =>
    `| ${r.scenario} | ${r.seed} | ${Object.entries(r.figures)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')} |`,
)
const table = ['| scenario | seed | figures |', '| --- | --- | --- |', ...lines].join('\n')
console.log(`\ntorture (${mode} mode, ${seconds} s, exit ${tap.status}):\n\n${table}\n`)

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`
writeFileSync(
  join(repo, 'bench', 'torture-results.json'),
  `${JSON.stringify({ date: new Date().toISOString(), machine, mode, seconds, passed: tap.status === 0, rows }, null, 2)}\n`,
)
// Only a passing long run replaces the release figures in BENCHMARKS.md; a short run just prints its own.
if (tap.status === 0 && long) {
  const path = join(repo, 'BENCHMARKS.md')
  const doc = readFileSync(path, 'utf8')
  const block = `<!-- torture:start -->\nLatest \`npm run torture${long ? ' -- --long' : ''}\` (${new Date().toISOString().slice(0, 10)}, ${machine}, ${mode} mode, ${seconds} s, all scenarios passed):\n\n${table}\n<!-- torture:end -->`
  writeFileSync(path, doc.replace(/<!-- torture:start -->[\s\S]*<!-- torture:end -->/, block))
  console.log('wrote bench/torture-results.json and the table in BENCHMARKS.md')
}
process.exitCode = tap.status ?? 1
