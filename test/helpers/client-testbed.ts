/**
 * What the client's process tests share: one server process (no
 * credentials) on its own data directory, snapshot files to push, the
 * client run against it, and a way to store a snapshot over HTTP when a
 * case needs one without a client process.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { type ClientResult, runClient } from './client-process.js'
import { type ServerProcess, startServer } from './server-process.js'
import { sampleSnapshot } from './store.js'

/** A running server and the client's ways in; the server stops with `t`. */
export interface ClientTestbed {
  readonly server: ServerProcess
  /** The client's environment: `UNOBIN_STATE_URL` of the server. */
  readonly env: { readonly UNOBIN_STATE_URL: string }
  /** A directory for files a case writes. */
  readonly files: string
  /** A snapshot file of `stack` marked `marker`, for `push`; returns its path. */
  snapshot(marker: string | number, stack?: string): string
  /** Runs the client with `args` against the server. */
  cli(args: string[]): Promise<ClientResult>
  /** Stores a snapshot of `factory/stack` over HTTP (current unless told otherwise); returns its rev. */
  seed(stack: string, marker: string, current?: boolean): Promise<string>
}

/** Starts the server for the tests of `t` (see the file comment). */
export async function clientTestbed(t: Test): Promise<ClientTestbed> {
  const dir = t.testdir({ data: {}, files: {} }) // one call: a second testdir() of the same test is the same directory, emptied
  const server = await startServer(['--data-dir', join(dir, 'data')])
  t.teardown(() => server.stop())
  const env = { UNOBIN_STATE_URL: server.url }
  const files = join(dir, 'files')
  return {
    server,
    env,
    files,
    snapshot: (marker, stack = 's') => {
      const path = join(files, `snap-${marker}.json`)
      writeFileSync(path, sampleSnapshot(marker, stack))
      return path
    },
    cli: (args) => runClient(t, args, env),
    seed: async (stack, marker, current = true) => {
      const [f, s] = stack.split('/')
      const res = await fetch(
        `${server.url}/v1/factories/${f}/stacks/${s}/snapshots${current ? '?current=true' : ''}`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: sampleSnapshot(marker, s) },
      )
      if (res.status !== 201) throw new Error(`seed ${stack}: ${res.status} ${await res.text()}`)
      return ((await res.json()) as { rev: string }).rev
    },
  }
}
