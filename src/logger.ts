/**
 * The pino logger: JSON lines with request ids, and redaction of everything
 * secret that could reach a log line (credentials in headers, keys, tokens).
 * Bodies are never logged, so snapshot plaintext cannot leak.
 */
import { pino, type DestinationStream, type Logger } from 'pino'

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

/** Creates the server's logger at `level`, writing to `destination` (stdout by default). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'unobin-state-server' } }
  return destination === undefined ? pino(options) : pino(options, destination)
}
