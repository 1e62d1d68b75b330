/** A logger that keeps its JSON lines in memory, for tests that assert what the server logs. */
import type { Logger } from 'pino'
import { createLogger } from '../../src/logger.js'

/** Captured log lines and the logger writing them. */
export interface CapturedLog {
  readonly logger: Logger
  /** Every line written so far, parsed. */
  entries(): Array<Record<string, unknown>>
  /** Every line written so far, as written. */
  text(): string
}

/** A logger at `level` whose lines are kept for the test. */
export function captureLog(level = 'debug'): CapturedLog {
  const lines: string[] = []
  const logger = createLogger(level, { write: (line: string) => void lines.push(line) })
  return {
    logger,
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    text: () => lines.join(''),
  }
}
