#!/usr/bin/env node
/**
 * The `unobin-state` process: parse the command line, run the command,
 * print a failure as one line (`unobin-state: <code>: <detail>`) and exit
 * with the documented code. A token given with --token is masked from the
 * process title at once, so `ps` does not show it for long.
 */
import { CommanderError } from 'commander'
import { ClientError, EXIT } from './exit-codes.js'
import { type Outcome, launcher } from './launch.js'
import { buildProgram } from './program.js'

/** Runs the client with `argv` (without node and the script); resolves to the exit code. */
async function main(argv: readonly string[], env: NodeJS.ProcessEnv, streams: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream }): Promise<number> {
  const outcome: Outcome = { code: EXIT.ok, context: undefined }
  const program = buildProgram(launcher(env, streams, outcome), { out: (s) => streams.stdout.write(s), err: (s) => streams.stderr.write(s) })
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return outcome.code
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage
    if (err instanceof ClientError) {
      streams.stderr.write(`unobin-state: ${err.code}: ${err.message}\n`)
      return err.exitCode
    }
    streams.stderr.write(`unobin-state: internal: ${(err as Error).message ?? String(err)}\n`)
    return EXIT.failure
  } finally {
    outcome.context?.api.transport.close()
  }
}

/** Replaces the process title when argv carries a token, so /proc/PID/cmdline stops showing it. */
function maskTitle(argv: readonly string[]): void {
  if (argv.some((a) => a === '--token' || a.startsWith('--token='))) process.title = 'unobin-state'
}

maskTitle(process.argv.slice(2))
process.exitCode = await main(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr })
