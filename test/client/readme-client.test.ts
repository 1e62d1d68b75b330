/** The README's Client section tells the truth: every command, the exit codes, and CI jobs that use `run`. */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { EXIT } from '../../src/client/exit-codes.js'
import { buildProgram } from '../../src/client/program.js'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const section = readme.slice(readme.indexOf('## Client'), readme.indexOf('## Configuration'))

t.test('the Client section lists every command of the client', async (t) => {
  const program = buildProgram(async () => {}, { out: () => {}, err: () => {} })
  const names = program.commands.map((c) => c.name())
  t.ok(names.length >= 14)
  for (const name of names) t.match(section, new RegExp(`^\\| \`${name}( |\`)`, 'm'), `README documents ${name}`)
})

t.test('the Client section lists the exit codes the client uses', async (t) => {
  for (const [name, code] of Object.entries(EXIT))
    t.match(section, new RegExp(`^\\| ${code} \\| `, 'm'), `exit ${code} (${name})`)
})

t.test('the GitHub Actions and GitLab CI jobs parse and use run with a CI identity', async (t) => {
  const jobs = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Record<string, unknown>)
  t.equal(jobs.length, 2)
  const github = JSON.stringify(jobs[0])
  t.match(github, /"id-token":"write"/)
  t.match(github, /unobin-state --oidc-audience \S+ run cluster-deploy\/prod --ttl 120 -- sh -c/)
  const gitlab = JSON.stringify(jobs[1])
  t.match(gitlab, /"id_tokens":\{"STATE_ID_TOKEN"/)
  t.match(gitlab, /unobin-state --oidc-token-env STATE_ID_TOKEN run cluster-deploy\/prod --ttl 120 -- sh -c/)
})
