/**
 * The client's exit codes and the one error type that carries them. Exit
 * codes are part of the contract (CI scripts branch on them), so they live in
 * one table that `--help` and the README print.
 */
import type { ErrorCode } from '../errors.js'

/** Exit codes of `unobin-state`; `run` otherwise exits with its command's code. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  locked: 3,
  auth: 4,
} as const

/** The exit codes as `--help` shows them. */
export const EXIT_HELP = `Exit codes:
  0  success
  1  failure (server error, unreachable server, bad file, …)
  2  usage (unknown command or option, bad argument)
  3  locked: the stack is held by someone else, a wait timed out, or the lock was lost
  4  authentication or permission refused (401/403)
  run exits with its command's own code (128+N when a signal N ended it).`

/** Problem codes that mean "someone else holds the lock" or "you no longer hold it". */
const LOCKED_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'locked',
  'wait-timeout',
  'lock-lost',
  'lock-not-held',
])

/** The exit code for a server problem `code` answered with `status`. */
export function exitCodeFor(code: string | undefined, status: number): number {
  if (status === 401 || status === 403 || code === 'unauthenticated' || code === 'forbidden') return EXIT.auth
  if (code !== undefined && LOCKED_CODES.has(code as ErrorCode)) return EXIT.locked
  return EXIT.failure
}

/**
 * A failure the CLI reports as one line on stderr and turns into an exit
 * code. `code` is the server's problem code when there is one, or a
 * client-side code (`unreachable`, `bad-file`, `usage`…).
 */
export class ClientError extends Error {
  readonly code: string
  readonly exitCode: number
  /** The problem body, when the server sent one (a lock refusal carries its holder). */
  readonly problem: Record<string, unknown> | undefined

  constructor(
    code: string,
    message: string,
    exitCode: number,
    problem?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'ClientError'
    this.code = code
    this.exitCode = exitCode
    this.problem = problem
  }
}

/** A usage error (exit 2): a bad argument the parser could not catch. */
export function usageError(message: string): ClientError {
  return new ClientError('usage', message, EXIT.usage)
}
