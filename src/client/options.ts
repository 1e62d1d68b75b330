/** Option value parsers shared by the commands (a bad value is a usage error, exit 2). */
import { InvalidArgumentError } from 'commander'

/** A whole number ≥ `min` (seconds, counts). */
export function wholeNumber(min = 0): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a whole number`)
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be at least ${min}`)
    return n
  }
}

/**
 * The lock id to present on a mutation: `--lock-id`, else the id `run`
 * holds for this very stack (UNOBIN_STATE_LOCK_ID with UNOBIN_STATE_STACK),
 * so commands inside `run` write under its lock without repeating it.
 */
export function lockIdFor(flag: string | undefined, stack: string, env: NodeJS.ProcessEnv): string | undefined {
  if (flag !== undefined) return flag
  if (env.UNOBIN_STATE_LOCK_ID && env.UNOBIN_STATE_STACK === stack) return env.UNOBIN_STATE_LOCK_ID
  return undefined
}
