/**
 * Temp files: the names a write uses before it publishes (or a removal uses
 * to hide what it removes), and the sweep of those a dead writer left.
 *
 * A temp name carries its writer: `.tmp-<machine>-<pid>-<start>-<label>`,
 * where `<machine>` is a digest of the host, boot id and pid namespace (see
 * owner.ts), `<pid>` the writer's pid and `<start>` its start time in clock
 * ticks (`x` where the system does not tell it). So the sweep can judge a
 * temp file by name alone: on the same machine, boot and namespace, a writer
 * that has exited (or whose pid now names another process) left it, and it
 * goes at once; a temp file of a live writer, of another host, or with a
 * name that carries no writer (an older server's `.tmp-<uuid>`) goes only
 * once it is older than an age bound.
 *
 * An older server's case probe (`.case-probe-<hex>-Aa` in the data
 * directory) is swept the same way, as a temp of unknown writer.
 *
 * Every temp name starts with `.tmp-`, never ends in `.json.enc` and starts
 * with a dot, so neither this server nor the Go tool (which lists only
 * `*.json.enc` and writes its own temps as `.<name>.tmp`, never swept here)
 * ever reads one as a rev.
 */
import { createHash, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { type FsOps, errnoCode } from './fs-ops.js'
import { type Liveness, type OwnerProbe, type ProcessIdentity, hostProbe, isSelf } from './owner.js'

/** Prefix of every temp file; such a file is never data. */
export const TEMP_PREFIX = '.tmp-'

/**
 * How old (ms) a temp file whose writer cannot be judged dead (a live one,
 * another host's, an unnamed one) must be before a sweep removes it: far
 * longer than any writer spends between its temp write and its link.
 */
export const DEFAULT_TEMP_MAX_AGE_MS = 60_000

/**
 * The case probe of servers before 2026-12-07, a temp that names no writer
 * (the probe is an owner-named temp since): swept as one of unknown writer.
 */
const OLD_CASE_PROBE = /^\.case-probe-[0-9a-f]{12}-Aa$/
const DOT = 0x2e

/** `.tmp-<machine 16 hex>-<pid>-<start or x>-…` */
const WRITER = /^\.tmp-([0-9a-f]{16})-([1-9][0-9]{0,9})-([0-9]{1,20}|x)-/

const machines = new WeakMap<ProcessIdentity, string>()

/** The digest naming the machine, boot and pid namespace of `self` in temp names. */
function machineOf(self: ProcessIdentity): string {
  let machine = machines.get(self)
  if (machine === undefined) {
    machine = createHash('sha256')
      .update(`${self.host}\n${self.boot ?? ''}\n${self.pidns ?? ''}`)
      .digest('hex')
      .slice(0, 16)
    machines.set(self, machine)
  }
  return machine
}

/**
 * A fresh temp file name (no directory) naming `self` as its writer;
 * `label` (letters and dashes) says what it is for (`mutex`, `removed`).
 * `self` is this process unless a test poses as another.
 */
export function tempName(label?: string, self: ProcessIdentity = hostProbe().self): string {
  const start = self.start ?? 'x'
  return `${TEMP_PREFIX}${machineOf(self)}-${self.pid}-${start}-${label === undefined ? '' : `${label}-`}${randomUUID()}`
}

/**
 * The writer of temp file `name` as far as `self` can judge it: `self` (this
 * process), a process on the machine of `self` (pid and start time), or
 * `foreign` (another machine, boot or namespace, or a name without a writer).
 */
export function tempWriter(
  name: string,
  self: ProcessIdentity,
): { kind: 'self' } | { kind: 'local'; owner: ProcessIdentity } | { kind: 'foreign' } {
  const m = WRITER.exec(name)
  if (m === null || m[1] !== machineOf(self)) return { kind: 'foreign' }
  const owner: ProcessIdentity = { ...self, pid: Number(m[2]), start: m[3] === 'x' ? null : m[3]! }
  return isSelf({ id: '', ...owner }, self) ? { kind: 'self' } : { kind: 'local', owner }
}

/** How a sweep judges and dates temp files. */
export interface SweepOptions {
  /** Who this process is and whether another still runs. */
  readonly probe: OwnerProbe
  /** A temp file whose writer runs, or cannot be judged, is removed once older than this (ms). */
  readonly maxAgeMs: number
  /** Now, in ms since the epoch (on the store clock's time line). */
  readonly nowMs: number
  /** The names in the directory, when the caller has just read them (saves a `readdir`). */
  readonly names?: readonly string[]
  /**
   * Leave this process's own temps unlooked at (no `lstat` each): the sweep
   * a change runs under the stack mutex, where the other temps of this
   * process are those of writes in flight. The periodic sweeps still age
   * them, in case one was ever left behind.
   */
  readonly skipOwn?: boolean
}

/**
 * Removes the temp files in `dir` that no one will use again: at once when
 * their writer on this machine has exited, otherwise once older than
 * `maxAgeMs` (a writer on another host may still be between its temp write
 * and its link). Returns how many it removed. An absent directory, and a
 * file another sweeper removed first, are not errors; another failure
 * throws once every other entry has been swept.
 */
export async function sweepTemps(fs: FsOps, dir: string, options: SweepOptions): Promise<number> {
  let names = options.names
  if (names === undefined) {
    try {
      names = await fs.readdir(dir)
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 0
      throw err
    }
  }
  const judged = new Map<string, Promise<Liveness>>()
  let removed = 0
  let failed: unknown
  for (const name of names) {
    // Both kinds start with a dot: the rest of a large directory (revs) is passed over with one comparison.
    if (name.charCodeAt(0) !== DOT || (!name.startsWith(TEMP_PREFIX) && !OLD_CASE_PROBE.test(name))) continue
    const path = join(dir, name)
    try {
      const writer = tempWriter(name, options.probe.self)
      if (writer.kind === 'self' && options.skipOwn === true) continue
      if (writer.kind === 'local') {
        const key = `${writer.owner.pid}-${writer.owner.start}`
        let liveness = judged.get(key)
        if (liveness === undefined) {
          liveness = options.probe.liveness({ id: '', ...writer.owner })
          judged.set(key, liveness)
        }
        if ((await liveness) === 'dead') {
          await fs.unlink(path)
          removed++
          continue
        }
      }
      const st = await fs.lstat(path)
      if (options.nowMs - st.mtimeMs >= options.maxAgeMs) {
        await fs.unlink(path)
        removed++
      }
    } catch (err) {
      // One entry that cannot be removed (or judged) does not keep the others: the first failure is thrown at the end.
      if (errnoCode(err) !== 'ENOENT') failed ??= err
    }
  }
  if (failed !== undefined) throw failed
  return removed
}
