/**
 * The inspecting commands: diff (what changed between two revs), outputs
 * (one value for a shell with --raw), and whoami (principal and permissions).
 * Sensitive values arrive from the server already redacted.
 */
import type { Command } from 'commander'
import { ClientError, EXIT } from './exit-codes.js'
import type { Launch } from './launch.js'
import { printJson, printLines, table } from './output.js'
import { formatStackRef, parseFactory, parseStackRef } from './stack-ref.js'

/** Registers diff, outputs and whoami on `program`. */
export function registerInspectCommands(program: Command, launch: Launch): void {
  program
    .command('diff')
    .argument('<factory/stack>')
    .argument('[from]', 'the older rev (default: the rev before TO)')
    .argument('[to]', 'the newer rev (default: the current one)')
    .description('Show what changed between two revs (sensitive values hidden)')
    .action(
      async (stackArg: string, from: string | undefined, to: string | undefined, _options: object, command: Command) =>
        launch(command, async ({ api, io }) => {
          const ref = parseStackRef(stackArg)
          if (io.json) return printJson(io, await api.diff(ref, from, to))
          const text = await api.diffText(ref, from, to)
          io.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`)
        }),
    )

  program
    .command('outputs')
    .argument('<factory/stack>')
    .argument('[name]', "print only this output's value")
    .option('--rev <rev>', 'a stored rev (default: the current one)')
    .option('--raw', 'with NAME: print the value bare (a string without quotes), for $(…)')
    .description('Show the outputs of a rev (needs the outputs or read permission; sensitive values hidden)')
    .action(
      async (stackArg: string, name: string | undefined, options: { rev?: string; raw?: boolean }, command: Command) =>
        launch(command, async ({ api, io }) => {
          const ref = parseStackRef(stackArg)
          const answer = await api.outputs(ref, options.rev)
          if (name === undefined) {
            if (io.json) return printJson(io, answer)
            const names = Object.keys(answer.outputs).sort()
            if (names.length === 0) return printLines(io, `${formatStackRef(ref)} rev ${answer.rev} has no outputs`)
            io.stdout.write(
              table(
                ['NAME', 'VALUE'],
                names.map((n) => [n, JSON.stringify(answer.outputs[n]!.value)]),
              ),
            )
            return
          }
          const output = answer.outputs[name]
          if (output === undefined) {
            throw new ClientError(
              'no-such-output',
              `${formatStackRef(ref)} rev ${answer.rev} has no output "${name}" (it has: ${Object.keys(answer.outputs).sort().join(', ') || 'none'})`,
              EXIT.failure,
            )
          }
          if (options.raw) {
            if (output.sensitive)
              throw new ClientError(
                'sensitive-output',
                `output "${name}" of ${formatStackRef(ref)} is sensitive: the server never sends its value`,
                EXIT.failure,
              )
            io.stdout.write(typeof output.value === 'string' ? output.value : `${JSON.stringify(output.value)}\n`)
            return
          }
          if (io.json) return printJson(io, output)
          printLines(io, JSON.stringify(output.value, null, 2))
        }),
    )

  program
    .command('whoami')
    .argument('[scope]', 'factory or factory/stack where to list permissions (default: every factory)')
    .description('Show who the server takes you for, and what you may do at a scope')
    .action(async (scopeArg: string | undefined, _options: object, command: Command) =>
      launch(command, async ({ api, io }) => {
        const scope =
          scopeArg === undefined
            ? {}
            : scopeArg.includes('/')
              ? parseStackRef(scopeArg)
              : { factory: parseFactory(scopeArg) }
        const me = await api.whoami(scope)
        if (io.json) return printJson(io, me)
        const where =
          me.scope.factory === null
            ? 'every factory'
            : me.scope.stack === null
              ? `${me.scope.factory}/*`
              : `${me.scope.factory}/${me.scope.stack}`
        printLines(
          io,
          `${me.principal} (${me.kind}${me.authenticated ? '' : ': the server has no credentials configured'})`,
          `may on ${where}: ${me.permissions.join(', ') || 'nothing'}`,
        )
      }),
    )
}
