/**
 * One run of the command line: parse `argv`, run the command, print a
 * failure as one line (`unobin-state: <code>: <detail>`), and resolve to the
 * documented exit code. Never exits the process itself (main.ts does).
 */
import { CommanderError } from 'commander'
import { ClientError, EXIT } from './exit-codes.js'
import { type Outcome, launcher } from './launch.js'
import { buildProgram } from './program.js'
import type { Streams } from './context.js'

/** Runs the client with `argv` (without node and the script); resolves to the exit code. */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, streams: Streams): Promise<number> {
  const outcome: Outcome = { code: EXIT.ok, context: undefined }
  const program = buildProgram(launcher(env, streams, outcome), {
    out: (s) => streams.stdout.write(s),
    err: (s) => streams.stderr.write(s),
  })
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
