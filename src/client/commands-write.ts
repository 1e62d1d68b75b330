/** The changing commands: push, rollback, gc, prune. Each presents the lock id when the stack is locked. */
import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { ClientError, EXIT } from './exit-codes.js'
import type { Launch } from './launch.js'
import { printJson, printLines } from './output.js'
import { lockIdFor, wholeNumber } from './options.js'
import { progressBar } from './progress.js'
import { formatStackRef, parseStackRef } from './stack-ref.js'

const LOCK_ID_HELP = 'the lock id you hold (default inside `run` on this stack: $UNOBIN_STATE_LOCK_ID)'

/** Registers push, rollback, gc and prune on `program`. */
export function registerWriteCommands(program: Command, launch: Launch): void {
  program
    .command('push')
    .argument('<factory/stack>')
    .argument('<file>', 'the unobin snapshot to store (- for stdin)')
    .option('--current', 'also make the new rev current')
    .option('--lock-id <id>', LOCK_ID_HELP)
    .description('Store a snapshot as a new rev (byte-exact)')
    .action(async (stackArg: string, file: string, options: { current?: boolean; lockId?: string }, command: Command) =>
      launch(command, async ({ api, io, env }) => {
        const ref = parseStackRef(stackArg)
        const body = await readInput(file)
        const bar = progressBar(io.stderr, io.stderrIsTTY, `push ${formatStackRef(ref)}`)
        let written
        try {
          written = await api.write(
            ref,
            body,
            { current: options.current === true, lockId: lockIdFor(options.lockId, formatStackRef(ref), env) },
            { onUpload: bar.update },
          )
        } finally {
          bar.finish()
        }
        if (io.json) return printJson(io, written)
        printLines(io, `wrote ${formatStackRef(ref)} rev ${written.rev}${written.current ? ' (now current)' : ''}`)
      }),
    )

  program
    .command('rollback')
    .argument('<factory/stack>')
    .argument('<rev>', 'a stored rev to make current')
    .option('--lock-id <id>', LOCK_ID_HELP)
    .description('Point current at a stored rev; the history keeps every rev')
    .action(async (stackArg: string, rev: string, options: { lockId?: string }, command: Command) =>
      launch(command, async ({ api, io, env }) => {
        const ref = parseStackRef(stackArg)
        const moved = await api.setCurrent(ref, rev, lockIdFor(options.lockId, formatStackRef(ref), env))
        if (io.json) return printJson(io, moved)
        printLines(io, `${formatStackRef(ref)}: current ${moved.previous ?? '(none)'} -> ${moved.rev}`)
      }),
    )

  program
    .command('gc')
    .argument('<factory/stack>')
    .requiredOption('--keep <n>', 'how many of the newest revs to keep (current is always kept)', wholeNumber(0))
    .option('--dry-run', 'report what would be deleted, delete nothing')
    .option('--lock-id <id>', LOCK_ID_HELP)
    .description('Delete all but the newest N revs (and current), for good')
    .action(async (stackArg: string, options: { keep: number; dryRun?: boolean; lockId?: string }, command: Command) =>
      launch(command, async ({ api, io, env }) => {
        const ref = parseStackRef(stackArg)
        const report = await api.gc(
          ref,
          options.keep,
          options.dryRun === true,
          lockIdFor(options.lockId, formatStackRef(ref), env),
        )
        if (io.json) return printJson(io, report)
        const verb = report.dryRun ? 'would delete' : 'deleted'
        printLines(
          io,
          `${formatStackRef(ref)}: ${verb} ${report.deleted.length} rev(s), kept ${report.kept.length}`,
          ...report.deleted.map((r) => `  ${r}`),
        )
      }),
    )

  program
    .command('prune')
    .argument('<factory/stack>')
    .option('--keep <n>', 'keep the newest N revs', wholeNumber(0))
    .option('--max-age <seconds>', 'keep revs younger than this', wholeNumber(1))
    .option('--dry-run', 'report what would move, move nothing')
    .option('--lock-id <id>', LOCK_ID_HELP)
    .description(
      "Move revs a retention policy does not keep into the stack's trash (the server's policy without --keep/--max-age)",
    )
    .action(
      async (
        stackArg: string,
        options: { keep?: number; maxAge?: number; dryRun?: boolean; lockId?: string },
        command: Command,
      ) =>
        launch(command, async ({ api, io, env }) => {
          const ref = parseStackRef(stackArg)
          const report = await api.prune(
            ref,
            { keep: options.keep, maxAge: options.maxAge },
            options.dryRun === true,
            lockIdFor(options.lockId, formatStackRef(ref), env),
          )
          if (io.json) return printJson(io, report)
          const verb = report.dryRun ? 'would move' : 'moved'
          printLines(
            io,
            `${formatStackRef(ref)}: ${verb} ${report.trashed.length} rev(s) to the trash, kept ${report.kept.length}, purged ${report.purged.length}`,
            ...report.trashed.map((r) => `  ${r}`),
          )
        }),
    )
}

/** The bytes of FILE, or of stdin for `-`. */
async function readInput(file: string): Promise<Buffer> {
  try {
    if (file !== '-') return await readFile(file)
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  } catch (err) {
    throw new ClientError(
      'bad-file',
      `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      EXIT.failure,
      undefined,
      { cause: err },
    )
  }
}
