/** The reading commands: stacks, history, show, pull. */
import { rename, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Command } from 'commander'
import { ClientError, EXIT } from './exit-codes.js'
import type { Launch } from './launch.js'
import { describeHolder, keyValues, printJson, printLines, revInstant, table, when } from './output.js'
import { progressBar } from './progress.js'
import { summarize } from './snapshot-summary.js'
import { formatStackRef, parseFactory, parseStackRef } from './stack-ref.js'

/** Registers stacks, history, show and pull on `program`. */
export function registerReadCommands(program: Command, launch: Launch): void {
  program
    .command('stacks')
    .argument('[factory]', "list this factory's stacks (without it: the factories)")
    .description('List the factories, or the stacks of one factory with their current rev, rev count and lock holder')
    .action(async (factoryArg: string | undefined, _options: object, command: Command) =>
      launch(command, async ({ api, io }) => {
        if (factoryArg === undefined) {
          const factories = await api.factories()
          if (io.json) return printJson(io, factories)
          io.stdout.write(
            table(
              ['FACTORY', 'STACKS'],
              factories.map((f) => [f.name, String(f.stacks)]),
            ),
          )
          return
        }
        const factory = parseFactory(factoryArg)
        const stacks = await api.stacks(factory)
        if (io.json) return printJson(io, stacks)
        io.stdout.write(
          table(
            ['STACK', 'CURRENT', 'REVS', 'LOCK'],
            stacks.map((s) => [
              s.name,
              s.error !== null
                ? `error: ${s.error}`
                : s.current === null
                  ? '-'
                  : `${s.current} (${when(io, revInstant(s.current))})`,
              String(s.revs),
              s.lock === null ? '-' : `${s.lock.who || s.lock.principal || 'locked'} since ${when(io, s.lock.created)}`,
            ]),
          ),
        )
      }),
    )

  program
    .command('history')
    .argument('<factory/stack>')
    .description(
      "List a stack's revs, oldest first, with who wrote each (principal, lock holder), its kind and size; * marks the current one",
    )
    .action(async (stackArg: string, _options: object, command: Command) =>
      launch(command, async ({ api, io }) => {
        const ref = parseStackRef(stackArg)
        const { revs, current, history } = await api.history(ref)
        if (io.json) return printJson(io, { revs, current, history })
        if (revs.length === 0) return printLines(io, `${formatStackRef(ref)} has no revs`)
        io.stdout.write(
          table(
            ['', 'REV', 'WRITTEN', 'BY', 'LOCK', 'KIND', 'SIZE'],
            history.map(({ rev, metadata: m }) => [
              rev === current ? '*' : '',
              rev,
              when(io, revInstant(rev)),
              m === null ? '(another tool)' : (m.principal ?? '-'),
              m?.lock == null ? '-' : [m.lock.who, m.lock.operation].filter((x) => x !== '').join('/') || m.lock.id,
              m === null ? '-' : m.kind + (m.serial === null ? '' : ` #${m.serial}`),
              m === null ? '-' : String(m.bytes),
            ]),
          ),
        )
      }),
    )

  program
    .command('show')
    .argument('<factory/stack>')
    .argument('[rev]', 'a stored rev (default: the current one)')
    .description(
      'Describe a snapshot: its kind, serial and lineage or factory, counts, and output names (never values)',
    )
    .action(async (stackArg: string, revArg: string | undefined, _options: object, command: Command) =>
      launch(command, async ({ api, io }) => {
        const ref = parseStackRef(stackArg)
        const [snapshot, list] = await Promise.all([api.download(ref, revArg), api.currentRev(ref)])
        const summary = summarize(snapshot.body)
        const rev = snapshot.rev ?? revArg ?? null
        const isCurrent = rev !== null && rev === list
        if (io.json) return printJson(io, { stack: formatStackRef(ref), rev, current: isCurrent, ...summary })
        const rows: [string, string][] = [
          ['stack', formatStackRef(ref)],
          ['rev', `${rev ?? '?'}${isCurrent ? ' (current)' : ''}`],
          ['written', rev === null ? '-' : when(io, revInstant(rev))],
          ['size', `${summary.bytes} bytes`],
        ]
        if (summary.kind === 'terraform-state') {
          rows.push(
            ['kind', `Terraform/OpenTofu state${summary.terraformVersion ? ` (${summary.terraformVersion})` : ''}`],
            ['serial', String(summary.serial)],
            ['lineage', summary.lineage ?? '-'],
            ['resources', String(summary.resources)],
          )
        } else if (summary.kind === 'unobin-snapshot') {
          rows.push(
            ['kind', 'unobin snapshot'],
            ['factory', summary.factory ?? '-'],
            ['generated', when(io, summary.generatedAt)],
            ['entries', String(summary.entries)],
          )
        } else {
          rows.push(['kind', 'unknown document'])
        }
        rows.push(['outputs', summary.outputs.length === 0 ? '-' : summary.outputs.join(', ')])
        io.stdout.write(keyValues(rows))
      }),
    )

  program
    .command('pull')
    .argument('<factory/stack>')
    .argument('[rev]', 'a stored rev (default: the current one)')
    .option('-o, --output <file>', 'write to this file (atomically) instead of stdout')
    .description('Download a snapshot byte-exact, to stdout or a file')
    .action(async (stackArg: string, revArg: string | undefined, options: { output?: string }, command: Command) =>
      launch(command, async ({ api, io }) => {
        const ref = parseStackRef(stackArg)
        const bar = progressBar(io.stderr, io.stderrIsTTY, `pull ${formatStackRef(ref)}`)
        let snapshot
        try {
          snapshot = await api.download(ref, revArg, { onDownload: bar.update })
        } finally {
          bar.finish()
        }
        if (options.output === undefined) {
          io.stdout.write(snapshot.body)
          return
        }
        const target = options.output
        const temp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`)
        try {
          await writeFile(temp, snapshot.body)
          await rename(temp, target)
        } catch (err) {
          throw new ClientError(
            'bad-file',
            `cannot write ${target} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
            EXIT.failure,
            undefined,
            { cause: err },
          )
        }
        if (io.json)
          return printJson(io, {
            stack: formatStackRef(ref),
            rev: snapshot.rev ?? null,
            bytes: snapshot.body.length,
            file: target,
          })
        io.stderr.write(
          `pulled ${formatStackRef(ref)} rev ${snapshot.rev ?? '?'} (${snapshot.body.length} bytes) to ${target}\n`,
        )
      }),
    )

  program
    .command('holder')
    .argument('<factory/stack>')
    .description('Show who holds a stack\'s lock (exit 0 when held, 1 with "free" when not)')
    .action(async (stackArg: string, _options: object, command: Command) =>
      launch(command, async ({ api, io }) => {
        const ref = parseStackRef(stackArg)
        const holder = await api.holder(ref)
        if (io.json) printJson(io, holder ?? null)
        else
          printLines(
            io,
            holder === undefined
              ? `${formatStackRef(ref)} is free`
              : `${formatStackRef(ref)} is locked by ${describeHolder(holder, io.now())}`,
          )
        return holder === undefined ? EXIT.failure : EXIT.ok
      }),
    )
}
