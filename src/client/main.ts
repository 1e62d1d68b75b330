#!/usr/bin/env node
/**
 * The `unobin-state` process: runs the command line with the process's
 * arguments, environment and streams, and exits with its code. A token
 * given with --token is masked from the process title at once, so `ps`
 * stops showing it.
 */
import { runCli } from './cli.js'

/** Replaces the process title when argv carries a token, so /proc/PID/cmdline stops showing it. */
function maskTitle(argv: readonly string[]): void {
  if (argv.some((a) => a === '--token' || a.startsWith('--token='))) process.title = 'unobin-state'
}

maskTitle(process.argv.slice(2))
process.exitCode = await runCli(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr })
