/**
 * Retention: which revs a policy keeps (the current and the newest always),
 * prune into the trash (invisible to list and to the Go tool's snapshots
 * directory), dry run, restore, purge after the trash window, the configured
 * policy, fencing, the schedule, and the settings.
 */
import t from 'tap'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { waitFor } from '../helpers/wait.js'
import { ConfigError, loadConfig } from '../../src/config.js'
import { RetentionJob } from '../../src/retention-job.js'
import { selectPrunable } from '../../src/store/retention-policy.js'
import { MemoryAudit, buildTestApp, stackUrl } from '../helpers/app.js'
import { ManualClock } from '../helpers/clock.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'

const JSON_TYPE = { 'content-type': 'application/json' }
const DAY = 86_400_000
const T0 = '2026-07-10T12:00:00Z'
const NOW = BigInt(Date.parse(T0)) * 1_000_000n
/** Revs one hour apart, oldest first: 08:00 … 12:00. */
const HOURLY = [
  '2026-07-10T08:00:00Z',
  '2026-07-10T09:00:00Z',
  '2026-07-10T10:00:00Z',
  '2026-07-10T11:00:00Z',
  '2026-07-10T12:00:00Z',
]

/** A silent logger for the schedule. */
const quiet = { info: () => {}, warn: () => {}, error: () => {} }

t.test('the current and the newest rev are never pruned, even by keep 0 and the shortest max age', async (t) => {
  t.same(selectPrunable(HOURLY, HOURLY[1]!, { keep: 0, maxAgeMs: 1 }, NOW + 10n ** 15n), {
    prune: [HOURLY[0], HOURLY[2], HOURLY[3]],
    keep: [HOURLY[1], HOURLY[4]],
  })
  t.same(
    selectPrunable(HOURLY, null, { keep: 0, maxAgeMs: null }, NOW).keep,
    [HOURLY[4]],
    'without current, the newest stays',
  )
  t.same(
    selectPrunable([HOURLY[0]!], null, { keep: 0, maxAgeMs: 1 }, NOW),
    { prune: [], keep: [HOURLY[0]] },
    'a lone rev stays',
  )
})

t.test('the rules add up: a rev either rule keeps is kept', async (t) => {
  const current = HOURLY[0]!
  t.same(
    selectPrunable(HOURLY, current, { keep: 2, maxAgeMs: null }, NOW).prune,
    [HOURLY[1], HOURLY[2]],
    'keep 2: the newest two and current',
  )
  t.same(
    selectPrunable(HOURLY, current, { keep: null, maxAgeMs: 90 * 60_000 }, NOW).prune,
    [HOURLY[1], HOURLY[2]],
    'max age 90 min: 11:00 and 12:00 and current',
  )
  t.same(
    selectPrunable(HOURLY, current, { keep: 1, maxAgeMs: 150 * 60_000 }, NOW).prune,
    [HOURLY[1]],
    'keep 1 or younger than 150 min',
  )
  t.throws(
    () => selectPrunable(HOURLY, current, { keep: null, maxAgeMs: null }, NOW),
    RangeError,
    'a policy without rules is refused',
  )
})

t.test('names that are not revs are never pruned', async (t) => {
  t.same(selectPrunable([...HOURLY, 'notes'], null, { keep: 1, maxAgeMs: null }, NOW).keep, [HOURLY[4], 'notes'])
})

t.test('prune moves revs into the trash, out of list and out of the snapshots directory', async (t) => {
  const clock = new ManualClock(T0)
  const { app, dir, audit } = await buildTestApp(t, { clock })
  const url = stackUrl()
  const revs: string[] = []
  for (let i = 0; i < 4; i++) {
    revs.push(
      (
        await app.inject({
          method: 'POST',
          url: `${url}/snapshots${i === 0 ? '?current=true' : ''}`,
          headers: JSON_TYPE,
          payload: sampleSnapshot(i),
        })
      ).json<{ rev: string }>().rev,
    )
    clock.advanceMs(60_000)
  }
  const res = await app.inject({ method: 'POST', url: `${url}/snapshots:prune`, payload: { keep: 1 } })
  t.equal(res.statusCode, 200)
  t.same(
    res.json(),
    {
      trashed: [revs[1], revs[2]],
      kept: [revs[0], revs[3]],
      purged: [],
      policy: { keep: 1, maxAge: null },
      dryRun: false,
    },
    'current (the first) and the newest stay',
  )
  t.same(
    (await app.inject({ method: 'GET', url: `${url}/snapshots` })).json<{ revs: string[] }>().revs,
    [revs[0], revs[3]],
    'list no longer shows them',
  )
  const stackDir = join(dir, 'f1', 's1')
  t.same(
    readdirSync(join(stackDir, 'snapshots'))
      .filter((n) => !n.startsWith('.'))
      .sort(),
    [`${revs[0]}.json.enc`, `${revs[3]}.json.enc`],
    "the Go tool's snapshots directory no longer holds them",
  )
  t.same(
    readdirSync(join(stackDir, '.trash')).sort(),
    [
      `${revs[1]}@2026-07-10T12:04:00Z.json.enc`,
      `${revs[1]}@2026-07-10T12:04:00Z.meta.json`,
      `${revs[2]}@2026-07-10T12:04:00Z.json.enc`,
      `${revs[2]}@2026-07-10T12:04:00Z.meta.json`,
    ],
    "they sit in the stack's .trash, each with the metadata of who wrote it",
  )
  const trash = (await app.inject({ method: 'GET', url: `${url}/trash` })).json()
  t.same(trash, {
    revs: [revs[1], revs[2]].map((rev) => ({
      rev,
      deletedAt: '2026-07-10T12:04:00Z',
      purgeAfter: '2026-07-17T12:04:00Z',
    })),
    windowDays: 7,
  })
  t.match(
    audit.events.find((e) => e.action === 'snapshot.prune'),
    { principal: 'anonymous', factory: 'f1', stack: 's1', detail: { keep: 1, trashed: [revs[1], revs[2]] } },
    'audited',
  )
  t.same(
    (await app.inject({ method: 'GET', url: `/v1/factories/f1/stacks` }))
      .json<{ stacks: Array<{ name: string }> }>()
      .stacks.map((s) => s.name),
    ['s1'],
    'the trash is no stack',
  )
})

t.test('a dry run reports what would move and changes no file', async (t) => {
  const clock = new ManualClock(T0)
  const { app, dir } = await buildTestApp(t, { clock })
  for (let i = 0; i < 3; i++)
    await app.inject({ method: 'POST', url: `${stackUrl()}/snapshots`, headers: JSON_TYPE, payload: sampleSnapshot(i) })
  const before = readdirSync(join(dir, 'f1/s1/snapshots')).sort()
  const res = await app.inject({
    method: 'POST',
    url: `${stackUrl()}/snapshots:prune`,
    payload: { keep: 1, dryRun: true },
  })
  t.equal(res.json<{ trashed: string[] }>().trashed.length, 2)
  t.equal(res.json<{ dryRun: boolean }>().dryRun, true)
  t.same(readdirSync(join(dir, 'f1/s1/snapshots')).sort(), before, 'every rev still in place')
  t.notOk(existsSync(join(dir, 'f1/s1/.trash')), 'no trash was made')
})

t.test('restore brings a rev back under its name without moving current', async (t) => {
  const clock = new ManualClock(T0)
  const { app, audit } = await buildTestApp(t, { clock })
  const url = stackUrl()
  const revs: string[] = []
  for (let i = 0; i < 3; i++)
    revs.push(
      (
        await app.inject({
          method: 'POST',
          url: `${url}/snapshots?current=true`,
          headers: JSON_TYPE,
          payload: sampleSnapshot(i),
        })
      ).json<{ rev: string }>().rev,
    )
  await app.inject({ method: 'POST', url: `${url}/snapshots:prune`, payload: { keep: 1 } })
  const res = await app.inject({ method: 'POST', url: `${url}/snapshots:restore`, payload: { rev: revs[0] } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { rev: revs[0], deletedAt: T0, restored: true })
  const list = (await app.inject({ method: 'GET', url: `${url}/snapshots` })).json<{
    revs: string[]
    current: string
  }>()
  t.same(list, { revs: [revs[0], revs[2]], current: revs[2], next: null }, 'back in the history, current unchanged')
  t.equal(
    (await app.inject({ method: 'GET', url: `${url}/snapshots/${revs[0]}` })).body,
    sampleSnapshot(0).toString(),
    'byte-exact',
  )
  t.same(
    (await app.inject({ method: 'GET', url: `${url}/trash` }))
      .json<{ revs: Array<{ rev: string }> }>()
      .revs.map((e) => e.rev),
    [revs[1]],
    'gone from the trash',
  )
  const again = await app.inject({ method: 'POST', url: `${url}/snapshots:restore`, payload: { rev: revs[0] } })
  t.equal(again.statusCode, 404)
  t.equal(again.json<{ code: string }>().code, 'rev-not-found', 'a rev not in the trash is rev-not-found')
  t.match(
    audit.events.find((e) => e.action === 'snapshot.restore'),
    { rev: revs[0], factory: 'f1', stack: 's1' },
    'audited',
  )
})

t.test('trash entries are purged after the trash window, and cannot be restored after', async (t) => {
  const clock = new ManualClock(T0)
  const { app, dir } = await buildTestApp(t, {
    clock,
    retention: { policy: { keep: 1, maxAgeMs: null }, trashWindowMs: 2 * DAY },
  })
  const url = stackUrl()
  const revs: string[] = []
  for (let i = 0; i < 3; i++)
    revs.push(
      (
        await app.inject({ method: 'POST', url: `${url}/snapshots`, headers: JSON_TYPE, payload: sampleSnapshot(i) })
      ).json<{ rev: string }>().rev,
    )
  t.same(
    (await app.inject({ method: 'POST', url: `${url}/snapshots:prune`, payload: {} })).json<{ trashed: string[] }>()
      .trashed,
    [revs[0], revs[1]],
  )
  clock.advanceMs(2 * DAY - 1)
  t.same(
    (await app.inject({ method: 'POST', url: `${url}/snapshots:prune`, payload: {} })).json<{ purged: unknown[] }>()
      .purged,
    [],
    'nothing is purged within the window',
  )
  clock.advanceMs(1)
  const dry = (await app.inject({ method: 'POST', url: `${url}/snapshots:prune`, payload: { dryRun: true } })).json<{
    purged: Array<{ rev: string }>
  }>()
  t.same(
    dry.purged.map((e) => e.rev),
    [revs[0], revs[1]],
    'a dry run names what would be purged',
  )
  t.equal(readdirSync(join(dir, 'f1/s1/.trash')).filter((n) => n.endsWith('.json.enc')).length, 2, 'and purges nothing')
  const res = (await app.inject({ method: 'POST', url: `${url}/snapshots:prune`, payload: {} })).json<{
    purged: Array<{ rev: string; purgeAfter: string }>
  }>()
  t.same(
    res.purged.map((e) => e.rev),
    [revs[0], revs[1]],
    'at the end of the window both are purged',
  )
  t.equal(res.purged[0]!.purgeAfter, '2026-07-12T12:00:00Z')
  t.same(readdirSync(join(dir, 'f1/s1/.trash')), [], 'the trash is empty')
  t.equal(
    (await app.inject({ method: 'POST', url: `${url}/snapshots:restore`, payload: { rev: revs[0] } })).statusCode,
    404,
  )
})

t.test('without rules in the request the configured policy applies; without one the prune is refused', async (t) => {
  const unconfigured = await buildTestApp(t)
  await unconfigured.app.inject({
    method: 'POST',
    url: `${stackUrl()}/snapshots`,
    headers: JSON_TYPE,
    payload: sampleSnapshot(1),
  })
  const refused = await unconfigured.app.inject({ method: 'POST', url: `${stackUrl()}/snapshots:prune`, payload: {} })
  t.equal(refused.statusCode, 400)
  t.equal(refused.json<{ code: string }>().code, 'invalid-request')
  t.match(refused.json<{ detail: string }>().detail, /--retention-keep/, 'the detail says how to configure one')
  const configured = await buildTestApp(t, {
    clock: new ManualClock(T0),
    retention: { policy: { keep: 2, maxAgeMs: null }, trashWindowMs: DAY },
  })
  for (let i = 0; i < 3; i++)
    await configured.app.inject({
      method: 'POST',
      url: `${stackUrl()}/snapshots`,
      headers: JSON_TYPE,
      payload: sampleSnapshot(i),
    })
  const res = (
    await configured.app.inject({ method: 'POST', url: `${stackUrl()}/snapshots:prune`, payload: {} })
  ).json<{ trashed: string[]; policy: unknown }>()
  t.equal(res.trashed.length, 1)
  t.same(res.policy, { keep: 2, maxAge: null })
})

t.test("while the stack is locked, prune and restore need the holder's Lock-Id", async (t) => {
  const { app } = await buildTestApp(t, { clock: new ManualClock(T0) })
  const url = stackUrl()
  const revs: string[] = []
  for (let i = 0; i < 3; i++)
    revs.push(
      (
        await app.inject({ method: 'POST', url: `${url}/snapshots`, headers: JSON_TYPE, payload: sampleSnapshot(i) })
      ).json<{ rev: string }>().rev,
    )
  await app.inject({ method: 'POST', url: `${url}/snapshots:prune`, payload: { keep: 2 } })
  const lock = (await app.inject({ method: 'POST', url: `${url}/lock`, payload: { who: 'ci' } })).json<{ id: string }>()
  t.equal((await app.inject({ method: 'POST', url: `${url}/snapshots:prune`, payload: { keep: 1 } })).statusCode, 423)
  t.equal(
    (await app.inject({ method: 'POST', url: `${url}/snapshots:restore`, payload: { rev: revs[0] } })).statusCode,
    423,
  )
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: `${url}/snapshots:restore`,
        headers: { 'lock-id': lock.id },
        payload: { rev: revs[0] },
      })
    ).statusCode,
    200,
  )
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: `${url}/snapshots:prune`,
        headers: { 'lock-id': lock.id },
        payload: { keep: 1 },
      })
    ).statusCode,
    200,
  )
})

t.test('the schedule prunes every stack, skips a locked one, purges, and audits', async (t) => {
  const dir = t.testdir()
  const clock = new ManualClock(T0)
  const root = makeRoot(dir, { clock })
  t.teardown(() => root.close())
  for (const stack of ['a', 'b', 'locked']) {
    for (let i = 0; i < 3; i++) await root.stack('f1', stack).write(sampleSnapshot(i), { payloadType: 'state' })
  }
  const holder = await root.stack('f1', 'locked').lock({ who: 'ci' }, {})
  const audit = new MemoryAudit()
  const job = new RetentionJob(root, { policy: { keep: 1, maxAgeMs: null }, trashWindowMs: DAY }, 60_000, audit, quiet)
  const results = await job.runOnce()
  t.same(
    results.map((r) => [r.stack, r.trashed.length, r.skipped]),
    [
      ['a', 2, null],
      ['b', 2, null],
      ['locked', 0, 'locked'],
    ],
  )
  t.same(
    audit.events.map((e) => [e.action, e.principal, e.stack]),
    [
      ['snapshot.prune', 'retention-schedule', 'a'],
      ['snapshot.prune', 'retention-schedule', 'b'],
    ],
  )
  await root.stack('f1', 'locked').unlock(holder.id)
  clock.advanceMs(DAY)
  const later = await job.runOnce()
  t.same(
    later.map((r) => [r.stack, r.trashed.length, r.purged.length]),
    [
      ['a', 0, 2],
      ['b', 0, 2],
      ['locked', 2, 0],
    ],
    'the window passed: purged; the unlocked stack pruned',
  )
})

t.test('a started schedule runs every interval until stopped', async (t) => {
  const dir = t.testdir()
  const root = makeRoot(dir, { clock: new ManualClock(T0) })
  t.teardown(() => root.close())
  for (let i = 0; i < 3; i++) await root.stack('f1', 's1').write(sampleSnapshot(i), { payloadType: 'state' })
  const audit = new MemoryAudit()
  const job = new RetentionJob(root, { policy: { keep: 1, maxAgeMs: null }, trashWindowMs: DAY }, 1, audit, quiet)
  job.start()
  await waitFor(() => audit.events.length > 0, 30_000, 'the schedule to run')
  await job.stop()
  t.same(await root.stack('f1', 's1').list(), ['2026-07-10T12:00:00Z_2'], 'the schedule pruned the stack')
  const count = audit.events.length
  // A negative check has no condition to wait for: give the 1 ms schedule twenty of its intervals to misfire
  // (a loaded machine only makes the window longer, never a false failure).
  await delay(20)
  t.equal(audit.events.length, count, 'nothing runs after stop')
})

t.test('retention and metrics settings are validated and name the variable at fault', async (t) => {
  const run = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const parsed = loadConfig(argv, env)
    if (parsed.kind !== 'run') throw new Error('not a run')
    return parsed.config
  }
  const config = run(
    [
      '--retention-keep',
      '20',
      '--retention-max-age',
      '30d',
      '--retention-interval',
      '1h',
      '--metrics-listen',
      '0.0.0.0:9464',
    ],
    { UNOBIN_STATE_TRASH_DAYS: '3' },
  )
  t.same(
    {
      keep: config.retentionKeep,
      maxAge: config.retentionMaxAgeMs,
      interval: config.retentionIntervalMs,
      trash: config.trashDays,
      metrics: config.metricsListen,
      max: config.metricsMaxStacks,
    },
    { keep: 20, maxAge: 30 * DAY, interval: 3_600_000, trash: 3, metrics: { host: '0.0.0.0', port: 9464 }, max: 1000 },
  )
  const defaults = run([])
  t.same(
    {
      keep: defaults.retentionKeep,
      maxAge: defaults.retentionMaxAgeMs,
      interval: defaults.retentionIntervalMs,
      trash: defaults.trashDays,
      metrics: defaults.metricsListen,
    },
    { keep: null, maxAge: null, interval: null, trash: 7, metrics: null },
  )
  t.throws(
    () => run([], { UNOBIN_STATE_RETENTION_MAX_AGE: 'a month' }),
    new ConfigError(
      'UNOBIN_STATE_RETENTION_MAX_AGE (environment; --retention-max-age overrides it) must be a positive duration in seconds or with a unit (90s, 15m, 12h, 30d), got "a month"',
    ),
  )
  t.throws(() => run(['--retention-interval', '0']), /--retention-interval must be a positive duration/)
  t.throws(() => run(['--metrics-listen', 'nine']), /--metrics-listen must be HOST:PORT/)
  t.throws(() => run(['--trash-days=-1']), /--trash-days must be a whole number/)
})

t.test('gc keeps its contract: it deletes for good, with no trash', async (t) => {
  const { app, dir } = await buildTestApp(t, { clock: new ManualClock(T0) })
  for (let i = 0; i < 3; i++)
    await app.inject({ method: 'POST', url: `${stackUrl()}/snapshots`, headers: JSON_TYPE, payload: sampleSnapshot(i) })
  const res = await app.inject({ method: 'POST', url: `${stackUrl()}/snapshots:gc`, payload: { keep: 1 } })
  t.equal(res.json<{ deleted: string[] }>().deleted.length, 2)
  t.notOk(existsSync(join(dir, 'f1/s1/.trash')), 'gc does not use the trash')
  t.equal(readFileSync(join(dir, 'f1/s1/snapshots', '2026-07-10T12:00:00Z_2.json.enc')).length > 0, true)
})
