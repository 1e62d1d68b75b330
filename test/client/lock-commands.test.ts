/**
 * The client's lock commands and the stack listing as processes against a
 * real server process (no credentials configured): lock, holder, renew,
 * unlock, force-unlock, fencing, and their exit codes.
 */
import t from 'tap'
import { clientTestbed } from '../helpers/client-testbed.js'

const { snapshot, cli, seed } = await clientTestbed(t)
// Every behaviour uses its own stacks, so they run side by side: each client process costs little CPU but about a second of wall time on a loaded machine.
t.jobs = 6

t.test("stacks lists the factories, then a factory's stacks with their lock holder", async (t) => {
  await seed('listing/a', 'l1')
  t.equal((await cli(['lock', 'listing/b', '--who', 'alice@laptop'])).code, 0)
  const factories = await cli(['stacks'])
  t.match(factories.stdout, /^FACTORY\s+STACKS\n/)
  t.match(factories.stdout, /\nlisting\s+2\n/)
  const stacks = await cli(['stacks', 'listing'])
  t.match(stacks.stdout, /^STACK\s+CURRENT\s+REVS\s+LOCK\n/)
  t.match(stacks.stdout, /\na\s+\S+Z \(\S+Z\)\s+1\s+-\n/)
  t.match(stacks.stdout, /\nb\s+-\s+0\s+alice@laptop since \S+Z\n/)
  const json = JSON.parse((await cli(['stacks', 'listing', '--json'])).stdout) as {
    name: string
    lock: { who: string } | null
  }[]
  t.same(
    json.map((s) => [s.name, s.lock?.who ?? null]),
    [
      ['a', null],
      ['b', 'alice@laptop'],
    ],
  )
  const unknown = await cli(['stacks', 'no-such-factory'])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /^unobin-state: factory-not-found: /)
})

t.test(
  'lock prints its id; a second lock waits, then exits 3 naming the holder; the id renews, fences and unlocks',
  async (t) => {
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
  },
)

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
