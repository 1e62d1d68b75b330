/**
 * diff, outputs and whoami as client processes against a real server
 * process: the human and JSON forms, one output for a shell, and sensitive
 * values that never come out.
 */
import t from 'tap'
import { runClient } from '../helpers/client-process.js'
import { startServer } from '../helpers/server-process.js'
import { sampleSnapshot } from '../helpers/store.js'

const server = await startServer(['--data-dir', t.testdir()])
t.teardown(() => server.stop())
const env = { UNOBIN_STATE_URL: server.url }
const cli = (args: string[]) => runClient(t, args, env)
t.jobs = 3

/** Writes a unobin snapshot over HTTP and makes it current; returns its rev. */
async function seed(stack: string, marker: string): Promise<string> {
  const res = await fetch(`${server.url}/v1/factories/insp/stacks/${stack}/snapshots?current=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: sampleSnapshot(marker, stack),
  })
  return ((await res.json()) as { rev: string }).rev
}

/** Writes a Terraform state with a plain and a sensitive output through the Terraform route. */
async function seedTerraform(stack: string, serial: number, secret: string): Promise<void> {
  const state = {
    version: 4,
    terraform_version: '1.11.4',
    serial,
    lineage: '7b0c1e2a-0000-4000-8000-000000000001',
    outputs: {
      endpoint: { value: `https://db-${serial}.example`, type: 'string' },
      password: { value: secret, type: 'string', sensitive: true },
      ports: { value: [5432], type: ['list', 'number'] },
    },
    resources: [],
    check_results: null,
  }
  const res = await fetch(`${server.url}/v1/factories/insp/stacks/${stack}/terraform`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(state),
  })
  if (res.status !== 200) throw new Error(`terraform write: ${res.status}`)
}

t.test('diff shows what changed between two revs, for people and as JSON', async (t) => {
  const first = await seed('d', 'one')
  const second = await seed('d', 'two')
  const [human, json, pinned, unknown] = await Promise.all([
    cli(['diff', 'insp/d']),
    cli(['diff', 'insp/d', '--json']),
    cli(['diff', 'insp/d', second, first, '--json']),
    cli(['diff', 'insp/d', '2020-01-01T00:00:00Z']),
  ])
  t.equal(human.code, 0, human.stderr)
  t.match(human.stdout, `--- ${first}`)
  t.match(human.stdout, `+++ ${second}`)
  t.match(human.stdout, /~ network\.vpc\n.*"vpc-one" -> "vpc-two"/)
  const diff = JSON.parse(json.stdout) as { from: { rev: string }; to: { rev: string }; summary: { changed: number } }
  t.equal(diff.from.rev, first)
  t.equal(diff.to.rev, second)
  t.equal(diff.summary.changed, 1)
  t.equal((JSON.parse(pinned.stdout) as { from: { rev: string } }).from.rev, second, 'FROM and TO are taken as given')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /^unobin-state: rev-not-found: /)
})

t.test('outputs lists values, prints one bare with --raw, and never a sensitive value', async (t) => {
  const secret = 'hunter2-very-secret'
  await seedTerraform('o', 1, secret)
  const [table, raw, list, json, sensitive, missing] = await Promise.all([
    cli(['outputs', 'insp/o']),
    cli(['outputs', 'insp/o', 'endpoint', '--raw']),
    cli(['outputs', 'insp/o', 'ports', '--raw']),
    cli(['outputs', 'insp/o', '--json']),
    cli(['outputs', 'insp/o', 'password', '--raw']),
    cli(['outputs', 'insp/o', 'nope']),
  ])
  t.equal(table.code, 0, table.stderr)
  t.match(
    table.stdout,
    /^NAME\s+VALUE\nendpoint\s+"https:\/\/db-1\.example"\npassword\s+"\(sensitive\)"\nports\s+\[5432\]\n$/,
  )
  t.equal(raw.stdout, 'https://db-1.example', 'a string comes out bare, for $(…)')
  t.equal(list.stdout, '[5432]\n')
  t.match(JSON.parse(json.stdout), { kind: 'terraform', outputs: { password: { sensitive: true } } })
  t.equal(sensitive.code, 1)
  t.match(sensitive.stderr, /^unobin-state: sensitive-output: /)
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^unobin-state: no-such-output: .*\(it has: endpoint, password, ports\)/)
  for (const r of [table, raw, list, json, sensitive, missing])
    t.notOk(r.stdout.includes(secret) || r.stderr.includes(secret), 'the sensitive value never comes out')
})

t.test('whoami names the caller and what it may do at a scope', async (t) => {
  const [human, json, bad] = await Promise.all([
    cli(['whoami']),
    cli(['whoami', 'insp/o', '--json']),
    cli(['whoami', 'a/b/c']),
  ])
  t.equal(human.code, 0, human.stderr)
  t.match(
    human.stdout,
    /^anonymous \(anonymous: the server has no credentials configured\)\nmay on every factory: read, /,
  )
  t.match(JSON.parse(json.stdout), { principal: 'anonymous', scope: { factory: 'insp', stack: 'o' } })
  t.equal(bad.code, 2)
})
