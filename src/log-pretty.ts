/**
 * Human-readable log lines for a terminal: `time LEVEL message key=value …`,
 * errors with their stack below. pino writes JSON; this destination turns
 * each JSON line into one readable line (pino-pretty does the same with
 * many more dependencies). Lines that are not JSON pass through unchanged.
 */

/** Where formatted text goes (stdout). */
export interface TextSink {
  write(text: string): unknown
}

const LEVELS: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
}
const COLORS: Readonly<Record<number, string>> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' }
/** Fields every line has, shown elsewhere or not worth repeating. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'err'])

/** A pino destination that writes readable lines to `out`, in colour when `color`. */
export function prettyDestination(out: TextSink, color: boolean): { write(line: string): void } {
  return {
    write(line: string) {
      out.write(`${formatLine(line, color)}\n`)
    },
  }
}

/** One JSON log line as readable text (without newline). */
export function formatLine(line: string, color = false): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line.replace(/\n$/, '')
  }
  const level = typeof entry.level === 'number' ? entry.level : 30
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : ''
  const name = (LEVELS[level] ?? String(level)).padEnd(5)
  const shownLevel = color ? `\u001b[${COLORS[level] ?? '0'}m${name}\u001b[0m` : name
  const fields = Object.entries(entry)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${key}=${show(value)}`)
  const head = [time, shownLevel, String(entry.msg ?? ''), ...fields].filter((x) => x !== '').join(' ')
  const err = entry.err as { stack?: unknown; message?: unknown } | undefined
  if (err === undefined || err === null) return head
  const stack = typeof err.stack === 'string' ? err.stack : String(err.message ?? JSON.stringify(err))
  return `${head}\n${stack.replace(/^/gm, '    ')}`
}

function show(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)
  if (typeof value === 'object' && value !== null) return JSON.stringify(value)
  return String(value)
}
