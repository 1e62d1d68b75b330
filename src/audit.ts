/**
 * The audit log: one JSON line per mutation and lock event, appended to a file
 * opened with O_APPEND (several replicas may share it: each line is one
 * write). It records who did what to which stack, never bodies or secrets.
 */
import { appendFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Clock } from './clock.js'
import { formatInstant } from './time/instant.js'

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

/** Appends events as JSON lines to `path`; failures go to `onError` and never fail the request. */
export class FileAuditLog implements AuditSink {
  readonly #path: string
  readonly #clock: Clock
  readonly #onError: (err: unknown) => void
  #ready: Promise<unknown> | undefined

  constructor(path: string, clock: Clock, onError: (err: unknown) => void) {
    this.#path = path
    this.#clock = clock
    this.#onError = onError
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
    } catch (err) {
      this.#onError(err)
    }
  }
}

/** Discards events (audit log turned off). */
export class NullAuditLog implements AuditSink {
  async record(): Promise<void> {}
}
