/**
 * The `unobin-state` client as a real process (the compiled
 * `dist/src/client/main.js`; `npm test` compiles before tap runs), with its
 * exit code and output, and a handle on a long-running one (`run`) whose
 * stderr lines can be awaited.
 *
 * Children run through `env -u NODE_OPTIONS`: tap adds its process-info hook
 * to every spawn, which costs a quarter second of CPU per process; `env`
 * execs node under the same pid, so signals still reach the client itself.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { Writable } from 'node:stream'
import type { Test } from 'tap'
import { runCli } from '../../src/client/cli.js'
import { builtEntry } from './built.js'

/** The compiled client entry point (a stale one is refused, see built.ts). */
export const CLIENT_JS = builtEntry('dist/src/client/main.js')

/** How long a wait for output may take before the test fails instead of hanging (a guard, not an assertion). */
const GUARD_MS = 60_000

/** A finished client run. */
export interface ClientResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** A minimal environment: PATH and HOME, plus `env`. Nothing else of the test process leaks in. */
export function clientEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...env }
}

/** A client process still running. */
export class ClientProcess {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly #waiters: { test: () => boolean; resolve: () => void }[] = []
  readonly exited: Promise<ClientResult>

  constructor(child: ChildProcess) {
    this.child = child
    child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString()
      this.#check()
    })
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString()
      this.#check()
    })
    this.exited = once(child, 'close').then(([code, signal]) => {
      this.#check()
      return {
        code: code as number | null,
        signal: signal as NodeJS.Signals | null,
        stdout: this.stdout,
        stderr: this.stderr,
      }
    })
  }

  /** Resolves once stdout+stderr match `pattern` (fails after a guard time, with what was seen). */
  async waitFor(pattern: RegExp): Promise<void> {
    const test = () => pattern.test(this.stdout) || pattern.test(this.stderr)
    if (test()) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${pattern} within ${GUARD_MS} ms; stdout: ${this.stdout}\nstderr: ${this.stderr}`)),
        GUARD_MS,
      )
      this.#waiters.push({
        test,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
      })
    })
  }

  #check(): void {
    for (const w of [...this.#waiters]) {
      if (w.test()) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  }
}

/** Starts the client with `args` (killed in teardown if still running). */
export function startClient(
  t: Test,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  options: { cwd?: string; stdin?: string | Buffer } = {},
): ClientProcess {
  const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, CLIENT_JS, ...args], {
    env: clientEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(options.cwd ? { cwd: options.cwd } : {}),
  })
  child.stdin!.end(options.stdin ?? '')
  const client = new ClientProcess(child)
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await client.exited
    }
  })
  return client
}

/** Runs the client with `args` to its end. */
export async function runClient(
  t: Test,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  options: { cwd?: string; stdin?: string | Buffer } = {},
): Promise<ClientResult> {
  return startClient(t, args, env, options).exited
}

/** Polls `check` until it returns a value other than undefined (fails after the guard time). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + GUARD_MS
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`not within ${GUARD_MS} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * Runs the command line inside the test process (same parser, same code
 * paths, real HTTP): for help and usage checks, where a process would only
 * add a second of a loaded machine's time.
 */
export async function runInProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ClientResult> {
  let stdout = ''
  let stderr = ''
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        append(chunk.toString())
        callback()
      },
    })
  const code = await runCli(args, clientEnv(env), {
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
  })
  return { code, signal: null, stdout, stderr }
}
