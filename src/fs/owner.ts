/**
 * Who owns a mutex, and whether that owner still runs. A record names the
 * host, the pid, and what tells a reused pid apart: on Linux the process
 * start time (`/proc/<pid>/stat` field 22, in clock ticks since boot) with the
 * kernel's boot id and the pid namespace, so a record is only judged on the
 * machine, boot and namespace that wrote it. Elsewhere a pid that no longer
 * exists (`kill(pid, 0)` answers ESRCH) is still a sure sign of death; a pid
 * that exists may be reused, so such an owner is only "unknown".
 */
import { randomUUID } from 'node:crypto'
import { readFileSync, readlinkSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { hostname } from 'node:os'

/** What a mutex file holds: one acquisition by one process. */
export interface OwnerRecord {
  /** Unique per acquisition (a takeover names the record it replaces by this id). */
  readonly id: string
  readonly host: string
  readonly pid: number
  /** Process start time in clock ticks since boot (Linux), or null. */
  readonly start: string | null
  /** The kernel's boot id (Linux), or null. */
  readonly boot: string | null
  /** The pid namespace (Linux), or null. */
  readonly pidns: string | null
}

/** This process as an owner, without the per-acquisition id. */
export type ProcessIdentity = Omit<OwnerRecord, 'id'>

/**
 * `dead`: the owner ran on this host (same boot, same pid namespace) and has
 * exited or its pid now names another process. `alive`: it runs. `unknown`:
 * another host, another boot or namespace, or no way to tell a reused pid.
 */
export type Liveness = 'alive' | 'dead' | 'unknown'

/** Tells whether an owner recorded in a mutex file still runs. Injectable, so tests can pose as another host. */
export interface OwnerProbe {
  /** This process. */
  readonly self: ProcessIdentity
  /** Judges the owner of `record` (never this process: callers handle their own records). */
  liveness(record: OwnerRecord): Promise<Liveness>
}

/** A fresh record of this process for one acquisition. */
export function newRecord(self: ProcessIdentity): OwnerRecord {
  return { id: randomUUID(), ...self }
}

/** The bytes of a record in a mutex file (one JSON line). */
export function encodeRecord(record: OwnerRecord): Buffer {
  return Buffer.from(`${JSON.stringify(record)}\n`)
}

/** The record in a mutex file, or undefined when the bytes are not one (empty, torn, foreign). */
export function decodeRecord(bytes: Buffer): OwnerRecord | undefined {
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof doc !== 'object' || doc === null) return undefined
  const r = doc as Record<string, unknown>
  const optional = (v: unknown): v is string | null => v === null || typeof v === 'string'
  if (
    typeof r.id !== 'string' ||
    !/^[0-9a-f-]{36}$/.test(r.id) ||
    typeof r.host !== 'string' ||
    !Number.isSafeInteger(r.pid) ||
    (r.pid as number) <= 0
  )
    return undefined
  if (!optional(r.start) || !optional(r.boot) || !optional(r.pidns)) return undefined
  return { id: r.id, host: r.host, pid: r.pid as number, start: r.start, boot: r.boot, pidns: r.pidns }
}

/** True when `record` was written by the process `self` describes. */
export function isSelf(record: OwnerRecord, self: ProcessIdentity): boolean {
  return (
    record.host === self.host &&
    record.pid === self.pid &&
    record.start === self.start &&
    record.boot === self.boot &&
    record.pidns === self.pidns
  )
}

/**
 * The start time and state of `pid` from `/proc/<pid>/stat`: the command
 * name (field 2) may hold spaces and parentheses, so fields are counted
 * after its last `)`. Undefined when the text is not a stat line.
 */
export function parseProcStat(text: string): { state: string; start: string } | undefined {
  const close = text.lastIndexOf(')')
  if (close < 0) return undefined
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ')
  // After ")": field 3 (state) is index 0, field 22 (starttime) index 19.
  const state = fields[0]
  const start = fields[19]
  if (state === undefined || start === undefined || !/^\d+$/.test(start)) return undefined
  return { state, start }
}

/** The probe of the running host: /proc on Linux, `kill(pid, 0)` elsewhere. */
export class HostProbe implements OwnerProbe {
  readonly self: ProcessIdentity
  readonly #procRoot: string

  /** `procRoot`: where proc is mounted (tests point it elsewhere). */
  constructor(procRoot = '/proc') {
    this.#procRoot = procRoot
    const own = readSync(() => parseProcStat(readFileSync(`${procRoot}/self/stat`, 'utf8'))?.start)
    const boot =
      own === undefined
        ? undefined
        : readSync(() => readFileSync(`${procRoot}/sys/kernel/random/boot_id`, 'utf8').trim())
    const pidns = own === undefined ? undefined : readSync(() => readlinkSync(`${procRoot}/self/ns/pid`))
    this.self = { host: hostname(), pid: process.pid, start: own ?? null, boot: boot ?? null, pidns: pidns ?? null }
  }

  async liveness(record: OwnerRecord): Promise<Liveness> {
    const self = this.self
    if (record.host !== self.host || record.boot !== self.boot || record.pidns !== self.pidns) return 'unknown'
    if (self.start !== null && record.start !== null) {
      let text: string
      try {
        text = await readFile(`${this.#procRoot}/${record.pid}/stat`, 'utf8')
      } catch (err) {
        if ((err as { code?: unknown }).code === 'ENOENT' || (err as { code?: unknown }).code === 'ESRCH') return 'dead'
        return 'unknown'
      }
      const stat = parseProcStat(text)
      if (stat === undefined) return 'unknown'
      // A zombie has exited (only its parent has not reaped it yet); another start time is another process.
      if (stat.state === 'Z' || stat.state === 'X' || stat.start !== record.start) return 'dead'
      return 'alive'
    }
    try {
      process.kill(record.pid, 0)
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ESRCH') return 'dead'
    }
    return 'unknown' // the pid exists, but may have been reused
  }
}

function readSync<T>(fn: () => T): T | undefined {
  try {
    return fn()
  } catch {
    return undefined
  }
}

let shared: HostProbe | undefined

/** The probe of this process, built once (it reads /proc at construction). */
export function hostProbe(): HostProbe {
  shared ??= new HostProbe()
  return shared
}
