import { type FSWatcher, existsSync, watch } from 'node:fs'
import { join } from 'node:path'

/**
 * Resolves once some process has taken and released the stack's internal
 * mutex (`<stack>/.mutex`, a file removed at release): a lock attempt reads
 * the marker inside that mutex, so after it a waiter has seen the lock held
 * and is waiting. Arm it before sending the request so no event is missed.
 * This makes "the waiter is waiting" an observed fact, not a sleep;
 * `guardMs` only stops a broken run from hanging.
 */
export function mutexCycle(stackDir: string, guardMs: number): { done: Promise<void>; close: () => void } {
  let watcher: FSWatcher | undefined
  let timer: NodeJS.Timeout | undefined
  const close = () => {
    watcher?.close()
    clearTimeout(timer)
  }
  const done = new Promise<void>((resolve, reject) => {
    watcher = watch(stackDir, (_event, name) => {
      if (name === '.mutex' && !existsSync(join(stackDir, '.mutex'))) {
        close()
        resolve()
      }
    })
    timer = setTimeout(() => {
      close()
      reject(new Error(`no lock attempt was seen in ${stackDir} within ${guardMs} ms`))
    }, guardMs)
  })
  return { done, close }
}
