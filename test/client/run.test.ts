/**
 * `unobin-state run` as a process against a real server process: exit
 * codes, signals, the lease kept alive, a lost lock stopping the command,
 * and two runs on one stack taking turns.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { sampleSnapshot } from '../helpers/store.js'
import { CLIENT_JS, eventually, runClient, startClient } from '../helpers/client-process.js'
import { startServer } from '../helpers/server-process.js'
import { waitFor } from '../helpers/wait.js'

const server = await startServer(['--data-dir', t.testdir()])
t.teardown(() => server.stop())
const files = t.testdir()
const env = { UNOBIN_STATE_URL: server.url, CLIENT: CLIENT_JS, NODE: process.execPath }
t.jobs = 4

const stackUrl = (name: string): string => `${server.url}/v1/factories/run/stacks/${name}`
/** The holder of run/NAME, or null when free. */
const holderOf = async (name: string): Promise<{ id: string; who: string; expires: string | null } | null> => {
  const res = await fetch(`${stackUrl(name)}/lock`)
  return res.status === 404 ? null : ((await res.json()) as { id: string; who: string; expires: string | null })
}
const snapshotFile = (marker: string): string => {
  const path = join(files, `${marker}.json`)
  writeFileSync(path, sampleSnapshot(marker))
  return path
}
/** A shell line that pushes a snapshot with the client from inside CMD (lock id from run's environment). */
const push = (stack: string, marker: string): string =>
  `"$NODE" "$CLIENT" push run/${stack} ${snapshotFile(marker)} --current`

t.test("run exits with the command's code, 0 or 7, and releases the lock either way", async (t) => {
  const [ok, seven] = await Promise.all([
    runClient(
      t,
      [
        'run',
        'run/exit0',
        '--',
        'sh',
        '-c',
        'echo "id=$UNOBIN_STATE_LOCK_ID stack=$UNOBIN_STATE_STACK url=$UNOBIN_STATE_URL tf=$TF_HTTP_ADDRESS lockaddr=${TF_HTTP_LOCK_ADDRESS-unset}"',
      ],
      { ...env, TF_HTTP_LOCK_ADDRESS: 'http://elsewhere/lock' },
    ),
    runClient(t, ['run', 'run/exit7', '--', 'sh', '-c', 'exit 7'], env),
  ])
  t.equal(ok.code, 0, ok.stderr)
  const id = /id=(\S+)/.exec(ok.stdout)?.[1]
  t.match(id, /^[0-9a-f-]{36}$/, 'the command sees the lock id')
  t.match(ok.stdout, `stack=run/exit0 url=${server.url} tf=${stackUrl('exit0')}/terraform?ID=${id} lockaddr=unset`)
  t.equal(seven.code, 7)
  t.equal(await holderOf('exit0'), null)
  t.equal(await holderOf('exit7'), null)
})

t.test(
  'a command killed by a signal makes run exit 128+N; a missing command exits 127; both release the lock',
  async (t) => {
    const [killed, missing] = await Promise.all([
      runClient(t, ['run', 'run/killed', '--', 'sh', '-c', 'kill -KILL $$'], env),
      runClient(t, ['run', 'run/missing', '--', 'no-such-command-here'], env),
    ])
    t.equal(killed.code, 137)
    t.equal(missing.code, 127)
    t.match(missing.stderr, /cannot start no-such-command-here: ENOENT/)
    t.equal(await holderOf('killed'), null)
    t.equal(await holderOf('missing'), null)
  },
)

t.test(
  "SIGINT to the client reaches the command once; run exits with the command's code and releases the lock",
  async (t) => {
    const run = startClient(
      t,
      [
        'run',
        'run/sigint',
        '--',
        'sh',
        '-c',
        'trap "echo got-int; exit 5" INT; echo ready; while :; do sleep 0.1; done',
      ],
      env,
    )
    await run.waitFor(/ready/)
    run.child.kill('SIGINT')
    const end = await run.exited
    t.equal(end.code, 5, end.stderr)
    t.equal(end.stdout.match(/got-int/g)?.length, 1, 'the command got one SIGINT')
    t.equal(await holderOf('sigint'), null)
  },
)

t.test('a command that ignores SIGTERM is killed after the grace period; the lock is released', async (t) => {
  const run = startClient(
    t,
    [
      'run',
      'run/stubborn',
      '--grace',
      '1',
      '--',
      'sh',
      '-c',
      'trap "echo ignoring-term" TERM; echo ready; while :; do sleep 0.1; done',
    ],
    env,
  )
  await run.waitFor(/ready/)
  run.child.kill('SIGTERM')
  const end = await run.exited
  t.match(end.stdout, /ignoring-term/, 'the command saw the SIGTERM')
  t.equal(end.code, 137, 'then SIGKILL ended it')
  t.equal(await holderOf('stubborn'), null)
})

t.test(
  'a lease is kept alive through a command that outlasts it, whose write under the lock is accepted',
  async (t) => {
    // The command writes only when the test says so: once the lease it started with has passed, the lock still held
    // under a renewed one. A 6 s lease renewed every 2 s rides out a stall of 4 s in either process on a loaded machine.
    const go = join(t.testdir(), 'go')
    const run = startClient(
      t,
      [
        'run',
        'run/lease',
        '--ttl',
        '6',
        '--',
        'sh',
        '-c',
        `echo ready; while [ ! -e '${go}' ]; do sleep 0.1; done; ${push('lease', 'after-the-first-lease')}`,
      ],
      env,
    )
    await run.waitFor(/ready/)
    const first = (await holderOf('lease'))!
    const firstEnds = Date.parse(first.expires!)
    const renewed = await waitFor(
      async () => {
        const now = await holderOf('lease')
        return now !== null && Date.now() > firstEnds && Date.parse(now.expires!) > Date.now() ? now : null
      },
      120_000,
      'the first lease to pass, the lock held under a renewed one',
    )
    t.equal(renewed.id, first.id, 'the same lock, renewed')
    writeFileSync(go, '')
    const end = await run.exited
    t.equal(end.code, 0, end.stderr)
    t.match(
      end.stdout,
      /wrote run\/lease rev \S+ \(now current\)/,
      'the write after the first lease was fenced by the same lock',
    )
    t.notMatch(end.stderr, /lost the lock/)
    const events = (await (await fetch(`${stackUrl('lease')}/snapshots`)).json()) as { revs: string[] }
    t.equal(events.revs.length, 1)
    t.equal(await holderOf('lease'), null, `lock ${first.id} was released`)
  },
)

t.test('a force-unlock during run stops the command; run exits 3 naming who holds the lock now', async (t) => {
  const run = startClient(
    t,
    [
      'run',
      'run/forced',
      '--ttl',
      '6',
      '--grace',
      '5',
      '--',
      'sh',
      '-c',
      'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done',
    ],
    env,
  )
  await run.waitFor(/ready/)
  const forced = await fetch(`${stackUrl('forced')}/lock?force=true&reason=test`, { method: 'DELETE' })
  t.equal(forced.status, 200)
  const intruder = await fetch(`${stackUrl('forced')}/lock`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ who: 'intruder@elsewhere' }),
  })
  t.equal(intruder.status, 201)
  const end = await run.exited
  t.equal(end.code, 3)
  t.match(end.stdout, /got-term/, 'the command was stopped with SIGTERM')
  t.match(end.stderr, /lost the lock on run\/forced \(lock-lost: /)
  t.match(end.stderr, /run\/forced is now locked by intruder@elsewhere/)
  t.equal((await holderOf('forced'))?.who, 'intruder@elsewhere', "the new holder's lock is left alone")
})

t.test('two runs on one stack take turns, and their writes land in order', async (t) => {
  const go = join(t.testdir(), 'go')
  const first = startClient(
    t,
    [
      'run',
      'run/turns',
      '--who',
      'first',
      '--',
      'sh',
      '-c',
      `${push('turns', 'first-1')} && echo wrote-first-1 && while [ ! -e ${go} ]; do sleep 0.05; done && ${push('turns', 'first-2')}`,
    ],
    env,
  )
  await first.waitFor(/wrote-first-1/)
  const second = startClient(
    t,
    ['run', 'run/turns', '--who', 'second', '--wait', '120', '--', 'sh', '-c', push('turns', 'second-1')],
    env,
  )
  // The second run is waiting at the server for the lock the first holds (no other test here waits for a lock).
  await eventually(
    async () =>
      /^unobin_state_lock_waiters [1-9]/m.test(await (await fetch(`${server.url}/metrics`)).text()) ? true : undefined,
    'the second run waits',
  )
  t.equal((await holderOf('turns'))?.who, 'first')
  t.notMatch(second.stderr, /locked run\/turns/)
  writeFileSync(go, '')
  const [a, b] = await Promise.all([first.exited, second.exited])
  t.equal(a.code, 0, a.stderr)
  t.equal(b.code, 0, b.stderr)
  const list = (await (await fetch(`${stackUrl('turns')}/snapshots`)).json()) as { revs: string[]; current: string }
  const markers = await Promise.all(
    list.revs.map(
      async (rev) =>
        ((await (await fetch(`${stackUrl('turns')}/snapshots/${rev}`)).json()) as { outputs: { marker: string } })
          .outputs.marker,
    ),
  )
  t.same(markers, ['first-1', 'first-2', 'second-1'])
  t.equal(list.current, list.revs[2])
  t.ok(existsSync(go))
})
