/** A LocalStore over a fresh testdir or a copy of a Go tree, and the checks its tests share. */
import { codeOf } from './store.js'
import { chmodSync, cpSync, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { waitFor } from './wait.js'
import type { Clock } from '../../src/clock.js'
import type { Encrypter } from '../../src/crypto/encrypter.js'
import { isStateError } from '../../src/errors.js'
import type { LocalStore } from '../../src/store/stack/local-store.js'
import type { StoreRoot } from '../../src/store/store-root.js'
import { ManualClock } from './clock.js'
import { FaultyFs } from './faulty-fs.js'
import { FIXTURES, fixtureKeyring, makeRoot, sampleSnapshot } from './store.js'

// --- helpers ---------------------------------------------------------------

/** What the helpers need of a tap test. */
export interface TapLike {
  testdir(): string
  teardown(fn: () => unknown): void
}

export interface Ctx {
  readonly dir: string
  readonly stackDir: string
  readonly snapshots: string
  readonly root: StoreRoot
  readonly store: LocalStore
  readonly clock: ManualClock
  readonly fs: FaultyFs
}

export interface SetupOptions {
  readonly encrypter?: Encrypter
  readonly clock?: Clock
  readonly tree?: 'env-key' | 'noop'
  readonly pollMs?: number
}

export const FACTORY = 'cluster-deploy'
export const STACKS = { 'env-key': 'prod-east', noop: 'dev' } as const
export const STATE = { payloadType: 'state' } as const
export const T0 = '2026-07-10T12:00:00Z'

/** Copies a Go fixture tree into `dir` and makes it writable (the fixtures are read-only). */
export function copyTree(tree: 'env-key' | 'noop', dir: string): void {
  cpSync(join(FIXTURES, tree, 'store'), dir, { recursive: true })
  const writable = (path: string): void => {
    if (lstatSync(path).isDirectory()) {
      chmodSync(path, 0o755)
      for (const name of readdirSync(path)) writable(join(path, name))
    } else {
      chmodSync(path, 0o644)
    }
  }
  writable(dir)
}

/** A store over a fresh testdir (or a copy of a Go tree), with a FaultyFs that records calls and a frozen clock. */
export function setup(t: TapLike, options: SetupOptions = {}): Ctx {
  const dir = t.testdir()
  if (options.tree !== undefined) copyTree(options.tree, dir)
  const stack = options.tree === undefined ? 'dev' : STACKS[options.tree]
  const clock = new ManualClock(T0)
  const fs = new FaultyFs()
  const root = makeRoot(dir, {
    encrypter: options.encrypter ?? (options.tree === 'env-key' ? fixtureKeyring() : undefined),
    clock: options.clock ?? clock,
    fs,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
  })
  t.teardown(() => root.close())
  const stackDir = join(dir, FACTORY, stack)
  return { dir, stackDir, snapshots: join(stackDir, 'snapshots'), root, store: root.stack(FACTORY, stack), clock, fs }
}

/** Every file under `dir` with its content (symlinks by target), `.mutex` excluded. */
export function fileTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (rel: string): void => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`
      if (entry.name === '.mutex') continue
      if (entry.isSymbolicLink()) out[path] = `-> ${readlinkSync(join(dir, path))}`
      else if (entry.isDirectory()) {
        out[`${path}/`] = 'dir'
        walk(path)
      } else out[path] = readFileSync(join(dir, path)).toString('base64')
    }
  }
  if (existsSync(dir)) walk('')
  return out
}

/** Temp files left in the stack directory or its snapshots. */
export function temps(ctx: Ctx): string[] {
  return [ctx.stackDir, ctx.snapshots].flatMap((d) =>
    existsSync(d) ? readdirSync(d).filter((n) => n.startsWith('.tmp-')) : [],
  )
}

/** What a client sees of a stack: revs, current (or its error code) and the lock holder's id. */
export async function visible(store: LocalStore): Promise<{ list: string[]; current: string; lock: string | null }> {
  const current = await store.currentRev().catch((err: unknown) => `<${isStateError(err) ? err.code : String(err)}>`)
  return { list: await store.list(), current, lock: (await store.inspectLock())?.id ?? null }
}

/** Waits until `condition` holds; fails after a generous guard (not a timing claim). */
export async function until(condition: () => boolean): Promise<void> {
  await waitFor(condition, 30_000, 'the condition')
}

/** Writes `count` revs with the frozen clock; returns them in write order. */
export async function writeRevs(store: LocalStore, count: number): Promise<string[]> {
  const revs: string[] = []
  for (let i = 0; i < count; i++) revs.push((await store.write(sampleSnapshot(i), STATE)).rev)
  return revs
}

// --- Go fixture trees ------------------------------------------------------

export { codeOf }
