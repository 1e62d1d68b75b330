/**
 * The real Terraform (on PATH; 1.11 on the project's machines) under
 * `unobin-state run`: a plain `backend "http" {}` with no other
 * configuration reads and writes the stack under run's lock, with the token
 * as its password. Two runs started together in two directories both
 * succeed, one after the other, and the history holds both states in order.
 * `terraform_data` needs no provider download.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { newToken, tokensFileText } from '../helpers/auth.js'
import { startClient } from '../helpers/client-process.js'
import { startServer } from '../helpers/server-process.js'

const version = execFileSync('terraform', ['version', '-json'], {
  env: { PATH: process.env.PATH, CHECKPOINT_DISABLE: '1' },
}).toString()
t.comment(`terraform ${(JSON.parse(version) as { terraform_version: string }).terraform_version}`)

const token = newToken()
const dir = t.testdir()
writeFileSync(
  join(dir, 'tokens.yaml'),
  tokensFileText([{ name: 'ci', token, grants: [{ scope: 'tf/*', allow: ['read', 'write', 'lock'] }] }]),
)
writeFileSync(join(dir, 'terraformrc'), '')
const server = await startServer(['--data-dir', join(dir, 'data'), '--tokens-file', join(dir, 'tokens.yaml')])
t.teardown(() => server.stop())

/** A working directory with a plain http backend and one terraform_data whose output is `value`. */
function workdir(name: string, value: string): string {
  const path = join(dir, name)
  mkdirSync(path)
  writeFileSync(
    join(path, 'main.tf'),
    `terraform {
  backend "http" {}
}

resource "terraform_data" "app" {
  input = "${value}"
}

output "app" {
  value = terraform_data.app.output
}
`,
  )
  return path
}

t.test(
  'two concurrent runs of terraform apply with backend "http" {} both succeed, one after the other, and history holds both states',
  async (t) => {
    const runs = ['first', 'second'].map((name) => {
      const cwd = workdir(name, `value-${name}`)
      return startClient(
        t,
        [
          'run',
          'tf/app',
          '--who',
          name,
          '--',
          'sh',
          '-c',
          'terraform init -input=false -no-color && terraform apply -auto-approve -input=false -no-color',
        ],
        {
          UNOBIN_STATE_URL: server.url,
          UNOBIN_STATE_TOKEN: token,
          TF_IN_AUTOMATION: '1',
          CHECKPOINT_DISABLE: '1',
          TF_DATA_DIR: join(cwd, '.terraform'),
          TF_CLI_CONFIG_FILE: join(dir, 'terraformrc'),
        },
        { cwd },
      )
    })
    const [a, b] = await Promise.all(runs.map((r) => r.exited))
    t.equal(a!.code, 0, a!.stdout + a!.stderr)
    t.equal(b!.code, 0, b!.stdout + b!.stderr)
    for (const r of [a!, b!]) t.match(r.stdout, /Apply complete!/)

    const headers = { authorization: `Bearer ${token}` }
    const base = `${server.url}/v1/factories/tf/stacks/app`
    const list = (await (await fetch(`${base}/snapshots`, { headers })).json()) as { revs: string[]; current: string }
    t.equal(list.revs.length, 2, 'one state per apply')
    t.equal(list.current, list.revs[1])
    const states = await Promise.all(
      list.revs.map(
        async (rev) =>
          (await (await fetch(`${base}/snapshots/${rev}`, { headers })).json()) as {
            serial: number
            lineage: string
            outputs: { app: { value: string } }
          },
      ),
    )
    t.same(
      states.map((s) => s.serial),
      [1, 2],
      "the second apply read the first one's state: they ran one after the other",
    )
    t.equal(states[0]!.lineage, states[1]!.lineage)
    t.same(
      states.map((s) => s.outputs.app.value).sort(),
      ['value-first', 'value-second'],
      'each apply wrote its own value',
    )
    t.equal((await fetch(`${base}/lock`, { headers })).status, 404, 'both locks were released')
  },
)
