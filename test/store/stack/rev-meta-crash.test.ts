/**
 * A process SIGKILLed at each step around a rev's metadata (writing it,
 * hiding it with a deleted rev, moving it into the trash and back) never
 * leaves a rev with another document's metadata; what it may leave (a rev
 * without metadata, metadata without a rev) reads as "no metadata" and is
 * cleaned up by the next recorded write.
 */
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { ManagedStore, WriteRecord } from '../../../src/store/store.js'
import { ChildScripts } from '../../helpers/child.js'
import { makeRoot, sampleSnapshot } from '../../helpers/store.js'

t.setTimeout(240_000)
const children = new ChildScripts(t.testdir())
const FACTORY = 'cluster-deploy'
const RECORD: WriteRecord = {
  principal: 'parent',
  remote: null,
  requestId: null,
  kind: 'unobin',
  serial: null,
  lineage: null,
}
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** A fresh store over `dir` (a new root: nothing cached from before the kill). */
const open = (dir: string, stack: string): ManagedStore => makeRoot(dir).stack(FACTORY, stack)

/** Three recorded revs, the newest current; the oldest in the trash when `trashed`. */
async function seed(dir: string, stack: string, trashed: boolean): Promise<string[]> {
  const store = open(dir, stack)
  const revs: string[] = []
  for (const m of ['s1', 's2', 's3'])
    revs.push((await store.write(sampleSnapshot(m), { payloadType: 'state', makeCurrent: true, record: RECORD })).rev)
  if (trashed) await store.prune({ policy: { keep: 2, maxAgeMs: null } })
  return revs
}

/** Every listed rev has no metadata or its own: the recorded digest is the digest of what the rev reads back. */
async function assertNoForeignMeta(t: Test, store: ManagedStore): Promise<{ revs: string[]; described: number }> {
  const revs = await store.list()
  const metas = await store.describe(revs)
  let described = 0
  for (const [i, rev] of revs.entries()) {
    const meta = metas[i]
    if (meta === null || meta === undefined) continue
    described++
    const body = (await store.get(rev)).body
    t.equal(meta.sha256, sha256(body), `rev ${rev} has its own metadata`)
    t.equal(meta.bytes, body.length)
  }
  return { revs, described }
}

/** The metadata files on disk whose rev is not listed. */
function strayMetas(dir: string, stack: string, revs: readonly string[]): string[] {
  const metaDir = join(dir, FACTORY, stack, '.meta')
  if (!existsSync(metaDir)) return []
  return readdirSync(metaDir).filter((n) => !n.startsWith('.tmp-') && !revs.includes(n.slice(0, -'.json'.length)))
}

interface Case {
  readonly op: 'write' | 'delete' | 'prune' | 'restore'
  readonly step: string
  /** Whether the rev the change is about is listed after the kill. */
  readonly listed: boolean
  /** Whether that rev has (its own) metadata after the kill. */
  readonly described: boolean
}

const CASES: Case[] = [
  { op: 'write', step: 'open:to-meta:before', listed: false, described: false },
  // The metadata file exists, empty, under the rev's name; the rev does not.
  { op: 'write', step: 'open:to-meta:after', listed: false, described: false },
  { op: 'write', step: 'link:to-snapshots:before', listed: false, described: false },
  { op: 'write', step: 'link:to-snapshots:after', listed: true, described: true },
  { op: 'delete', step: 'rename:from-meta:after', listed: true, described: false },
  { op: 'delete', step: 'rename:from-snapshots:after', listed: false, described: false },
  { op: 'prune', step: 'rename:from-meta:after', listed: true, described: false },
  { op: 'prune', step: 'rename:from-snapshots:after', listed: false, described: false },
  { op: 'restore', step: 'link:to-meta:after', listed: false, described: false },
  { op: 'restore', step: 'link:to-snapshots:after', listed: true, described: true },
]

for (const [n, c] of CASES.entries()) {
  t.test(`SIGKILL at ${c.op} ${c.step} leaves no rev with another rev's metadata`, async (t) => {
    const dir = t.testdir()
    const stack = `crash-${n}`
    const seeded = await seed(dir, stack, c.op === 'restore')
    // delete: the oldest rev (not current); restore: the one in the trash; prune/write: found after the kill.
    const target = c.op === 'delete' || c.op === 'restore' ? [seeded[0]!] : []
    const child = children.spawn(t, 'meta-crasher', [dir, FACTORY, stack, c.op, c.step, ...target])
    await child.line('ready')
    child.send('go')
    t.equal(await child.line('at '), `at ${c.step}`)
    await child.kill()

    const store = open(dir, stack)
    const { revs } = await assertNoForeignMeta(t, store)
    const about = c.op === 'write' ? revs.find((r) => !seeded.includes(r)) : seeded[0]!
    if (c.op === 'write') t.equal(about !== undefined, c.listed, 'the new rev is listed only once linked')
    else t.equal(revs.includes(about!), c.listed)
    if (about !== undefined && revs.includes(about))
      t.equal((await store.describe([about]))[0] !== null, c.described, 'metadata after the kill')

    // The next recorded write (a new process) works, has its own metadata, and leaves no stray metadata behind.
    const body = sampleSnapshot('after')
    const { rev } = await store.write(body, { payloadType: 'state', makeCurrent: true, record: RECORD })
    t.equal((await store.describe([rev]))[0]?.sha256, sha256(body))
    const after = await assertNoForeignMeta(t, store)
    t.same(strayMetas(dir, stack, after.revs), [], 'stray metadata swept')
  })
}
