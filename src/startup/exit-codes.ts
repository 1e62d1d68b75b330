/**
 * The process's exit codes, part of its contract (--help, README and
 * docs/operations.md list them): an orchestrator or a script can tell a
 * configuration fault (fix the settings; restarting will not help) from an
 * address in use (wait or pick another port) and from a crash.
 */
export const EXIT = {
  /** Stopped cleanly, or --help / --version. */
  ok: 0,
  /** Internal error: an uncaught exception or unhandled rejection, or a shutdown that failed or exceeded 30 s. */
  internal: 1,
  /** Bad settings: a flag or variable, the tokens file, a key, the TLS certificate and key. */
  config: 2,
  /** Cannot listen: the address is in use, not on this host, or needs privileges. */
  listen: 3,
} as const

/** The exit code of a second SIGINT (130) or SIGTERM (143) during the graceful shutdown: 128 + the signal number. */
export function signalExitCode(signal: 'SIGINT' | 'SIGTERM'): number {
  return signal === 'SIGINT' ? 130 : 143
}
