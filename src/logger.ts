/**
 * The pino logger: JSON lines (or readable lines on a terminal) with request
 * ids, and redaction of everything secret that could reach a log line
 * (credentials in headers, keys, tokens). Bodies are never logged, so
 * snapshot plaintext cannot leak; URLs are logged with query values
 * redacted (src/http/access-log.ts).
 */
import { pino, type DestinationStream, type Logger } from 'pino'
import { prettyDestination } from './log-pretty.js'

/** Paths pino censors wherever they appear in a logged object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'headers.authorization',
  'authorization',
  'password',
  'token',
  'key',
  '*.password',
  '*.token',
  '*.key',
]

/** How log lines are written: one JSON object per line, or readable text. */
export type LogFormat = 'json' | 'pretty'

/**
 * Creates the server's logger at `level`, writing to `destination` (stdout
 * by default), as JSON or, with `format: 'pretty'`, as readable lines.
 */
export function createLogger(level: string, destination?: DestinationStream, format: LogFormat = 'json'): Logger {
  const options = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'unobin-state-server' },
  }
  if (format === 'pretty') {
    const out = destination ?? pino.destination({ dest: 1, sync: true })
    return pino(options, prettyDestination(out, destination === undefined && process.stdout.isTTY === true))
  }
  return destination === undefined ? pino(options) : pino(options, destination)
}

/** The format `auto` means: readable on a terminal, JSON otherwise (pipes, files, log collectors). */
export function chooseLogFormat(setting: 'auto' | 'json' | 'pretty', isTTY: boolean): LogFormat {
  if (setting === 'auto') return isTTY ? 'pretty' : 'json'
  return setting
}
