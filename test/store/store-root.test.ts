import t from 'tap'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isStateError } from '../../src/errors.js'
import { ManualClock } from '../helpers/clock.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'

/** A data directory with real factories and stacks next to entries discovery must skip. */
function populatedRoot(t: { testdir(): string }): string {
  const top = t.testdir()
  const dir = join(top, 'data')
  for (const path of [
    'alpha/one/snapshots',
    'alpha/two',
    'alpha/.hidden-stack',
    'beta/only',
    '.hidden-factory/s',
    'Gamma.2_x-y',
  ])
    mkdirSync(join(dir, path), { recursive: true })
  mkdirSync(join(top, 'outside/stolen'), { recursive: true })
  writeFileSync(join(dir, 'README'), 'a file, not a factory')
  writeFileSync(join(dir, 'alpha', 'notes.txt'), 'a file, not a stack')
  symlinkSync(join(dir, 'alpha'), join(dir, 'linked-factory'))
  symlinkSync(join(top, 'outside'), join(dir, 'escape'))
  symlinkSync(join(top, 'outside', 'stolen'), join(dir, 'alpha', 'linked-stack'))
  return dir
}

t.test('factories lists real factory directories only, sorted', async (t) => {
  const root = makeRoot(populatedRoot(t))
  t.same(await root.factories(), ['Gamma.2_x-y', 'alpha', 'beta'])
})

t.test('stacks lists real stack directories only, sorted', async (t) => {
  const root = makeRoot(populatedRoot(t))
  t.same(await root.stacks('alpha'), ['one', 'two'])
  t.same(await root.stacks('beta'), ['only'])
  t.same(await root.stacks('Gamma.2_x-y'), [], 'a factory without stacks lists none')
})

t.test('stacks of an unknown factory is factory-not-found', async (t) => {
  const root = makeRoot(populatedRoot(t))
  await t.rejects(root.stacks('nope'), { code: 'factory-not-found', details: { factory: 'nope' } })
})

t.test('stacks of a symlinked factory is factory-not-found, as discovery skips it', async (t) => {
  const root = makeRoot(populatedRoot(t))
  await t.rejects(root.stacks('linked-factory'), { code: 'factory-not-found' })
  await t.rejects(root.stacks('escape'), { code: 'factory-not-found' })
})

t.test('discovery of a data directory that does not exist yet is empty', async (t) => {
  const root = makeRoot(join(t.testdir(), 'not-yet'))
  t.same(await root.factories(), [])
  await t.rejects(root.stacks('alpha'), { code: 'factory-not-found' })
})

const HOSTILE_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['empty', ''],
  ['dot', '.'],
  ['dot-dot', '..'],
  ['a leading dot', '.x'],
  ['a leading dash', '-x'],
  ['a leading underscore', '_x'],
  ['a slash', 'a/b'],
  ['a traversal', '../etc'],
  ['a backslash', 'a\\b'],
  ['a NUL byte', 'a\u0000b'],
  ['a newline', 'a\nb'],
  ['a space', 'a b'],
  ['a colon', 'a:b'],
  ['a percent-encoded slash', 'a%2fb'],
  ['129 characters', `a${'b'.repeat(128)}`],
  ['fullwidth letters', 'ａｂｃ'],
  ['a Cyrillic look-alike', 'аlpha'],
  ['an accented letter', 'café'],
]

t.test('stack() refuses every hostile factory or stack name as invalid-name', async (t) => {
  const root = makeRoot(t.testdir())
  for (const [why, name] of HOSTILE_NAMES) {
    t.throws(
      () => root.stack(name, 'dev'),
      { code: 'invalid-name', details: { factory: String } },
      `factory with ${why}`,
    )
    t.throws(() => root.stack('alpha', name), { code: 'invalid-name', details: { stack: String } }, `stack with ${why}`)
  }
  await t.rejects(root.stacks('..'), { code: 'invalid-name' })
  await t.rejects(root.summary('alpha', '../x'), { code: 'invalid-name' })
})

t.test('stack() accepts names at the edges of the pattern', async (t) => {
  const root = makeRoot(t.testdir())
  for (const name of ['a', '0', 'A.b_c-d', `a${'b'.repeat(127)}`, 'x..y'])
    t.same(root.stack(name, name).stack(), { factory: name, stack: name }, name)
})

t.test('stack() returns the same store every time', async (t) => {
  const root = makeRoot(t.testdir())
  t.equal(root.stack('alpha', 'one'), root.stack('alpha', 'one'))
  t.not(root.stack('alpha', 'one'), root.stack('alpha', 'two'))
})

t.test('an invalid name error never carries raw control characters', async (t) => {
  const root = makeRoot(t.testdir())
  try {
    root.stack('a\u0000\n', 'dev')
    t.fail('expected invalid-name')
  } catch (err) {
    t.ok(isStateError(err, 'invalid-name'))
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the message must not carry a NUL or a newline
    t.notMatch((err as Error).message, /[\u0000\n]/)
  }
})

t.test('summary counts revs and shows current and the lock holder', async (t) => {
  const dir = t.testdir()
  const root = makeRoot(dir, { clock: new ManualClock() })
  const store = root.stack('alpha', 'one')
  await store.write(sampleSnapshot(1), { payloadType: 'state' })
  const current = (await store.write(sampleSnapshot(2), { payloadType: 'state', makeCurrent: true })).rev
  await store.write(sampleSnapshot(3), { payloadType: 'state' })
  const holder = await store.lock({ who: 'ci', operation: 'apply' }, {})
  t.same(await root.summary('alpha', 'one'), {
    factory: 'alpha',
    stack: 'one',
    current,
    revs: 3,
    lock: holder,
    error: null,
  })
  await store.unlock(holder.id)
  t.same(await root.summary('alpha', 'one'), {
    factory: 'alpha',
    stack: 'one',
    current,
    revs: 3,
    lock: null,
    error: null,
  })
  t.same(await root.factories(), ['alpha'])
  t.same(await root.stacks('alpha'), ['one'])
})

t.test('summary of a stack without current or revs shows nulls and zero', async (t) => {
  const root = makeRoot(t.testdir())
  t.same(await root.summary('alpha', 'empty'), {
    factory: 'alpha',
    stack: 'empty',
    current: null,
    revs: 0,
    lock: null,
    error: null,
  })
})

t.test('summary of a stack with an unreadable current reports the error, not "no current"', async (t) => {
  const dir = t.testdir()
  const root = makeRoot(dir)
  await root.stack('alpha', 'one').write(sampleSnapshot(), { payloadType: 'state' })
  writeFileSync(join(dir, 'alpha', 'one', 'current'), 'garbage\n')
  // Reported in the summary (discovery must still list the other stacks), never as "no current".
  t.same(await root.summary('alpha', 'one'), {
    factory: 'alpha',
    stack: 'one',
    current: null,
    revs: 1,
    lock: null,
    error: 'unreadable-snapshot',
  })
})

t.test('a StoreRoot exposes its encrypter and clock', async (t) => {
  const clock = new ManualClock()
  const root = makeRoot(t.testdir(), { clock })
  t.equal(root.clock, clock)
  t.equal(root.encrypter.ref.name, 'noop')
})
