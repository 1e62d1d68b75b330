/**
 * The client's commands as processes against a real server process (no
 * credentials configured): outputs, JSON, and the exit code of each error.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { sampleSnapshot } from '../helpers/store.js'
import { runClient } from '../helpers/client-process.js'
import { startServer } from '../helpers/server-process.js'

const data = t.testdir()
const server = await startServer(['--data-dir', data])
t.teardown(() => server.stop())
const env = { UNOBIN_STATE_URL: server.url }
const files = t.testdir()
const snapshot = (marker: string | number, stack = 's'): string => {
  const path = join(files, `snap-${marker}.json`)
  writeFileSync(path, sampleSnapshot(marker, stack))
  return path
}
const cli = (args: string[]) => runClient(t, args, env)
// Every behaviour uses its own stacks, so they run side by side: each client process costs little CPU but about a second of wall time on a loaded machine.
t.jobs = 6

t.test('every command answers --help with its usage, the environment and the exit codes', async (t) => {
  const commands = ['stacks', 'history', 'show', 'pull', 'holder', 'push', 'rollback', 'gc', 'prune', 'lock', 'renew', 'unlock', 'force-unlock', 'run']
  const results = await Promise.all([[], ...commands.map((c) => [c])].map((c) => cli([...c, '--help'])))
  for (const [i, r] of results.entries()) {
    t.equal(r.code, 0, `${commands[i - 1] ?? 'the program'} --help exits 0`)
    t.match(r.stdout, /Usage: unobin-state/)
    t.match(r.stdout, /Exit codes:\n {2}0 {2}success/)
    t.match(r.stdout, /UNOBIN_STATE_URL/)
  }
  t.match(results[0]!.stdout, /run \[options\] <factory\/stack> \[command\.\.\.\]/, 'the program help lists run')
})

t.test('usage errors exit 2 with one line', async (t) => {
  const cases = [['nonsense'], ['history'], ['history', 'no-slash'], ['history', '../x'], ['lock', 'f/s', '--ttl', 'soon'], ['gc', 'f/s'], ['stacks', '--no-such-option'], ['run', 'f/s']]
  const results = await Promise.all(cases.map((args) => cli(args)))
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
  t.match(table.stdout, new RegExp(`^\\s+REV\\s+WRITTEN\\n\\*\\s+${rev}\\s+\\S+\\n\\s+${rev2}`))
  const json = await cli(['history', 'hist/s', '--json'])
  t.same(JSON.parse(json.stdout), { revs: [rev, rev2], current: rev })
  const missing = await cli(['history', 'hist/none'])
  t.equal(missing.code, 0)
  t.match(missing.stdout, /hist\/none has no revs/)
})

t.test('pull writes the snapshot byte-exact to stdout and, atomically, to a file', async (t) => {
  const path = snapshot('p1')
  t.equal((await cli(['push', 'pull/s', path, '--current'])).code, 0)
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
  t.equal((await cli(['push', 'show/s', snapshot('secret-marker-value'), '--current'])).code, 0)
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
  const first = JSON.parse((await cli(['--json', 'push', 'rb/s', snapshot('r1'), '--current'])).stdout) as { rev: string }
  const second = JSON.parse((await cli(['--json', 'push', 'rb/s', snapshot('r2'), '--current'])).stdout) as { rev: string }
  const rolled = await cli(['rollback', 'rb/s', first.rev])
  t.equal(rolled.code, 0, rolled.stderr)
  t.equal(rolled.stdout, `rb/s: current ${second.rev} -> ${first.rev}\n`)
  t.equal(JSON.parse((await cli(['history', 'rb/s', '--json'])).stdout).current, first.rev)
  const unknown = await cli(['rollback', 'rb/s', '2020-01-01T00:00:00Z'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /^unobin-state: (rev-not-found|invalid-request): /)
})

t.test('stacks lists the factories, then a factory\'s stacks with their lock holder', async (t) => {
  t.equal((await cli(['push', 'listing/a', snapshot('l1', 'a'), '--current'])).code, 0)
  t.equal((await cli(['lock', 'listing/b', '--who', 'alice@laptop'])).code, 0)
  const factories = await cli(['stacks'])
  t.match(factories.stdout, /^FACTORY\s+STACKS\n/)
  t.match(factories.stdout, /\nlisting\s+2\n/)
  const stacks = await cli(['stacks', 'listing'])
  t.match(stacks.stdout, /^STACK\s+CURRENT\s+REVS\s+LOCK\n/)
  t.match(stacks.stdout, /\na\s+\S+Z \(\S+Z\)\s+1\s+-\n/)
  t.match(stacks.stdout, /\nb\s+-\s+0\s+alice@laptop since \S+Z\n/)
  const json = JSON.parse((await cli(['stacks', 'listing', '--json'])).stdout) as { name: string; lock: { who: string } | null }[]
  t.same(json.map((s) => [s.name, s.lock?.who ?? null]), [['a', null], ['b', 'alice@laptop']])
  const unknown = await cli(['stacks', 'no-such-factory'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /^unobin-state: factory-not-found: /)
})

t.test('lock prints its id; a second lock waits, then exits 3 naming the holder; the id renews, fences and unlocks', async (t) => {
  const taken = await cli(['lock', 'lk/s', '--who', 'ci@runner-1', '--operation', 'apply', '--ttl', '60'])
  t.equal(taken.code, 0, taken.stderr)
  const id = taken.stdout.trim()
  t.match(id, /^[0-9a-f-]{36}$/, 'stdout is the lock id alone')
  const refused = await cli(['lock', 'lk/s', '--wait', '1'])
  t.equal(refused.code, 3)
  t.match(refused.stderr, /^unobin-state: wait-timeout: .*ci@runner-1/)
  const atOnce = await cli(['lock', 'lk/s'])
  t.equal(atOnce.code, 3)
  t.match(atOnce.stderr, /^unobin-state: locked: .*ci@runner-1/)
  const holder = await cli(['holder', 'lk/s'])
  t.equal(holder.code, 0)
  t.match(holder.stdout, /lk\/s is locked by ci@runner-1 \(apply\) as anonymous since /)

  const unfenced = await cli(['push', 'lk/s', snapshot('k1')])
  t.equal(unfenced.code, 3, 'a write without the lock id is refused')
  t.match(unfenced.stderr, /^unobin-state: locked: /)
  const fenced = await cli(['push', 'lk/s', snapshot('k1'), '--lock-id', id])
  t.equal(fenced.code, 0, fenced.stderr)

  const renewed = await cli(['renew', 'lk/s', id, '--ttl', '120', '--json'])
  t.equal(renewed.code, 0, renewed.stderr)
  const expires = Date.parse((JSON.parse(renewed.stdout) as { expires: string }).expires)
  t.ok(expires > Date.now() + 60_000, 'the lease now ends about two minutes from now')
  const wrongRenew = await cli(['renew', 'lk/s', 'not-the-id', '--ttl', '5'])
  t.equal(wrongRenew.code, 3)

  const wrongUnlock = await cli(['unlock', 'lk/s', 'not-the-id'])
  t.equal(wrongUnlock.code, 3)
  t.match(wrongUnlock.stderr, /^unobin-state: (locked|lock-not-held): /)
  const unlocked = await cli(['unlock', 'lk/s', id])
  t.equal(unlocked.code, 0)
  t.equal(unlocked.stdout, 'unlocked lk/s\n')
  t.equal((await cli(['unlock', 'lk/s', id])).code, 0, 'a retried unlock succeeds')
  const free = await cli(['holder', 'lk/s'])
  t.equal(free.code, 1)
  t.equal(free.stdout, 'lk/s is free\n')
})

t.test('force-unlock removes the holder, whose id is refused from then on', async (t) => {
  const id = (await cli(['lock', 'fu/s', '--who', 'gone@host'])).stdout.trim()
  const forced = await cli(['force-unlock', 'fu/s', '--reason', 'runner died'])
  t.equal(forced.code, 0, forced.stderr)
  t.match(forced.stdout, /^force-unlocked fu\/s: removed gone@host /)
  const late = await cli(['push', 'fu/s', snapshot('f1'), '--lock-id', id])
  t.equal(late.code, 3)
  t.match(late.stderr, /^unobin-state: lock-lost: /)
  const again = await cli(['force-unlock', 'fu/s', '--reason', 'again'])
  t.equal(again.stdout, 'fu/s was not locked\n')
  t.equal((await cli(['force-unlock', 'fu/s'])).code, 2, '--reason is required')
})

t.test('gc --dry-run reports, gc deletes, and prune moves old revs into the trash', async (t) => {
  const revs: string[] = []
  for (const m of ['g1', 'g2', 'g3', 'g4']) revs.push((JSON.parse((await cli(['--json', 'push', 'gc/s', snapshot(m), '--current'])).stdout) as { rev: string }).rev)
  const dry = await cli(['gc', 'gc/s', '--keep', '3', '--dry-run'])
  t.equal(dry.stdout, `gc/s: would delete 1 rev(s), kept 3\n  ${revs[0]}\n`)
  t.equal((await cli(['gc', 'gc/s', '--keep', '3'])).code, 0)
  t.same(JSON.parse((await cli(['history', 'gc/s', '--json'])).stdout).revs, revs.slice(1))
  const pruned = await cli(['prune', 'gc/s', '--keep', '1', '--json'])
  t.equal(pruned.code, 0, pruned.stderr)
  t.same((JSON.parse(pruned.stdout) as { trashed: string[] }).trashed, revs.slice(1, 3))
  t.same(JSON.parse((await cli(['history', 'gc/s', '--json'])).stdout).revs, revs.slice(3))
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
