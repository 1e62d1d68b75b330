/**
 * The command line of `unobin-state`: global options (server, credentials,
 * CA, --json), every command, and the help text with environment variables
 * and exit codes. Parsing is commander's; each command lives in its module.
 */
import { Command, Option } from 'commander'
import { packageVersion } from '../version.js'
import { registerInspectCommands } from './commands-inspect.js'
import { registerLockCommands } from './commands-lock.js'
import { registerReadCommands } from './commands-read.js'
import { registerWriteCommands } from './commands-write.js'
import { DEFAULT_SERVER } from './context.js'
import { EXIT_HELP } from './exit-codes.js'
import type { Launch } from './launch.js'
import { registerRunCommand } from './run-command.js'

/** Environment variables the client reads, as `--help` shows them. */
export const ENV_HELP = `Environment:
  UNOBIN_STATE_URL         the server (default ${DEFAULT_SERVER})
  UNOBIN_STATE_TOKEN       bearer token (or UNOBIN_STATE_TOKEN_FILE: a file holding it)
  UNOBIN_STATE_CA_FILE     PEM of a private CA (same as --ca-file)
  UNOBIN_STATE_LOCK_ID     set by run: push, rollback, gc and prune on run's stack present it`

/** Where the parser writes its own messages (help, usage errors). */
export interface ParserOutput {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
}

/** Builds the program; `launch` runs each command's action. */
export function buildProgram(launch: Launch, output: ParserOutput): Command {
  const program = new Command('unobin-state')
  program
    .description(
      'Client of unobin-state-server: list, download, push, roll back and lock stacks, and run a command under a held, renewed, fenced lock.',
    )
    .version(packageVersion(), '-V, --version')
    .addOption(new Option('--server <url>', `the server (env UNOBIN_STATE_URL, default ${DEFAULT_SERVER})`))
    .addOption(
      new Option(
        '--token <token>',
        'bearer token (prefer UNOBIN_STATE_TOKEN or --token-file: argv is visible to other users)',
      ),
    )
    .addOption(new Option('--token-file <file>', 'read the bearer token from this file'))
    .addOption(new Option('--ca-file <file>', 'trust this PEM CA for https (env UNOBIN_STATE_CA_FILE)'))
    .addOption(
      new Option(
        '--oidc-audience <aud>',
        'GitHub Actions: fetch an identity token for this audience (job needs id-token: write)',
      ),
    )
    .addOption(new Option('--oidc-token-env <var>', 'GitLab CI: the id_tokens variable holding the identity token'))
    .addOption(new Option('--json', 'print JSON for scripts instead of tables'))
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      writeOut: output.out,
      writeErr: output.err,
      outputError: (text, write) =>
        write(`unobin-state: usage: ${text.replace(/^error: /, '').trimEnd()} (see --help)\n`),
    })
    .exitOverride()
    .showSuggestionAfterError(true)
  registerReadCommands(program, launch)
  registerInspectCommands(program, launch)
  registerWriteCommands(program, launch)
  registerLockCommands(program, launch)
  registerRunCommand(program, launch)
  const trailer = `\n${ENV_HELP}\n\n${EXIT_HELP}\n`
  program.addHelpText('after', trailer)
  for (const command of program.commands) command.addHelpText('after', trailer)
  return program
}
