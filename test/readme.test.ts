import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SETTINGS, helpText } from '../src/config.js'
import { startServer } from './helpers/server-process.js'

const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8')
const ci = readFileSync(fileURLToPath(new URL('../.ci/run', import.meta.url)), 'utf8')

/** The fenced code blocks of the README that follow `marker` (or all sh blocks). */
function shBlocks(): string[] {
  return [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim())
}

t.test(
  'the quick start has one command to run the server, one to run the tests, and one that shows the client',
  async (t) => {
    const quick = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## A session with curl'))
    const blocks = [...quick.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim())
    t.same(blocks.slice(0, 2), ['npm ci && npm start', 'npm ci && npm test'])
    t.equal(blocks.length, 3, 'and one that shows the client')
    t.match(blocks[2], /^npx unobin-state run /)
  },
)

t.test('CI runs the README test command', async (t) => {
  t.match(ci, /npm ci\b/)
  t.match(ci, /npm test\b/)
})

t.test('the README and --help document every setting with its flag and variable', async (t) => {
  const help = helpText()
  for (const s of SETTINGS) {
    t.match(readme, `\`--${s.flag}`, `README documents --${s.flag}`)
    t.match(readme, `\`${s.env}\``, `README documents ${s.env}`)
    t.match(help, `--${s.flag}`, `--help lists --${s.flag}`)
    t.match(help, s.env, `--help lists ${s.env}`)
  }
})

t.test('the README curl session runs against a real server', async (t) => {
  const marker = readme.indexOf('<!-- readme-session')
  t.ok(marker > 0, 'the session block is marked')
  const session = /```sh\n([\s\S]*?)```/.exec(readme.slice(marker))![1]!
  t.ok(shBlocks().includes(session.trim()))
  const dir = t.testdir()
  const server = await startServer(['--data-dir', `${dir}/data`])
  t.teardown(() => server.stop())
  const child = spawn('bash', ['-euo', 'pipefail', '-c', session], {
    cwd: dir,
    env: { PATH: process.env.PATH, BASE: server.url },
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const [status] = (await once(child, 'exit')) as [number | null]
  const run = { status, stdout, stderr }
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /^423$/m, 'a write without the lock id was refused with 423')
  t.match(run.stdout, /"forced":true,"who":"ci-job-4711"/, 'force-unlock returned the removed holder')
  const base = `${server.url}/v1/factories/cluster-deploy/stacks/prod`
  const list = (await (await fetch(`${base}/snapshots`)).json()) as { revs: string[]; current: string }
  t.equal(list.revs.length, 2, 'two snapshots were written')
  t.equal(list.current, list.revs[0], 'current was rolled back to the first rev')
  t.equal((await fetch(`${base}/lock`)).status, 404, 'the lock is free at the end')
})
