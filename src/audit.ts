/**
 * The audit log: one JSON line per mutation and lock event (and, with
 * --audit-reads, per download), appended to a file opened with O_APPEND
 * (several replicas may share it: each line is one write; the file is
 * opened by name for every line, so it may be rotated by renaming it). It
 * records who did what to which stack, never bodies or secrets.
 *
 * Durability: a line is written before the request answers, and fsynced
 * at most `fsyncMs` later (one fsync covers every line written meanwhile),
 * or before the request answers when `fsyncMs` is 0; close() fsyncs what
 * is left, so every event recorded before a graceful shutdown is on disk.
 */
import { appendFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Clock } from './clock.js'
import { type FsOps, nodeFs } from './fs/fs-ops.js'
import { formatInstant } from './time/instant.js'

/** How long a written audit line may wait for its fsync, by default (--audit-fsync). */
export const DEFAULT_AUDIT_FSYNC_MS = 1000

/** One audited event. */
export interface AuditEvent {
  readonly action: string
  readonly factory?: string
  readonly stack?: string
  readonly rev?: string | null
  readonly lockId?: string | null
  readonly generation?: number | null
  readonly principal?: string | null
  readonly remote?: string | null
  readonly requestId?: string
  readonly outcome?: 'ok' | 'denied' | 'refused'
  readonly detail?: Record<string, unknown>
}

/** Where audit events go. */
export interface AuditSink {
  record(event: AuditEvent): Promise<void>
}

/** How the audit file is kept. */
export interface FileAuditOptions {
  /** Longest time between writing a line and its fsync; 0: fsync before record() resolves. */
  readonly fsyncMs?: number
  /** The filesystem used to fsync (tests count the calls); the real one by default. */
  readonly fs?: Pick<FsOps, 'open'>
}

/** Appends events as JSON lines to `path`; failures go to `onError` and never fail the request. */
export class FileAuditLog implements AuditSink {
  readonly #path: string
  readonly #clock: Clock
  readonly #onError: (err: unknown) => void
  readonly #fsyncMs: number
  readonly #fs: Pick<FsOps, 'open'>
  #ready: Promise<unknown> | undefined
  /** Lines were written since the last fsync began. */
  #dirty = false
  /** The directory entry of the file is durable (fsynced once, after the first line created it). */
  #dirSynced = false
  #timer: NodeJS.Timeout | null = null
  #syncing: Promise<void> = Promise.resolve()

  constructor(path: string, clock: Clock, onError: (err: unknown) => void, options: FileAuditOptions = {}) {
    this.#path = path
    this.#clock = clock
    this.#onError = onError
    this.#fsyncMs = options.fsyncMs ?? DEFAULT_AUDIT_FSYNC_MS
    this.#fs = options.fs ?? nodeFs
  }

  async record(event: AuditEvent): Promise<void> {
    try {
      this.#ready ??= mkdir(dirname(this.#path), { recursive: true })
      await this.#ready
      await appendFile(
        this.#path,
        `${JSON.stringify({ time: formatInstant(this.#clock.nowNanos()), outcome: 'ok', ...event })}\n`,
        { flag: 'a', mode: 0o600 },
      )
      this.#dirty = true
      if (this.#fsyncMs === 0) await this.flush()
      else if (this.#timer === null) {
        this.#timer = setTimeout(() => {
          this.#timer = null
          void this.flush()
        }, this.#fsyncMs)
        this.#timer.unref()
      }
    } catch (err) {
      this.#onError(err)
    }
  }

  /** Fsyncs every line written so far (failures go to `onError`). */
  flush(): Promise<void> {
    this.#syncing = this.#syncing.then(async () => {
      if (!this.#dirty) return
      this.#dirty = false
      try {
        await this.#sync(this.#path)
        if (!this.#dirSynced) {
          await this.#sync(dirname(this.#path))
          this.#dirSynced = true
        }
      } catch (err) {
        this.#onError(err)
      }
    })
    return this.#syncing
  }

  /** Fsyncs what is left and stops the timer; call after the last record(). */
  async close(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    await this.flush()
  }

  async #sync(path: string): Promise<void> {
    const handle = await this.#fs.open(path, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }
}

/** Discards events (audit log turned off). */
export class NullAuditLog implements AuditSink {
  async record(): Promise<void> {}
}
