/**
 * The client's commands as processes against a real server process (no
 * credentials configured): outputs, JSON, and the exit code of each error.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { sampleSnapshot } from '../helpers/store.js'
import { runClient, runInProcess } from '../helpers/client-process.js'
import { clientTestbed } from '../helpers/client-testbed.js'

const { server, env, files, snapshot, cli, seed } = await clientTestbed(t)
/** The revs and current of a stack, over HTTP. */
const revsOf = async (stack: string): Promise<{ revs: string[]; current: string | null }> => {
  const [f, s] = stack.split('/')
  return (await fetch(`${server.url}/v1/factories/${f}/stacks/${s}/snapshots`)).json() as Promise<{
    revs: string[]
    current: string | null
  }>
}
// Every behaviour uses its own stacks, so they run side by side: each client process costs little CPU but about a second of wall time on a loaded machine.
t.jobs = 6

t.test('every command answers --help with its usage, the environment and the exit codes', async (t) => {
  const commands = [
    'stacks',
    'history',
    'show',
    'pull',
    'diff',
    'outputs',
    'whoami',
    'holder',
    'push',
    'rollback',
    'gc',
    'prune',
    'lock',
    'renew',
    'unlock',
    'force-unlock',
    'run',
  ]
  const process = await cli(['--help'])
  const results = [
    process,
    await cli(['run', '--help']),
    ...(await Promise.all(commands.map((c) => runInProcess([c, '--help'], env)))),
  ]
  for (const [i, r] of results.entries()) {
    t.equal(r.code, 0, `${['the program', 'run (process)', ...commands][i]} --help exits 0`)
    t.match(r.stdout, /Usage: unobin-state/)
    t.match(r.stdout, /Exit codes:\n {2}0 {2}success/)
    t.match(r.stdout, /UNOBIN_STATE_URL/)
  }
  t.match(process.stdout, /run \[options\] <factory\/stack> \[command\.\.\.\]/, 'the program help lists run')
})

t.test('usage errors exit 2 with one line', async (t) => {
  const cases = [
    ['nonsense'],
    ['history'],
    ['history', 'no-slash'],
    ['history', '../x'],
    ['lock', 'f/s', '--ttl', 'soon'],
    ['gc', 'f/s'],
    ['stacks', '--no-such-option'],
    ['run', 'f/s'],
  ]
  const results = await Promise.all(cases.map((args, i) => (i === 0 ? cli(args) : runInProcess(args, env))))
  for (const [i, args] of cases.entries()) {
    const r = results[i]!
    t.equal(r.code, 2, `${args.join(' ')} exits 2`)
    t.match(r.stderr, /^unobin-state: usage: /, `${args.join(' ')} says what is wrong`)
    t.equal(r.stderr.trim().split('\n').length, 1, 'in one line')
  }
})

t.test('an unreachable server exits 1 with one line naming the server', async (t) => {
  const r = await runClient(t, ['stacks'], { UNOBIN_STATE_URL: 'http://127.0.0.1:9' })
  t.equal(r.code, 1)
  t.match(r.stderr, /^unobin-state: unreachable: cannot reach http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/)
})

t.test('push stores a rev, and history lists it as current, in a table and as JSON', async (t) => {
  const pushed = await cli(['push', 'hist/s', snapshot('h1'), '--current'])
  t.equal(pushed.code, 0, pushed.stderr)
  const rev = /rev (\S+) \(now current\)/.exec(pushed.stdout)?.[1]
  t.ok(rev, 'push prints the new rev')
  const second = await cli(['--json', 'push', 'hist/s', snapshot('h2')])
  const rev2 = (JSON.parse(second.stdout) as { rev: string; current: boolean }).rev
  t.same(JSON.parse(second.stdout), { rev: rev2, current: false })
  const table = await cli(['history', 'hist/s'])
  t.equal(table.code, 0)
  t.match(table.stdout, new RegExp(`^\\s+REV\\s+WRITTEN\\s+BY.*\\n\\*\\s+${rev}\\s+\\S+.*\\n\\s+${rev2}`))
  const json = await cli(['history', 'hist/s', '--json'])
  t.match(JSON.parse(json.stdout), { revs: [rev, rev2], current: rev, history: [{ rev }, { rev: rev2 }] })
  const missing = await cli(['history', 'hist/none'])
  t.equal(missing.code, 0)
  t.match(missing.stdout, /hist\/none has no revs/)
})

t.test('pull writes the snapshot byte-exact to stdout and, atomically, to a file', async (t) => {
  const path = snapshot('p1')
  await seed('pull/s', 'p1')
  const out = await cli(['pull', 'pull/s'])
  t.equal(out.code, 0)
  t.equal(out.stdout, readFileSync(path, 'utf8'))
  const target = join(t.testdir(), 'state.json')
  const toFile = await cli(['pull', 'pull/s', '-o', target, '--json'])
  t.equal(toFile.code, 0, toFile.stderr)
  t.same(readFileSync(target), readFileSync(path))
  t.match(JSON.parse(toFile.stdout), { stack: 'pull/s', bytes: readFileSync(path).length, file: target })
  const none = await cli(['pull', 'pull/none'])
  t.equal(none.code, 1)
  t.match(none.stderr, /^unobin-state: no-current: /)
  const badRev = await cli(['pull', 'pull/s', '2020-01-01T00:00:00Z'])
  t.equal(badRev.code, 1)
  t.match(badRev.stderr, /^unobin-state: rev-not-found: /)
})

t.test('show describes a snapshot by its facts and output names, never its values', async (t) => {
  await seed('show/s', 'secret-marker-value')
  const human = await cli(['show', 'show/s'])
  t.equal(human.code, 0)
  t.match(human.stdout, /kind\s+unobin snapshot/)
  t.match(human.stdout, /factory\s+cluster-deploy 1\.4\.0/)
  t.match(human.stdout, /outputs\s+marker/)
  t.match(human.stdout, /\(current\)/)
  t.notMatch(human.stdout, /secret-marker-value/)
  const json = JSON.parse((await cli(['show', 'show/s', '--json'])).stdout) as Record<string, unknown>
  t.match(json, { stack: 'show/s', current: true, kind: 'unobin-snapshot', entries: 1, outputs: ['marker'] })
})

t.test('rollback points current at an older rev; an unknown rev exits 1', async (t) => {
  const first = await seed('rb/s', 'r1')
  const second = await seed('rb/s', 'r2')
  const rolled = await cli(['rollback', 'rb/s', first])
  t.equal(rolled.code, 0, rolled.stderr)
  t.equal(rolled.stdout, `rb/s: current ${second} -> ${first}\n`)
  t.equal((await revsOf('rb/s')).current, first)
  const unknown = await cli(['rollback', 'rb/s', '2020-01-01T00:00:00Z'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /^unobin-state: (rev-not-found|invalid-request): /)
})

t.test('gc --dry-run reports, gc deletes, and prune moves old revs into the trash', async (t) => {
  const revs: string[] = []
  for (const m of ['g1', 'g2', 'g3', 'g4']) revs.push(await seed('gc/s', m))
  const dry = await cli(['gc', 'gc/s', '--keep', '3', '--dry-run'])
  t.equal(dry.stdout, `gc/s: would delete 1 rev(s), kept 3\n  ${revs[0]}\n`)
  t.equal((await cli(['gc', 'gc/s', '--keep', '3'])).code, 0)
  t.same((await revsOf('gc/s')).revs, revs.slice(1))
  const pruned = await cli(['prune', 'gc/s', '--keep', '1', '--json'])
  t.equal(pruned.code, 0, pruned.stderr)
  t.same((JSON.parse(pruned.stdout) as { trashed: string[] }).trashed, revs.slice(1, 3))
  t.same((await revsOf('gc/s')).revs, revs.slice(3))
})

t.test('a bad snapshot or an unreadable file exits 1 with the problem code', async (t) => {
  const bad = join(files, 'bad.json')
  writeFileSync(bad, '{"format-version": 2}')
  const invalid = await cli(['push', 'bad/s', bad])
  t.equal(invalid.code, 1)
  t.match(invalid.stderr, /^unobin-state: invalid-snapshot: /)
  const missing = await cli(['push', 'bad/s', join(files, 'absent.json')])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /^unobin-state: bad-file: cannot read .*absent\.json \(ENOENT\)/)
  const stdin = await runClient(t, ['push', 'bad/s', '-', '--current'], env, { stdin: sampleSnapshot('stdin', 's') })
  t.equal(stdin.code, 0, 'push - reads stdin')
})
