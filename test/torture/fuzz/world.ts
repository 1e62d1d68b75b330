/** A world: one seeded app over one data root, rebuilt from its seed when it has drifted far. */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import type { App } from '../../../src/http/app-type.js'
import type { AuthOptions, RouteEntry } from '../../../src/http/auth.js'
import { buildTestApp, stackUrl } from '../../helpers/app.js'
import { lockInfo, terraformState } from '../../helpers/auth.js'
import { type FsCall, FaultyFs } from '../../helpers/faulty-fs.js'
import { sampleSnapshot } from '../../helpers/store.js'
import {
  HOLDER,
  JSON_TYPE,
  LINEAGE,
  MAX_CHANGES,
  MAX_TREE_ENTRIES,
  MAX_WAIT_SECONDS,
  REV0,
  REV1,
  TF_LOCK_ID,
  TRASHED,
  figures,
} from './settings.js'
import { type Digest, digestTree, inside } from './tree.js'

// --- worlds --------------------------------------------------------------------

/** What a seeded world knows: its revs (f1/s1's two, f1/s2's two, f2/tf's one), the rev in f1/s2's trash, f1/s1's lock id. */
export interface Known {
  readonly revs: string[]
  readonly trashed: string
  readonly holder: string
}

export interface WorldOptions {
  readonly auth?: AuthOptions
  /** Headers the seeding requests send (credentials on the auth world). */
  readonly seedHeaders?: Record<string, string>
  readonly bodyLimitBytes?: number
}

/** One app over one data root, seeded; rebuilt from the seed when it has drifted far. */
export class World {
  app!: App
  fs!: FaultyFs
  routes!: readonly RouteEntry[]
  known!: Known
  digest!: Digest
  changes = 0
  rebuilds = 0
  #close: (() => Promise<void>) | undefined

  constructor(
    readonly t: Test,
    readonly dir: string,
    readonly options: WorldOptions,
  ) {}

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true })
    this.fs = new FaultyFs()
    const built = await buildTestApp(this.t, {
      dir: this.dir,
      fs: this.fs,
      auth: this.options.auth,
      maxWaitSeconds: MAX_WAIT_SECONDS,
      bodyLimitBytes: this.options.bodyLimitBytes ?? 1024 * 1024,
    })
    this.app = built.app
    this.routes = built.routes
    this.#close = async () => {
      await built.app.close()
      built.root.close()
    }
    this.known = await seed(this.app, this.dir, this.options.seedHeaders ?? {})
    this.drain('seeding')
    this.digest = digestTree(this.dir)
    this.changes = 0
  }

  /** Rebuilds the world when it drifted far from its seed. */
  async refresh(): Promise<void> {
    if (this.digest.entries.size <= MAX_TREE_ENTRIES && this.changes < MAX_CHANGES) return
    this.drain('before a rebuild')
    await this.#close?.()
    rmSync(this.dir, { recursive: true, force: true })
    this.rebuilds++
    await this.start()
  }

  /** Checks and forgets the filesystem calls recorded since the last drain; returns them. */
  drain(label: string): FsCall[] {
    const calls = this.fs.calls.splice(0)
    figures.fsCallsChecked += calls.length
    for (const call of calls) {
      if (call.path.includes('\u0000') || !inside(this.dir, call.path)) {
        throw new Error(
          `${label}: the store called ${call.method} on ${JSON.stringify(call.path)}, outside its data root ${this.dir}`,
        )
      }
    }
    return calls
  }

  /** Fills the placeholders of a generated text. */
  fill(text: string): string {
    return text
      .replaceAll(HOLDER, this.known.holder)
      .replaceAll(REV0, this.known.revs[0]!)
      .replaceAll(REV1, this.known.revs[1]!)
      .replaceAll(TRASHED, this.known.trashed)
  }
}

/**
 * Seeds a world over HTTP: f1/s1 with two revs, the second current, locked
 * (no lease); f1/s2 with a current rev and an older one pruned into its
 * trash; f2/tf with Terraform state, locked by Terraform's LOCK; f2/legacy
 * with the lock marker the Go tool writes ("<pid>\n").
 */
export async function seed(app: App, dir: string, auth: Record<string, string>): Promise<Known> {
  const send = async (method: string, url: string, payload?: string | Buffer): Promise<LightMyRequestResponse> => {
    const headers = payload === undefined ? auth : { ...auth, 'content-type': JSON_TYPE }
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload === undefined ? {} : { payload }),
    })
    if (res.statusCode >= 300) throw new Error(`seeding: ${method} ${url} answered ${res.statusCode} ${res.body}`)
    return res
  }
  const s1 = stackUrl('f1', 's1')
  const s2 = stackUrl('f1', 's2')
  const tf = stackUrl('f2', 'tf')
  const r0 = (await send('POST', `${s1}/snapshots`, sampleSnapshot('s1-a', 's1'))).json<{ rev: string }>().rev
  const r1 = (await send('POST', `${s1}/snapshots?current=true`, sampleSnapshot('s1-b', 's1'))).json<{ rev: string }>()
    .rev
  const holder = (await send('POST', `${s1}/lock`, JSON.stringify({ who: 'seed', operation: 'apply' }))).json<{
    id: string
  }>().id
  const r2 = (await send('POST', `${s2}/snapshots`, sampleSnapshot('s2-a', 's2'))).json<{ rev: string }>().rev
  const r3 = (await send('POST', `${s2}/snapshots?current=true`, sampleSnapshot('s2-b', 's2'))).json<{ rev: string }>()
    .rev
  const pruned = (await send('POST', `${s2}/snapshots:prune`, JSON.stringify({ keep: 1 }))).json<{
    trashed: string[]
  }>().trashed
  if (pruned.length !== 1 || pruned[0] !== r2)
    throw new Error(`seeding: the prune trashed ${JSON.stringify(pruned)}, not ${r2}`)
  const r4 = (await send('POST', `${tf}/terraform`, terraformState(3, LINEAGE))).json<{ rev: string }>().rev
  await send('LOCK', `${tf}/terraform`, lockInfo(TF_LOCK_ID, 'seed@terraform'))
  mkdirSync(join(dir, 'f2', 'legacy', 'snapshots'), { recursive: true })
  writeFileSync(join(dir, 'f2', 'legacy', 'lock'), '4242\n')
  return { revs: [r0, r1, r2, r3, r4], trashed: r2, holder }
}
