import { isStateError } from '../../src/errors.js'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Clock, SystemClock } from '../../src/clock.js'
import type { Encrypter } from '../../src/crypto/encrypter.js'
import { keyFromEnv } from '../../src/crypto/keys.js'
import { Keyring } from '../../src/crypto/keyring.js'
import { NoopEncrypter } from '../../src/crypto/noop.js'
import type { FsOps } from '../../src/fs/fs-ops.js'
import { StoreRoot } from '../../src/store/store-root.js'

/** Folder of the Go-written fixtures (copied from the Go tool's output). */
export const FIXTURES = fileURLToPath(new URL('../fixtures/unobin/', import.meta.url))

/** The published test key of the env-key fixture (32 bytes of 'k'). */
/** The env-key fixture's revs in the order the Go tool lists them. */
export const ENV_KEY_REVS = [
  '2026-07-10T12:00:00Z',
  '2026-07-10T12:00:00Z_1',
  '2026-07-10T12:00:00.1Z',
  '2026-07-10T12:00:01.00012Z',
  '2026-07-10T12:00:02.000000005Z',
]

export const FIXTURE_KEY = 'a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s='

/** A keyring sealing with the fixture key under env var UNOBIN_STATE_KEY. */
export function fixtureKeyring(): Keyring {
  return new Keyring(keyFromEnv({ UNOBIN_STATE_KEY: FIXTURE_KEY }, 'UNOBIN_STATE_KEY'))
}

/** Options for a test store root. */
export interface TestRootOptions {
  readonly encrypter?: Encrypter
  readonly clock?: Clock
  readonly fs?: FsOps
  readonly pollMs?: number
}

/** A StoreRoot over `dir` with test defaults (noop encryption, system clock). */
export function makeRoot(dir: string, options: TestRootOptions = {}): StoreRoot {
  return new StoreRoot({
    root: dir,
    encrypter: options.encrypter ?? new NoopEncrypter(),
    clock: options.clock ?? new SystemClock(),
    identity: { pid: process.pid, host: 'test-host' },
    ...(options.fs ? { fs: options.fs } : {}),
    ...(options.pollMs ? { pollMs: options.pollMs } : {}),
  })
}

/** A valid unobin snapshot document (as bytes) whose outputs carry `marker`. */
export function sampleSnapshot(marker: string | number = 1, stack = 'dev'): Buffer {
  const doc = {
    'format-version': 1,
    factory: { name: 'cluster-deploy', version: '1.4.0', 'content-revision': 'sha256:test' },
    stack,
    'generated-at': '2026-07-10T12:00:00Z',
    entries: [
      {
        address: 'network.vpc',
        'entry-kind': 'leaf',
        category: 'resource',
        binding: { alias: 'aws', kind: 'vpc' },
        outputs: { id: `vpc-${marker}` },
      },
    ],
    outputs: { marker: String(marker) },
  }
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`)
}

/** Reads a fixture file as bytes. */
export function fixture(...parts: string[]): Buffer {
  return readFileSync(join(FIXTURES, ...parts))
}

/** The code of what `promise` rejects with ('resolved' when it does not). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
    return 'resolved'
  } catch (err) {
    return isStateError(err) ? err.code : `not a StateError: ${String(err)}`
  }
}
