/**
 * On a data volume that folds case, a factory or stack name that differs
 * only in case from one on disk is refused (`name-case-conflict`) for reads
 * and changes alike, and the refusal changes nothing. Run on a simulated
 * case-folding filesystem (test/helpers/case-folding-fs.ts).
 */
import t, { type Test } from 'tap'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { SystemClock } from '../../../src/clock.js'
import { NoopEncrypter } from '../../../src/crypto/noop.js'
import { UNOBIN_PAYLOAD } from '../../../src/store/envelope.js'
import { StoreRoot } from '../../../src/store/store-root.js'
import { caseFoldingRoot } from '../../helpers/case-folding-fs.js'
import { sampleSnapshot } from '../../helpers/store.js'

function foldingRoot(t: Test, foldsCase = true): { root: StoreRoot; dir: string } {
  const dir = t.testdir()
  const root = caseFoldingRoot(dir, foldsCase)
  return { root, dir }
}

/** Every path under `dir`, sorted (what a refusal must leave unchanged). */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort()
}

const write = (root: StoreRoot, factory: string, stack: string) =>
  root.stack(factory, stack).write(sampleSnapshot(stack), { payloadType: UNOBIN_PAYLOAD, makeCurrent: true })

t.test('a factory spelled in another case than on disk is refused, and nothing changes', async (t) => {
  const { root, dir } = foldingRoot(t)
  await write(root, 'prod', 'app')
  const before = tree(dir)
  await t.rejects(write(root, 'Prod', 'app'), {
    code: 'name-case-conflict',
    details: { factory: 'Prod', stack: 'app', existing: 'prod' },
  })
  await t.rejects(write(root, 'PROD', 'other'), { code: 'name-case-conflict' })
  await t.rejects(root.stack('Prod', 'app').lock({ who: 'x' }, {}), { code: 'name-case-conflict' })
  t.same(tree(dir), before)
})

t.test('a stack spelled in another case than on disk is refused for reads too', async (t) => {
  const { root } = foldingRoot(t)
  const { rev } = await write(root, 'prod', 'app')
  await t.rejects(root.stack('prod', 'App').currentRev(), {
    code: 'name-case-conflict',
    details: { stack: 'App', existing: 'app' },
  })
  await t.rejects(root.stack('prod', 'APP').get(rev), { code: 'name-case-conflict' })
  t.equal(await root.stack('prod', 'app').currentRev(), rev, 'the name as on disk still works')
})

t.test('names that differ in more than case are distinct stacks on a folding volume', async (t) => {
  const { root } = foldingRoot(t)
  await write(root, 'prod', 'app')
  await write(root, 'prod', 'app2')
  await write(root, 'prod2', 'app')
  t.same(await root.stacks('prod'), ['app', 'app2'])
  t.same(await root.factories(), ['prod', 'prod2'])
})

t.test('without folding (a case-sensitive volume) names in two cases are two stacks', async (t) => {
  const dir = t.testdir()
  const root = new StoreRoot({
    root: dir,
    encrypter: new NoopEncrypter(),
    clock: new SystemClock(),
    identity: { pid: process.pid, host: 'test-host' },
  })
  await write(root, 'prod', 'app')
  await write(root, 'Prod', 'app')
  t.same(await root.factories(), ['Prod', 'prod'])
  t.same(readdirSync(join(dir, 'Prod')), ['app'])
})
