/**
 * Key rotation: revs sealed with an old key open with the new key alone only
 * after re-sealing; re-sealing skips what is done (resumable), catches a new
 * key put in the old key's variable, covers the trash, reports revs no key
 * opens; the route is audited and needs admin; and the `reseal` command,
 * SIGKILLed in the middle of a run again and again, leaves every rev readable
 * with the old and new keys, and a rerun finishes the job.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Keyring } from '../../src/crypto/keyring.js'
import { type SealingKey, keyFromEnv } from '../../src/crypto/keys.js'
import { isStateError } from '../../src/errors.js'
import { decodeEnvelope } from '../../src/store/envelope.js'
import { resealTree } from '../../src/store/reseal.js'
import type { StoreRoot } from '../../src/store/store-root.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'
import { authFromText, bearer, newToken, tokensFileText } from '../helpers/auth.js'
import { Child } from '../helpers/child.js'
import { ManualClock } from '../helpers/clock.js'
import { SERVER_JS } from '../helpers/server-process.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'
import { parseExposition, sampleValue } from '../helpers/prom-text.js'

const OLD = Buffer.alloc(32, 'o').toString('base64')
const NEW = Buffer.alloc(32, 'n').toString('base64')
const ENV = { STATE_KEY_OLD: OLD, STATE_KEY_NEW: NEW }
const STATE = { payloadType: 'state' } as const

function key(name: string, value: string): SealingKey {
  return keyFromEnv({ [name]: value }, name)
}
const oldOnly = () => new Keyring(key('STATE_KEY_OLD', OLD))
const newOnly = () => new Keyring(key('STATE_KEY_NEW', NEW))
const rotating = () => new Keyring(key('STATE_KEY_NEW', NEW), [key('STATE_KEY_OLD', OLD)])

/** A root over `dir` with `keyring`, closed in teardown. */
function rootOf(t: Test, dir: string, keyring: Keyring): StoreRoot {
  const root = makeRoot(dir, { encrypter: keyring, clock: new ManualClock() })
  t.teardown(() => root.close())
  return root
}

/** Writes `count` revs per stack with `keyring`; returns rev -> marker, per stack. */
async function seed(
  t: Test,
  dir: string,
  stacks: readonly string[],
  count: number,
  keyring: Keyring = oldOnly(),
): Promise<Map<string, Map<string, string>>> {
  const root = rootOf(t, dir, keyring)
  const out = new Map<string, Map<string, string>>()
  for (const stack of stacks) {
    const revs = new Map<string, string>()
    for (let i = 0; i < count; i++) {
      const marker = `${stack}.${i}`
      revs.set(
        (await root.stack('f1', stack).write(sampleSnapshot(marker), { ...STATE, makeCurrent: i === count - 1 })).rev,
        marker,
      )
    }
    out.set(stack, revs)
  }
  return out
}

/** How many revs of `expected` open with `keyring` and hold their document; throws on any other fault. */
async function opening(
  root: StoreRoot,
  expected: Map<string, Map<string, string>>,
): Promise<{ open: number; closed: number; wrong: string[] }> {
  let open = 0
  let closed = 0
  const wrong: string[] = []
  for (const [stack, revs] of expected) {
    const store = root.stack('f1', stack)
    if (JSON.stringify(await store.list()) !== JSON.stringify([...revs.keys()]))
      wrong.push(`${stack}: list ${JSON.stringify(await store.list())}`)
    for (const [rev, marker] of revs) {
      try {
        const snapshot = await store.get(rev)
        if (!snapshot.body.equals(sampleSnapshot(marker))) wrong.push(`${stack} ${rev} holds another document`)
        open++
      } catch (err) {
        if (!isStateError(err, 'unreadable-snapshot')) throw err
        closed++
      }
    }
  }
  return { open, closed, wrong }
}

t.test('revs sealed with the old key open with the new key alone only after re-sealing', async (t) => {
  const dir = t.testdir()
  const expected = await seed(t, dir, ['s1', 's2'], 3)
  t.same(
    await opening(rootOf(t, dir, newOnly()), expected),
    { open: 0, closed: 6, wrong: [] },
    'before: the new key alone opens nothing',
  )
  const steps: string[] = []
  const report = await resealTree(rootOf(t, dir, rotating()), {}, (step) => {
    steps.push(`${step.stack} ${step.outcome}`)
  })
  t.same(
    { stacks: report.stacks, resealed: report.resealed, skipped: report.skipped, failed: report.failed },
    { stacks: 2, resealed: 6, skipped: 0, failed: 0 },
  )
  t.same(
    steps,
    ['s1 resealed', 's1 resealed', 's1 resealed', 's2 resealed', 's2 resealed', 's2 resealed'],
    'one progress step per rev',
  )
  t.same(
    await opening(rootOf(t, dir, newOnly()), expected),
    { open: 6, closed: 0, wrong: [] },
    'after: the new key alone opens every rev',
  )
  t.same(
    await opening(rootOf(t, dir, oldOnly()), expected),
    { open: 0, closed: 6, wrong: [] },
    'and the old key no longer does',
  )
  const file = readdirSync(join(dir, 'f1/s1/snapshots'))[0]!
  const envelope = decodeEnvelope(readFileSync(join(dir, 'f1/s1/snapshots', file)))
  t.same(
    envelope.encrypter,
    { name: 'env-key', body: { 'env-var': 'STATE_KEY_NEW' } },
    'the envelope names the new key',
  )
  t.equal(envelope.payloadType, 'state', 'the payload type is kept')
  t.equal(
    await rootOf(t, dir, newOnly()).stack('f1', 's2').currentRev(),
    [...expected.get('s2')!.keys()][2],
    'current is unchanged',
  )
})

t.test('a rerun skips every rev already sealed with the sealing key and changes no file', async (t) => {
  const dir = t.testdir()
  await seed(t, dir, ['s1'], 4)
  const root = rootOf(t, dir, rotating())
  await resealTree(root)
  const files = readdirSync(join(dir, 'f1/s1/snapshots')).map((n) =>
    readFileSync(join(dir, 'f1/s1/snapshots', n)).toString('base64'),
  )
  const again = await resealTree(root)
  t.same({ resealed: again.resealed, skipped: again.skipped }, { resealed: 0, skipped: 4 })
  t.same(
    readdirSync(join(dir, 'f1/s1/snapshots')).map((n) =>
      readFileSync(join(dir, 'f1/s1/snapshots', n)).toString('base64'),
    ),
    files,
    'every file as it was',
  )
})

t.test('a new key put in the variable the old key used is still re-sealed', async (t) => {
  const dir = t.testdir()
  const expected = await seed(t, dir, ['s1'], 2, new Keyring(key('STATE_KEY', OLD)))
  // Same variable name, new value; the old value moved to another variable: the refs match, the keys do not.
  const report = await resealTree(rootOf(t, dir, new Keyring(key('STATE_KEY', NEW), [key('STATE_KEY_OLD', OLD)])))
  t.equal(report.resealed, 2)
  t.same(await opening(rootOf(t, dir, new Keyring(key('STATE_KEY', NEW))), expected), { open: 2, closed: 0, wrong: [] })
})

t.test('revs in the trash are re-sealed too, so they restore under the new key', async (t) => {
  const dir = t.testdir()
  const expected = await seed(t, dir, ['s1'], 3)
  const [first] = [...expected.get('s1')!.keys()]
  const { trashed } = await rootOf(t, dir, oldOnly())
    .stack('f1', 's1')
    .prune({ policy: { keep: 2, maxAgeMs: null } })
  t.same(trashed, [first])
  const steps: string[] = []
  await resealTree(rootOf(t, dir, rotating()), {}, (step) => {
    steps.push(`${step.rev === first ? 'first' : 'other'} ${step.trashed ? 'trash' : 'history'} ${step.outcome}`)
  })
  t.same(steps, ['other history resealed', 'other history resealed', 'first trash resealed'])
  const store = rootOf(t, dir, newOnly()).stack('f1', 's1')
  await store.restore(first!)
  t.ok((await store.get(first!)).body.equals(sampleSnapshot('s1.0')), 'the restored rev opens with the new key alone')
})

t.test('a rev no configured key opens is reported and left as it is; the others are re-sealed', async (t) => {
  const dir = t.testdir()
  await seed(t, dir, ['s1'], 2)
  const { rev: stranger } = await rootOf(
    t,
    dir,
    new Keyring(key('STATE_KEY_OTHER', Buffer.alloc(32, 'x').toString('base64'))),
  )
    .stack('f1', 's1')
    .write(sampleSnapshot('x'), STATE)
  const path = join(dir, 'f1/s1/snapshots', `${stranger}.json.enc`)
  const bytes = readFileSync(path)
  const report = await resealTree(rootOf(t, dir, rotating()))
  t.same({ resealed: report.resealed, failed: report.failed }, { resealed: 2, failed: 1 })
  t.equal(report.failures[0]!.rev, stranger)
  t.match(report.failures[0]!.detail, /STATE_KEY_OTHER/, 'the failure names the key that sealed it')
  t.ok(readFileSync(path).equals(bytes), 'the unreadable rev is untouched')
})

t.test('POST …/snapshots:reseal re-seals one stack, needs admin, and is audited and counted', async (t) => {
  const dir = t.testdir()
  const expected = await seed(t, dir, ['s1', 's2'], 2)
  const admin = newToken()
  const writer = newToken()
  const auth = authFromText(
    tokensFileText([
      { name: 'ops', token: admin, grants: [{ scope: '*/*', allow: ['admin', 'read'] }] },
      {
        name: 'ci',
        token: writer,
        grants: [{ scope: '*/*', allow: ['read', 'write', 'lock', 'delete', 'force-unlock'] }],
      },
    ]),
  )
  const { app, audit } = await buildTestApp(t, { dir, encrypter: rotating(), auth })
  t.equal(
    (await app.inject({ method: 'POST', url: `${stackUrl('f1', 's1')}/snapshots:reseal`, headers: bearer(writer) }))
      .statusCode,
    403,
    'write, delete and lock are not enough',
  )
  const res = await app.inject({
    method: 'POST',
    url: `${stackUrl('f1', 's1')}/snapshots:reseal`,
    headers: bearer(admin),
  })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { resealed: 2, skipped: 0, failed: [], sealedWith: 'env-key env-var STATE_KEY_NEW' })
  const again = await app.inject({
    method: 'POST',
    url: `${stackUrl('f1', 's1')}/snapshots:reseal`,
    headers: bearer(admin),
  })
  t.same(
    again.json(),
    { resealed: 0, skipped: 2, failed: [], sealedWith: 'env-key env-var STATE_KEY_NEW' },
    'a rerun skips both',
  )
  const event = audit.events.find((e) => e.action === 'snapshot.reseal')
  t.match(
    event,
    { principal: 'ops', factory: 'f1', stack: 's1', detail: { resealed: 2, skipped: 0, failed: 0 } },
    'audited with the principal',
  )
  const after = await opening(rootOf(t, dir, newOnly()), expected)
  t.same(after, { open: 2, closed: 2, wrong: [] }, 'only s1 was re-sealed')
  const metrics = parseExposition((await app.inject({ method: 'GET', url: '/metrics', headers: bearer(admin) })).body)
  t.equal(sampleValue(metrics, 'unobin_state_reseal_revs_total', { outcome: 'resealed' }), 2)
  t.equal(sampleValue(metrics, 'unobin_state_reseal_revs_total', { outcome: 'skipped' }), 2)
})

// --- the command -----------------------------------------------------------

/**
 * Starts `unobin-state-server reseal` (the compiled server, as operators run
 * it) over `dir` with the new key sealing and the old one opening. Without
 * NODE_OPTIONS (see test/helpers/child.ts: tap's hook costs time in every
 * child); `env` execs node under the same pid, so SIGKILL reaches it.
 */
function startReseal(t: Test, dir: string, extra: readonly string[] = []): Child {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...ENV }
  const args = [
    '-u',
    'NODE_OPTIONS',
    process.execPath,
    SERVER_JS,
    'reseal',
    '--data-dir',
    dir,
    '--encryption',
    'env-key',
    '--key-env',
    'STATE_KEY_NEW',
    '--old-key-env',
    'STATE_KEY_OLD',
    '--audit-log',
    join(dir, 'audit.jsonl'),
    ...extra,
  ]
  const child = new Child(spawn('env', args, { env, stdio: ['pipe', 'pipe', 'pipe'] }), 'reseal')
  t.teardown(() => child.kill())
  return child
}

t.test('the reseal command prints one line per rev and a total, audits each stack, and exits 0', async (t) => {
  const dir = t.testdir()
  const expected = await seed(t, dir, ['s1', 's2'], 2)
  const child = startReseal(t, dir)
  await child.done()
  t.match(child.lines[0], /^re-sealing with env-key env-var STATE_KEY_NEW in /)
  t.equal(child.lines.filter((l) => /^resealed f1\/s[12] \S+$/.test(l)).length, 4, 'four progress lines')
  t.equal(child.lines.at(-1), 'done: 4 resealed, 0 skipped, 0 failed, in 2 stacks')
  const events = readFileSync(join(dir, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  t.same(
    events.map((e) => [e.action, e.stack]),
    [
      ['snapshot.reseal', 's1'],
      ['snapshot.reseal', 's2'],
    ],
    'one audit event per stack',
  )
  t.same(await opening(rootOf(t, dir, newOnly()), expected), { open: 4, closed: 0, wrong: [] })
})

t.test('the reseal command exits 1 naming the rev no key opens, and 2 for a bad key setting', async (t) => {
  const dir = t.testdir()
  await seed(t, dir, ['s1'], 1)
  const { rev: stranger } = await rootOf(
    t,
    dir,
    new Keyring(key('STATE_KEY_OTHER', Buffer.alloc(32, 'x').toString('base64'))),
  )
    .stack('f1', 's1')
    .write(sampleSnapshot('x'), STATE)
  const failing = startReseal(t, dir)
  t.same(await failing.closed, { code: 1, signal: null })
  t.ok(
    failing.lines.some((l) => l.startsWith(`failed f1/s1 ${stranger}: `) && l.includes('STATE_KEY_OTHER')),
    'the failed line names the rev and its key',
  )
  t.equal(failing.lines.at(-1), 'done: 1 resealed, 0 skipped, 1 failed, in 1 stacks')
  const misconfigured = startReseal(t, dir, ['--old-key-env', 'NOT_SET_ANYWHERE'])
  t.same(await misconfigured.closed, { code: 2, signal: null })
  t.match(misconfigured.stderr, /NOT_SET_ANYWHERE/)
})

t.test('SIGKILL in the middle of re-sealing leaves every rev readable, and a rerun completes the job', async (t) => {
  const dir = t.testdir()
  const stacks = ['s1', 's2', 's3']
  const expected = await seed(t, dir, stacks, 50)
  const total = stacks.length * 50
  const both = () => rootOf(t, dir, rotating())
  let resealedBefore = 0
  for (let cycle = 0; cycle < 3; cycle++) {
    const child = startReseal(t, dir)
    for (let i = 0; i < 20; i++) await child.line('resealed ')
    const exit = await child.kill()
    t.equal(exit.signal, 'SIGKILL', `cycle ${cycle}: killed while re-sealing`)
    // A kill inside a stack's mutex leaves it behind, naming the dead re-sealer: taken over at once.
    t.same(
      await opening(both(), expected),
      { open: total, closed: 0, wrong: [] },
      `cycle ${cycle}: every rev opens with the old and new keys and holds its document`,
    )
    const done = (await opening(rootOf(t, dir, newOnly()), expected)).open
    t.ok(done >= resealedBefore + 20 && done < total, `cycle ${cycle}: ${done} of ${total} re-sealed so far`)
    resealedBefore = done
  }
  const rerun = startReseal(t, dir)
  await rerun.done()
  const summary = /^done: (\d+) resealed, (\d+) skipped, 0 failed, in 3 stacks$/.exec(rerun.lines.at(-1) ?? '')
  t.ok(summary, `the rerun finished: ${rerun.lines.at(-1)}`)
  t.equal(Number(summary?.[2]), resealedBefore, 'it skipped exactly what the killed runs had done')
  t.equal(Number(summary?.[1]), total - resealedBefore, 'and re-sealed the rest')
  t.same(
    await opening(rootOf(t, dir, newOnly()), expected),
    { open: total, closed: 0, wrong: [] },
    'the new key alone opens every rev',
  )
  for (const stack of stacks) {
    const names = readdirSync(join(dir, 'f1', stack, 'snapshots'))
    t.equal(
      names.filter((n) => n.endsWith('.json.enc') && !n.startsWith('.')).length,
      50,
      `${stack}: no rev lost or added`,
    )
  }
})
