/** `run F/S [options] -- CMD [ARGS…]`: the command line of the lock-held run (see supervisor.ts). */
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { usageError } from './exit-codes.js'
import { defaultWho } from './identity.js'
import type { Launch } from './launch.js'
import { wholeNumber } from './options.js'
import { runEnvironment } from './run-env.js'
import { parseStackRef } from './stack-ref.js'
import { supervise } from './supervisor.js'

/** The default lease of `run`, in seconds: short enough that a crashed runner frees the stack soon. */
export const RUN_TTL_DEFAULT = 60
/** How long `run` waits for a held lock by default, in seconds. */
export const RUN_WAIT_DEFAULT = 600
/** Grace between SIGTERM and SIGKILL, in seconds. */
export const RUN_GRACE_DEFAULT = 10

const RUN_HELP = `
Inside CMD:
  UNOBIN_STATE_URL, UNOBIN_STATE_STACK, UNOBIN_STATE_STACK_URL, UNOBIN_STATE_LOCK_ID
  UNOBIN_STATE_TOKEN (when a credential is used)
  TF_HTTP_ADDRESS=<stack>/terraform?ID=<lock id>, TF_HTTP_UPDATE_METHOD=POST,
  TF_HTTP_USERNAME/TF_HTTP_PASSWORD (the token), TF_HTTP_CLIENT_CA_CERTIFICATE_PEM (--ca-file);
  TF_HTTP_LOCK_ADDRESS and TF_HTTP_UNLOCK_ADDRESS are removed.
  So a plain \`terraform { backend "http" {} }\` (or OpenTofu) reads and writes this
  stack under the held lock: Terraform does not lock itself, and every write it
  sends carries the lock id, so a write after the lock was lost is refused.

The lease is renewed every ttl/3 seconds. SIGINT, SIGTERM and SIGHUP are forwarded
to CMD; SIGKILL follows SIGTERM after --grace seconds. If the lock is lost
(force-unlocked, or its lease could not be renewed), CMD is stopped the same way and
run exits 3 naming the holder now. The lock is released however CMD ends.

Example:
  unobin-state run cluster-deploy/prod -- sh -c 'terraform init -input=false && terraform apply -auto-approve -input=false'`

/** Registers `run` on `program`. */
export function registerRunCommand(program: Command, launch: Launch): void {
  program
    .command('run')
    .argument('<factory/stack>')
    .argument('[command...]', 'the command and its arguments, after --')
    .option('--ttl <seconds>', 'lease of the lock, renewed every ttl/3', wholeNumber(2), RUN_TTL_DEFAULT)
    .option('--wait <seconds>', 'wait this long for a held lock before exit 3', wholeNumber(0), RUN_WAIT_DEFAULT)
    .option('--operation <text>', 'what the lock is for (default: the command)')
    .option('--who <text>', 'who takes it (default: the CI job URL, or user@host)')
    .option('--info <text>', 'anything else the next person should know')
    .option('--grace <seconds>', 'time CMD gets after SIGTERM before SIGKILL', wholeNumber(0), RUN_GRACE_DEFAULT)
    .description(
      "Run a command under the stack's lock: wait for it, renew its lease, release it however the command ends; exit with the command's code",
    )
    .addHelpText('after', RUN_HELP)
    .action(
      async (
        stackArg: string,
        commandArgs: string[],
        options: { ttl: number; wait: number; operation?: string; who?: string; info?: string; grace: number },
        command: Command,
      ) =>
        launch(command, async (context) => {
          const ref = parseStackRef(stackArg)
          if (commandArgs.length === 0)
            throw usageError('run needs a command after --, e.g. run f/s -- terraform apply')
          const caFile = command.optsWithGlobals<{ caFile?: string }>().caFile ?? context.env.UNOBIN_STATE_CA_FILE
          return supervise(context.api, context.io, {
            ref,
            ttl: options.ttl,
            wait: options.wait,
            graceMs: options.grace * 1000,
            claims: {
              who: options.who ?? defaultWho(context.env),
              operation: options.operation ?? commandArgs.join(' ').slice(0, 200),
              info: options.info ?? '',
            },
            command: commandArgs,
            interactive: process.stdin.isTTY === true,
            environment: async (holder) =>
              runEnvironment({
                base: context.env,
                server: context.server,
                ref,
                lockId: holder.id,
                token: context.credential === undefined ? undefined : await context.credential.token(),
                caFile: caFile === undefined || caFile === '' ? undefined : resolve(caFile),
                caPem: context.caPem,
              }),
          })
        }),
    )
}
