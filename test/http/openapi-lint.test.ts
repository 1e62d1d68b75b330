/**
 * The committed openapi.yaml (equal to what the server serves, see
 * openapi.test.ts) passes a real OpenAPI linter, Redocly CLI, with the
 * repository's rules (redocly.yaml: the recommended set with every warning
 * an error, plus a few) and nothing but the findings justified in
 * .redocly.lint-ignore.yaml.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { parse, stringify } from 'yaml'
import { REPO, runBin } from '../helpers/package-bin.js'

/** Redocly's report in --format=json. */
interface LintReport {
  readonly totals: { readonly errors: number; readonly warnings: number; readonly ignored: number }
  readonly problems: ReadonlyArray<{
    readonly ruleId: string
    readonly message: string
    readonly location?: ReadonlyArray<{ readonly pointer?: string }>
  }>
}

/** No usage data sent and no update check: the linter runs offline, as in CI. */
const QUIET = { REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' }

async function lint(file: string): Promise<{ code: number | null; report: LintReport; stderr: string }> {
  const run = await runBin(
    '@redocly/cli',
    'redocly',
    ['lint', file, '--config', join(REPO, 'redocly.yaml'), '--format=json'],
    { env: QUIET },
  )
  let report: LintReport
  try {
    report = JSON.parse(run.stdout) as LintReport
  } catch {
    throw new Error(
      `redocly printed no JSON report (exit ${run.code}): ${run.stdout.slice(0, 500)} ${run.stderr.slice(-500)}`,
    )
  }
  return { code: run.code, report, stderr: run.stderr }
}

t.test('openapi.yaml lints with no error and no warning', async (t) => {
  const { code, report } = await lint('openapi.yaml')
  const found = report.problems.map((p) => `${p.ruleId} at ${p.location?.[0]?.pointer ?? '?'}: ${p.message}`)
  t.strictSame(
    found,
    [],
    'fix the route schemas (or justify a finding in .redocly.lint-ignore.yaml), then npm run openapi',
  )
  t.equal(report.totals.errors, 0, 'errors')
  t.equal(report.totals.warnings, 0, 'warnings')
  t.equal(code, 0, 'the linter exits 0')
})

t.test('the linter refuses a document that breaks a rule', async (t) => {
  const doc = parse(await readFile(join(REPO, 'openapi.yaml'), 'utf8')) as {
    paths: Record<string, Record<string, { operationId?: string }>>
  }
  const get = doc.paths['/v1/factories']?.get
  if (get === undefined) return t.fail('GET /v1/factories is in the document')
  delete get.operationId
  const file = join(t.testdir(), 'broken.yaml')
  await writeFile(file, stringify(doc))
  const { code, report } = await lint(file)
  t.ok(
    report.problems.some(
      (p) =>
        p.ruleId === 'operation-operationId' && p.location?.[0]?.pointer === '#/paths/~1v1~1factories/get/operationId',
    ),
    'the missing operationId is reported',
  )
  t.not(code, 0, 'the linter exits non-zero')
})
