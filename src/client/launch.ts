/**
 * Runs one command's action with its context: builds the context from the
 * global options (on first use), and records the exit code the action
 * returns. Errors propagate to `main`, which prints them as one line.
 */
import type { Command } from 'commander'
import { type Context, type GlobalOptions, type Streams, buildContext } from './context.js'
import { EXIT } from './exit-codes.js'

/** A command's body: resolves to its exit code (0 when it resolves to anything but a number). */
export type Action = (context: Context) => Promise<unknown>

/** Runs `action` for the parsed `command`. */
export type Launch = (command: Command, action: Action) => Promise<void>

/** What a run of the program ends with. */
export interface Outcome {
  code: number
  context: Context | undefined
}

/** A Launch that builds contexts from `env` and `streams` and writes the exit code into `outcome`. */
export function launcher(env: NodeJS.ProcessEnv, streams: Streams, outcome: Outcome): Launch {
  return async (command, action) => {
    const context = await buildContext(command.optsWithGlobals<GlobalOptions>(), env, streams)
    outcome.context = context
    const code = await action(context)
    outcome.code = typeof code === 'number' ? code : EXIT.ok
  }
}
