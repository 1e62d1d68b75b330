/** The lock commands: lock (prints the id), renew, unlock, force-unlock. */
import type { Command } from 'commander'
import { defaultWho } from './identity.js'
import type { Launch } from './launch.js'
import { describeHolder, printJson, printLines } from './output.js'
import { wholeNumber } from './options.js'
import { formatStackRef, parseStackRef } from './stack-ref.js'

/** Registers lock, renew, unlock and force-unlock on `program`. */
export function registerLockCommands(program: Command, launch: Launch): void {
  program
    .command('lock')
    .argument('<factory/stack>')
    .option('--who <text>', 'who takes it (default: the CI job URL, or user@host)')
    .option('--operation <text>', 'what for (e.g. apply)')
    .option('--info <text>', 'anything else the next person should know')
    .option(
      '--ttl <seconds>',
      'a lease: the lock frees itself unless renewed (default: none, held until unlocked)',
      wholeNumber(1),
    )
    .option('--wait <seconds>', 'wait this long for a held lock (0: fail at once with exit 3)', wholeNumber(0), 0)
    .description("Take a stack's lock and print its id (for --lock-id, renew and unlock)")
    .action(
      async (
        stackArg: string,
        options: { who?: string; operation?: string; info?: string; ttl?: number; wait: number },
        command: Command,
      ) =>
        launch(command, async ({ api, io, env }) => {
          const ref = parseStackRef(stackArg)
          const holder = await api.lock(
            ref,
            {
              who: options.who ?? defaultWho(env),
              operation: options.operation ?? '',
              info: options.info ?? '',
              ttl: options.ttl,
            },
            options.wait,
          )
          if (io.json) return printJson(io, holder)
          printLines(io, holder.id)
          io.stderr.write(
            `locked ${formatStackRef(ref)}: generation ${holder.generation}${holder.expires ? `, lease until ${holder.expires} (renew with: unobin-state renew ${formatStackRef(ref)} ID --ttl ${options.ttl})` : ', no lease (unlock when done)'}\n`,
          )
        }),
    )

  program
    .command('renew')
    .argument('<factory/stack>')
    .argument('<id>', 'the lock id `lock` printed')
    .option('--ttl <seconds>', 'the new lease from now (without it the lock no longer expires)', wholeNumber(1))
    .description('Extend the lease of a lock you hold')
    .action(async (stackArg: string, id: string, options: { ttl?: number }, command: Command) =>
      launch(command, async ({ api, io }) => {
        const ref = parseStackRef(stackArg)
        const holder = await api.renew(ref, id, options.ttl)
        if (io.json) return printJson(io, holder)
        printLines(
          io,
          `renewed ${formatStackRef(ref)}: ${holder.expires ? `lease until ${holder.expires}` : 'no lease (held until unlocked)'}`,
        )
      }),
    )

  program
    .command('unlock')
    .argument('<factory/stack>')
    .argument('<id>', 'the lock id `lock` printed')
    .description('Release a lock you hold (a retry after success succeeds too)')
    .action(async (stackArg: string, id: string, _options: object, command: Command) =>
      launch(command, async ({ api, io }) => {
        const ref = parseStackRef(stackArg)
        const result = await api.unlock(ref, id)
        if (io.json) return printJson(io, result)
        printLines(io, `unlocked ${formatStackRef(ref)}`)
      }),
    )

  program
    .command('force-unlock')
    .argument('<factory/stack>')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .description(
      "Remove a lock whoever holds it (needs the force-unlock permission); its holder's writes are refused from then on",
    )
    .action(async (stackArg: string, options: { reason: string }, command: Command) =>
      launch(command, async ({ api, io }) => {
        const ref = parseStackRef(stackArg)
        const result = await api.forceUnlock(ref, options.reason)
        if (io.json) return printJson(io, result)
        printLines(
          io,
          result.released === null
            ? `${formatStackRef(ref)} was not locked`
            : `force-unlocked ${formatStackRef(ref)}: removed ${describeHolder(result.released, io.now())}`,
        )
      }),
    )
}
