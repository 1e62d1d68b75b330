/**
 * The filesystem calls the store makes, as one injectable object. Production
 * goes through Node's callback API, each call wrapped in a promise (see
 * `nodeFs`); fault-injection tests pass a wrapper that fails a chosen call
 * with ENOSPC, EIO or EACCES to prove no path tears data.
 */
import * as fs from 'node:fs'
import type { Stats } from 'node:fs'
import type * as fsp from 'node:fs/promises'
import { promisify } from 'node:util'

/** The subset of `node:fs/promises` the store and its mutex use, and the directory watch of lock waiters. */
export interface FsOps {
  /** Opens a file as `fs.promises.open` does (same flags, mode and errors), answering the calls the store makes on it. */
  open(path: string, flags: string | number, mode?: number): Promise<OpenFile>
  readFile: typeof fsp.readFile
  readdir: typeof fsp.readdir
  rename: typeof fsp.rename
  link: typeof fsp.link
  unlink: typeof fsp.unlink
  mkdir: typeof fsp.mkdir
  lstat: typeof fsp.lstat
  utimes: typeof fsp.utimes
  rmdir: typeof fsp.rmdir
  /** `node:fs` `watch` (synchronous: it throws when the directory cannot be watched). */
  watch: typeof fs.watch
}

/** An open file: the calls of `fs.promises.FileHandle` the store makes, with the same meaning and errors. */
export interface OpenFile {
  /** Writes all of `data` at the file's position (so pieces written one after another follow one another). */
  writeFile(data: Uint8Array): Promise<void>
  /** Reads up to `length` bytes at `position` into `buffer` from `offset`. */
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>
  /** Reads from the file's position to its end. */
  readFile(): Promise<Buffer>
  stat(): Promise<Stats>
  sync(): Promise<void>
  /** Closes the file; a second call does nothing (it never closes a descriptor the system has given out again). */
  close(): Promise<void>
}

/**
 * A file open on a plain descriptor, through the callback API. A
 * `FileHandle` of `fs.promises` costs the event loop's thread twice what a
 * descriptor does (measured on this host: create, write and close of a
 * small file, 429 against 217 µs of process CPU; see BENCHMARKS.md), and a
 * write makes several of them.
 */
class DescriptorFile implements OpenFile {
  #fd: number | undefined

  constructor(fd: number) {
    this.#fd = fd
  }

  async writeFile(data: Uint8Array): Promise<void> {
    for (let done = 0; done < data.byteLength; ) done += await writeAt(this.#open('write'), data, done)
  }

  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return this.#call('read', (fd, settle) =>
      fs.read(fd, buffer, offset, length, position, (err, bytesRead) => settle(err, { bytesRead })),
    )
  }

  /**
   * One read for a small file (a marker, a pointer, a small rev), where
   * `fs.readFile` asks for the size first: a read of a regular file that
   * comes back short has reached its end. A longer file goes on as
   * `fs.readFile` does (its size, then to the end).
   */
  async readFile(): Promise<Buffer> {
    const head = Buffer.allocUnsafe(HEAD_BYTES)
    const { bytesRead } = await this.#call<{ bytesRead: number }>('read', (fd, settle) =>
      fs.read(fd, head, 0, HEAD_BYTES, null, (err, n) => settle(err, { bytesRead: n })),
    )
    if (bytesRead < HEAD_BYTES) return Buffer.from(head.subarray(0, bytesRead))
    const rest = await this.#call<Buffer>('read', (fd, settle) => fs.readFile(fd, settle))
    return Buffer.concat([head, rest])
  }

  stat(): Promise<Stats> {
    return this.#call('fstat', (fd, settle) => fs.fstat(fd, settle))
  }

  sync(): Promise<void> {
    return this.#call('fsync', (fd, settle) => fs.fsync(fd, (err) => settle(err, undefined)))
  }

  close(): Promise<void> {
    const fd = this.#fd
    if (fd === undefined) return Promise.resolve()
    this.#fd = undefined
    return new Promise((resolve, reject) => {
      fs.close(fd, (err) => (err === null ? resolve() : reject(err)))
    })
  }

  /** Runs one callback call on the descriptor as a promise; rejects with EBADF, as a FileHandle does, once closed. */
  #call<T>(syscall: string, start: (fd: number, settle: (err: Error | null, value: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      start(this.#open(syscall), (err, value) => (err === null ? resolve(value) : reject(err)))
    })
  }

  #open(syscall: string): number {
    if (this.#fd !== undefined) return this.#fd
    throw Object.assign(new Error(`EBADF: bad file descriptor, ${syscall}`), { code: 'EBADF', errno: -9, syscall })
  }
}

/** What `OpenFile.readFile` reads first: every marker, pointer and metadata file, and a 10 KB snapshot, fit. */
const HEAD_BYTES = 64 * 1024

/** Writes what it can of `data` from `offset` at the descriptor's position; how many bytes it wrote. */
function writeAt(fd: number, data: Uint8Array, offset: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, data, offset, data.byteLength - offset, null, (err, written) =>
      err === null ? resolve(written) : reject(err),
    )
  })
}

function open(path: string, flags: string | number, mode?: number): Promise<OpenFile> {
  return new Promise((resolve, reject) => {
    fs.open(path, flags, mode, (err, fd) => (err === null ? resolve(new DescriptorFile(fd)) : reject(err)))
  })
}

/**
 * `fs.promises.lstat` with the same answers and errors, through the callback
 * API, as every call here: a promise of the callback API costs the event
 * loop's thread less than the promise API's own (measured: 14-18 against
 * 18-24 µs of main-thread CPU per `lstat` on this host; see BENCHMARKS.md).
 */
const lstat = ((path: string, options?: { bigint?: boolean }) =>
  new Promise((resolve, reject) => {
    fs.lstat(path, { bigint: options?.bigint === true }, (err, st) => (err === null ? resolve(st) : reject(err)))
  })) as typeof fsp.lstat

/** The real filesystem. */
export const nodeFs: FsOps = {
  open,
  readFile: promisify(fs.readFile) as typeof fsp.readFile,
  readdir: promisify(fs.readdir) as typeof fsp.readdir,
  rename: promisify(fs.rename),
  link: promisify(fs.link),
  unlink: promisify(fs.unlink),
  mkdir: promisify(fs.mkdir) as typeof fsp.mkdir,
  lstat,
  utimes: promisify(fs.utimes),
  rmdir: promisify(fs.rmdir) as typeof fsp.rmdir,
  watch: fs.watch,
}

/** The `lstat` of `path`, or undefined when nothing is there (any other error is thrown). */
export async function lstatIfPresent(fs: FsOps, path: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(path)
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined
    throw err
  }
}

/** The errno code of a Node fs error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    ? (err as { code: string }).code
    : undefined
}
