/**
 * Large documents are first scanned (fast-checks.ts: a slice per turn of the
 * event loop, constant memory), which accepts the ordinary ones; any other is
 * parsed off the main thread, which gives the answer. `JSON.parse` of a body is
 * one synchronous call: a 60 MB body of 20 million empty objects held the
 * event loop for 23 s (every other request, health probes included, waited)
 * and took 2 GB. Bodies of `OFF_THREAD_BYTES` or more are parsed and checked
 * in a worker thread instead, with the same functions (same answers, same
 * error codes), so the main thread only copies the bytes over; the worker's
 * heap is capped (`WORKER_HEAP_MB`), and a document holding more values
 * than fit in half of it (`MAX_VALUES`, counted in one pass before the
 * parse) is refused (`body-too-large`) instead of growing the process. Smaller bodies are parsed in place: a worker round-trip costs
 * more than their parse.
 *
 * Workers start on first use, are reused while busy, hold the process open
 * only while they have work, and exit after `IDLE_MS` without any, which
 * returns their heap.
 */
import { Worker } from 'node:worker_threads'
import { type ErrorCode, StateError } from '../errors.js'
import { validateUnobinSnapshot } from '../store/unobin-snapshot.js'
import { type StateMeta, readStateMeta } from '../terraform/state-meta.js'
import { assertCountable } from './count-values.js'
import { SCAN_SLICE, scanStateMeta, scanUnobinSnapshot } from './fast-checks.js'
import { PARSE_WORKER_FILE } from './worker-file.js'

/** Bodies at least this large are parsed in a worker thread. */
export const OFF_THREAD_BYTES = 4 * 1024 * 1024
/** The old-generation heap of one worker (MiB): the most one large parse may take. */
export const WORKER_HEAP_MB = 1024
/** The most JSON values a large document may hold (about 64 bytes of heap each once parsed: half the worker's heap). */
export const MAX_VALUES = (WORKER_HEAP_MB * 1024 * 1024) / 2 / 64
/** Workers parsing at once (more large bodies queue; the HTTP layer bounds how many are in flight). */
const MAX_WORKERS = 2
/** An idle worker exits after this long. */
const IDLE_MS = 10_000

/** What a worker is asked. */
export interface ParseRequest {
  readonly id: number
  readonly task: 'unobin-snapshot' | 'terraform-meta'
  readonly bytes: Uint8Array
}

/** What a worker answers: the result, or the error as data. */
export type ParseReply =
  | { readonly id: number; readonly result: unknown; readonly error?: undefined }
  | {
      readonly id: number
      readonly error: {
        readonly code: ErrorCode | null
        readonly message: string
        readonly details: Record<string, unknown>
      }
    }

/** Checks `body` as an unobin snapshot with the Go tool's rules (see unobin-snapshot.ts), off the main thread when large. */
export async function checkUnobinSnapshot(body: Buffer): Promise<void> {
  if (body.length < OFF_THREAD_BYTES) {
    validateUnobinSnapshot(body)
    return
  }
  if (await scanUnobinSnapshot(body, MAX_VALUES)) return // accepted by the scan; anything else gets the reference's answer
  await assertCountable(body, MAX_VALUES, SCAN_SLICE) // before the worker: copying a body it refuses would hold the loop
  await pool.run('unobin-snapshot', body)
}

/** Reads lineage and serial of a Terraform state (see state-meta.ts), off the main thread when large. */
export async function parseStateMeta(body: Buffer): Promise<StateMeta> {
  if (body.length < OFF_THREAD_BYTES) return readStateMeta(body)
  const scanned = await scanStateMeta(body, MAX_VALUES)
  if (scanned !== undefined) return scanned
  await assertCountable(body, MAX_VALUES, SCAN_SLICE)
  return (await pool.run('terraform-meta', body)) as StateMeta
}

interface Slot {
  readonly worker: Worker
  busy: boolean
  idle: NodeJS.Timeout | undefined
}

/** The worker threads of this process (module-wide: every store and route shares them). */
class ParsePool {
  readonly #slots: Slot[] = []
  readonly #queue: Array<() => void> = []
  #nextId = 0

  async run(task: ParseRequest['task'], body: Buffer): Promise<unknown> {
    const slot = await this.#take()
    try {
      return await this.#send(slot, task, body)
    } finally {
      this.#give(slot)
    }
  }

  async #take(): Promise<Slot> {
    for (;;) {
      const free = this.#slots.find((s) => !s.busy)
      if (free !== undefined) {
        clearTimeout(free.idle)
        free.busy = true
        free.worker.ref()
        return free
      }
      if (this.#slots.length < MAX_WORKERS) {
        const slot: Slot = { worker: this.#spawn(), busy: true, idle: undefined }
        this.#slots.push(slot)
        return slot
      }
      await new Promise<void>((resolve) => this.#queue.push(resolve))
    }
  }

  #give(slot: Slot): void {
    slot.busy = false
    if (this.#slots.includes(slot)) {
      slot.worker.unref()
      slot.idle = setTimeout(() => this.#drop(slot, true), IDLE_MS)
      slot.idle.unref()
    }
    this.#queue.shift()?.()
  }

  #drop(slot: Slot, terminate: boolean): void {
    const at = this.#slots.indexOf(slot)
    if (at >= 0) this.#slots.splice(at, 1)
    clearTimeout(slot.idle)
    if (terminate) void slot.worker.terminate()
  }

  #spawn(): Worker {
    return new Worker(PARSE_WORKER_FILE, {
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    })
  }

  #send(slot: Slot, task: ParseRequest['task'], body: Buffer): Promise<unknown> {
    const id = this.#nextId++
    const worker = slot.worker
    return new Promise((resolve, reject) => {
      const settle = () => {
        worker.off('message', onMessage)
        worker.off('error', onError)
        worker.off('exit', onExit)
      }
      const onMessage = (reply: ParseReply) => {
        if (reply.id !== id) return
        settle()
        if (reply.error === undefined) resolve(reply.result)
        else if (reply.error.code !== null)
          reject(new StateError(reply.error.code, reply.error.message, reply.error.details))
        else reject(new Error(reply.error.message))
      }
      const onError = (err: Error) => {
        settle()
        this.#drop(slot, true)
        if ((err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY')
          reject(
            new StateError(
              'body-too-large',
              `the document holds more values than the server parses within ${WORKER_HEAP_MB} MiB: send a smaller document`,
              { limitMb: WORKER_HEAP_MB },
            ),
          )
        else reject(err)
      }
      const onExit = (code: number) => {
        settle()
        this.#drop(slot, false)
        reject(new Error(`the parse worker exited (code ${code}) before answering`))
      }
      worker.on('message', onMessage)
      worker.on('error', onError)
      worker.on('exit', onExit)
      worker.postMessage({ id, task, bytes: body } satisfies ParseRequest)
    })
  }
}

const pool = new ParsePool()
