/**
 * Waiting for conditions instead of sleeping: a test waits until what it
 * needs is true, checking often, and fails (never hangs) when a generous
 * guard runs out. The guard bounds a broken run; it is not a timing claim,
 * so it can be far longer than the condition normally takes (a loaded
 * machine stretches every step).
 */
import { setTimeout as sleep } from 'node:timers/promises'

/** How often a condition is checked while waiting. */
const POLL_MS = 5

/**
 * Resolves with the first truthy value `check` returns (it may be async);
 * rejects naming `what` when none came within `guardMs`.
 */
export async function waitFor<T>(check: () => T | Promise<T>, guardMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = performance.now() + guardMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== null && value !== false && value !== 0 && value !== '')
      return value as NonNullable<T>
    if (performance.now() >= deadline) throw new Error(`waited ${guardMs} ms for ${what}, in vain`)
    await sleep(POLL_MS)
  }
}

/** `promise`, or a rejection naming `what` when it has not settled within `guardMs`. */
export async function settledWithin<T>(promise: Promise<T>, guardMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${guardMs} ms`)), guardMs)
  })
  try {
    return await Promise.race([promise, guard])
  } finally {
    clearTimeout(timer)
  }
}
