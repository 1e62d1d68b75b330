/**
 * `run`: takes a stack's lock (waiting for it), keeps its lease alive, runs a
 * command with the lock in its environment, and releases the lock however
 * the command ends.
 *
 * Signals: SIGINT, SIGTERM and SIGHUP reach the command once. Outside a
 * terminal the command runs in its own process group, so a signal sent to
 * ours (a CI runner cancelling a job) is forwarded exactly once and never
 * delivered twice (Terraform treats a second interrupt as "abort now"). At a
 * terminal it shares our group so it can prompt; Ctrl-C then reaches it from
 * the terminal and is not forwarded again. After SIGTERM the command has a
 * grace period, then gets SIGKILL.
 *
 * A lost lock (force-unlocked, expired, or not renewable before its lease
 * ended) stops the command the same way (SIGTERM, SIGKILL after the grace
 * period) and ends with exit 3, naming who holds the lock now. Otherwise the
 * exit code is the command's own (128+N when signal N ended it).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { constants } from 'node:os'
import type { Api, LockHolder } from './api.js'
import { type ClientError, EXIT } from './exit-codes.js'
import { LeaseKeeper } from './lease-keeper.js'
import { describeHolder, type Io } from './output.js'
import { type StackRef, formatStackRef } from './stack-ref.js'

/** What to run and how. */
export interface RunPlan {
  readonly ref: StackRef
  readonly ttl: number
  readonly wait: number
  readonly graceMs: number
  readonly claims: { readonly who: string; readonly operation: string; readonly info: string }
  readonly command: readonly string[]
  /** The command's environment for the lock taken. */
  readonly environment: (holder: LockHolder) => Promise<NodeJS.ProcessEnv>
  /** Whether the command shares our terminal (then it shares our process group too). */
  readonly interactive: boolean
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** Runs the plan; resolves to the exit code. */
export async function supervise(api: Api, io: Io, plan: RunPlan): Promise<number> {
  const name = formatStackRef(plan.ref)
  const say = (line: string): void => void io.stderr.write(`unobin-state: ${line}\n`)

  // A signal while waiting for the lock ends the wait; the server drops a waiter that leaves.
  const waiting = new AbortController()
  const stopWaiting = (signal: NodeJS.Signals): void => waiting.abort(signal)
  for (const s of FORWARDED) process.on(s, stopWaiting)
  let holder: LockHolder
  try {
    holder = await api.lock(plan.ref, { ...plan.claims, ttl: plan.ttl }, plan.wait, waiting.signal)
  } catch (err) {
    if (waiting.signal.aborted) return 128 + signalNumber(waiting.signal.reason as NodeJS.Signals)
    throw err
  } finally {
    for (const s of FORWARDED) process.off(s, stopWaiting)
  }
  say(
    `locked ${name} (generation ${holder.generation}, lease ${plan.ttl} s renewed every ${Math.round(plan.ttl / 3)} s)`,
  )

  let lost: ClientError | undefined
  let child: ChildProcess | undefined
  let killTimer: NodeJS.Timeout | undefined
  const stop = (signal: NodeJS.Signals): void => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    send(child, signal, !plan.interactive)
    if (signal !== 'SIGINT' && killTimer === undefined) {
      killTimer = setTimeout(() => send(child!, 'SIGKILL', !plan.interactive), plan.graceMs)
    }
  }
  const keeper = new LeaseKeeper(api, plan.ref, holder, plan.ttl, (reason) => {
    lost = reason
    say(`lost the lock on ${name} (${reason.code}: ${reason.message}); stopping the command`)
    stop('SIGTERM')
  })
  const forward = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGINT' && plan.interactive) return // the terminal sent it to the command already
    stop(signal)
  }
  for (const s of FORWARDED) process.on(s, forward)
  keeper.start()
  try {
    const ended = await runChild(plan, await plan.environment(holder), (c) => (child = c))
    clearTimeout(killTimer)
    keeper.stop()
    if (lost !== undefined) {
      say(await nowHeld(api, plan.ref))
      return EXIT.locked
    }
    await release(api, plan.ref, holder.id, say)
    if (ended.error !== undefined) {
      say(`cannot start ${plan.command[0]}: ${ended.error}`)
      return 127
    }
    return ended.code
  } finally {
    clearTimeout(killTimer)
    keeper.stop()
    for (const s of FORWARDED) process.off(s, forward)
  }
}

/** Starts the command and resolves when it has exited. */
function runChild(
  plan: RunPlan,
  env: NodeJS.ProcessEnv,
  started: (child: ChildProcess) => void,
): Promise<{ code: number; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn(plan.command[0]!, plan.command.slice(1), { stdio: 'inherit', env, detached: !plan.interactive })
    started(child)
    child.once('error', (err: NodeJS.ErrnoException) => resolve({ code: 127, error: err.code ?? err.message }))
    child.once('exit', (code, signal) => resolve({ code: code ?? 128 + signalNumber(signal ?? 'SIGKILL') }))
  })
}

/** Sends `signal` to the child, or to its whole process group when it has one of its own. */
function send(child: ChildProcess, signal: NodeJS.Signals, group: boolean): void {
  try {
    if (group && child.pid !== undefined) process.kill(-child.pid, signal)
    else child.kill(signal)
  } catch {
    // already gone
  }
}

/** Releases the lock, retrying a transient failure; a failure is reported, never fatal (the lease ends anyway). */
async function release(api: Api, ref: StackRef, id: string, say: (line: string) => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await api.unlock(ref, id)
      return
    } catch (err) {
      const e = err as ClientError
      const transient =
        e.code === 'unreachable' ||
        e.code === 'shutting-down' ||
        e.code === 'storage-failure' ||
        e.code === 'rate-limited'
      if (!transient || attempt >= 3) {
        say(`could not release the lock on ${formatStackRef(ref)} (${e.code}: ${e.message})`)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt))
    }
  }
}

/** Who holds the lock now, as one line. */
async function nowHeld(api: Api, ref: StackRef): Promise<string> {
  try {
    const holder = await api.holder(ref)
    return holder === undefined
      ? `${formatStackRef(ref)} is now free`
      : `${formatStackRef(ref)} is now locked by ${describeHolder(holder, Date.now())}`
  } catch (err) {
    return `cannot tell who holds ${formatStackRef(ref)} now (${(err as ClientError).code ?? (err as Error).message})`
  }
}

/** The number of a signal (for 128+N exit codes). */
function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0
}
