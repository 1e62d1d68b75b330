import { type FsOps, type OpenFile, nodeFs } from '../../src/fs/fs-ops.js'

/** A method FaultyFs can fail: an FsOps call, or a call on a handle it opened. */
export type FaultyMethod = keyof FsOps | 'writeFile' | 'sync' | 'readFile' | 'read'

/** What a fault targets: one method, or `'any'` for the Nth call whatever its method (to sweep every call an operation makes). */
export type FaultTarget = FaultyMethod | 'any'

/** An errno a real volume reports. */
/** An errno a real volume reports, or BUG: a plain TypeError, as a programming error would throw. */
export type FaultCode = 'ENOSPC' | 'EIO' | 'EACCES' | 'BUG'

/** One recorded call: the method and the path it was given (a handle's path for handle calls). */
export interface FsCall {
  readonly method: FaultyMethod
  readonly path: string
}

interface Fault {
  readonly method: FaultTarget
  readonly nth: number
  readonly code: FaultCode
  readonly match: (path: string) => boolean
  seen: number
}

const ERRNO: Record<Exclude<FaultCode, 'BUG'>, number> = { ENOSPC: -28, EIO: -5, EACCES: -13 }

/**
 * FaultyFs exists because a real volume cannot be made to fail on demand
 * (the tests run as root, so permissions do not bite, and filling a disk is
 * neither fast nor safe): it wraps `nodeFs` and fails the Nth call of one
 * chosen method (optionally only calls whose path matches) with an errno
 * error, so tests can prove each store operation reports the fault with the
 * right code and leaves the tree as it was. Handles it opens are wrapped too,
 * so `writeFile` (which writes half the data first, like a disk filling up),
 * `sync`, `readFile` and `read` (a large rev is opened by range reads) can fail. Every call is recorded in `calls`.
 */
export class FaultyFs implements FsOps {
  readonly calls: FsCall[] = []
  #fault: Fault | undefined
  #fired: FsCall | undefined

  readonly open = this.#wrap('open')
  readonly readFile = this.#wrap('readFile')
  readonly readdir = this.#wrap('readdir')
  readonly rename = this.#wrap('rename')
  readonly link = this.#wrap('link')
  readonly unlink = this.#wrap('unlink')
  readonly mkdir = this.#wrap('mkdir')
  readonly lstat = this.#wrap('lstat')
  readonly utimes = this.#wrap('utimes')
  readonly rmdir = this.#wrap('rmdir')
  /** The directory watch: synchronous, so a fault throws at once, as `watch` does on a directory it cannot watch. */
  readonly watch = ((...args: Parameters<typeof nodeFs.watch>) => {
    const fault = this.#check('watch', String(args[0]))
    if (fault !== undefined) throw fault
    return nodeFs.watch(...args)
  }) as typeof nodeFs.watch

  /**
   * Arms one fault: the `nth` (1-based) call of `method` (of any method for
   * `'any'`) whose path matches fails with `code`.
   */
  failNth(method: FaultTarget, nth: number, code: FaultCode, match: (path: string) => boolean = () => true): this {
    this.#fault = { method, nth, code, match, seen: 0 }
    this.#fired = undefined
    return this
  }

  /** Disarms the fault; the filesystem behaves normally again. */
  clear(): void {
    this.#fault = undefined
  }

  /** True when the armed fault was injected. */
  get fired(): boolean {
    return this.#fired !== undefined
  }

  /** The call the armed fault failed (method and path), or undefined while it has not fired. */
  get firedCall(): FsCall | undefined {
    return this.#fired
  }

  #check(method: FaultyMethod, path: string): Error | undefined {
    this.calls.push({ method, path })
    const fault = this.#fault
    if (fault === undefined || (fault.method !== 'any' && fault.method !== method) || !fault.match(path))
      return undefined
    fault.seen++
    if (fault.seen !== fault.nth) return undefined
    this.#fired = { method, path }
    this.#fault = undefined
    if (fault.code === 'BUG') return new TypeError(`injected bug in ${method} '${path}'`)
    return Object.assign(new Error(`${fault.code}: injected fault, ${method} '${path}'`), {
      code: fault.code,
      errno: ERRNO[fault.code],
      syscall: method,
      path,
    })
  }

  #wrap<K extends Exclude<keyof FsOps, 'watch'>>(method: K): FsOps[K] {
    const real = nodeFs[method] as (...args: unknown[]) => Promise<unknown>
    const wrapped = async (...args: unknown[]): Promise<unknown> => {
      const path = String(args[0])
      const fault = this.#check(method, path)
      if (fault !== undefined) throw fault
      const result = await real(...args)
      return method === 'open' ? this.#wrapHandle(result as OpenFile, path) : result
    }
    return wrapped as FsOps[K]
  }

  #wrapHandle(handle: OpenFile, path: string): OpenFile {
    return new Proxy(handle, {
      get: (target, prop, receiver) => {
        if (prop === 'writeFile') {
          return async (data: Buffer) => {
            const fault = this.#check('writeFile', path)
            if (fault !== undefined) {
              await target.writeFile(data.subarray(0, Math.floor(data.length / 2)))
              throw fault
            }
            return target.writeFile(data)
          }
        }
        if (prop === 'sync' || prop === 'readFile' || prop === 'read') {
          return async (...args: unknown[]) => {
            const fault = this.#check(prop, path)
            if (fault !== undefined) throw fault
            return (target[prop] as (...a: unknown[]) => Promise<unknown>).apply(target, args)
          }
        }
        const value: unknown = Reflect.get(target, prop, receiver)
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      },
    })
  }
}
