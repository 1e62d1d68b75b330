/**
 * `unobin-state-server reseal [--factory F] [--stack S] [server options]`:
 * key rotation for the whole tree (or one factory or stack). Reads the same
 * flags and `UNOBIN_STATE_*` variables as the server (data dir, encryption,
 * keys, audit log), re-seals every rev with the sealing key, prints one line
 * per rev and a total, and audits one `snapshot.reseal` event per stack.
 *
 * Safe while servers run on the same tree (each rev is replaced atomically
 * under the stack's mutex), and resumable: a rerun skips what is done.
 * Exit status: 0 when every rev is sealed with the sealing key, 1 when some
 * rev could not be opened or the disk failed (rerun once fixed), 2 for a
 * configuration error.
 */
import { hostname, userInfo } from 'node:os'
import { resolve } from 'node:path'
import { FileAuditLog, NullAuditLog } from '../audit.js'
import { SystemClock } from '../clock.js'
import { ConfigError, loadConfig } from '../config.js'
import { describeRef } from '../crypto/encrypter.js'
import { type ResealStep, resealTree } from '../store/reseal.js'
import { buildEncrypter } from '../startup/encrypter.js'
import { StoreRoot } from '../store/store-root.js'

/** Where the command writes: progress to `out`, faults to `err`. */
export interface CommandIo {
  readonly out: { write(text: string): unknown }
  readonly err: { write(text: string): unknown }
}

const USAGE = `Usage: unobin-state-server reseal [--factory F [--stack S]] [server options]

Re-seals every rev (and every trash entry) with the sealing key: configure the
new key as the sealing key (--key-env / --key-file) and the old one as
--old-key-env / --old-key-file, run this, then drop the old key. Safe while
servers run on the same data directory; a rerun skips what is done.
Takes the server's options (see unobin-state-server --help), plus:
  --factory F    only the stacks of factory F
  --stack S      only stack S of factory F
`

/** Runs the command; returns the exit status. */
export async function resealCommand(argv: readonly string[], env: NodeJS.ProcessEnv, io: CommandIo): Promise<number> {
  let scope: { factory?: string; stack?: string }
  let rest: string[]
  try {
    ;({ scope, rest } = splitScope(argv))
  } catch (err) {
    io.err.write(`unobin-state-server reseal: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (rest.includes('--help')) {
    io.out.write(USAGE)
    return 0
  }
  let root: StoreRoot
  let audit
  try {
    // The command never listens, so the listen address (and its credentials check) does not apply.
    const parsed = loadConfig(['--listen', '127.0.0.1:0', ...rest], env)
    if (parsed.kind !== 'run') throw new ConfigError('--version is not an option of reseal')
    const config = parsed.config
    const clock = new SystemClock()
    root = new StoreRoot({
      root: resolve(config.dataDir),
      encrypter: buildEncrypter(config, env, parsed.origins),
      clock,
      identity: { pid: process.pid, host: hostname() },
      onWarning: (m) => io.err.write(`warning: ${m}\n`),
    })
    audit =
      config.auditLog === null
        ? new NullAuditLog()
        : new FileAuditLog(
            resolve(config.auditLog),
            clock,
            (e) => io.err.write(`warning: audit log write failed: ${(e as Error).message}\n`),
            { fsyncMs: config.auditFsyncMs },
          )
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err.write(`unobin-state-server reseal: ${err.message}\n`)
      return 2
    }
    throw err
  }

  const sealedWith = describeRef(root.encrypter.ref)
  const principal = `local:${safeUser()}`
  io.out.write(
    `re-sealing with ${sealedWith} in ${root.root}${scope.factory === undefined ? '' : ` (${scope.factory}${scope.stack === undefined ? '' : `/${scope.stack}`})`}\n`,
  )
  let stack: { factory: string; stack: string; resealed: number; skipped: number; failed: number } | undefined
  const flush = async () => {
    if (stack !== undefined && (stack.resealed > 0 || stack.failed > 0)) {
      await audit.record({
        action: 'snapshot.reseal',
        principal,
        factory: stack.factory,
        stack: stack.stack,
        detail: { resealed: stack.resealed, skipped: stack.skipped, failed: stack.failed, sealedWith, via: 'command' },
      })
    }
  }
  const onStep = async (step: ResealStep) => {
    if (stack === undefined || stack.factory !== step.factory || stack.stack !== step.stack) {
      await flush()
      stack = { factory: step.factory, stack: step.stack, resealed: 0, skipped: 0, failed: 0 }
    }
    if (step.outcome === 'resealed') stack.resealed++
    else if (step.outcome === 'failed') stack.failed++
    else stack.skipped++
    const where = `${step.factory}/${step.stack} ${step.rev}${step.trashed ? ' (trash)' : ''}`
    io.out.write(
      step.outcome === 'failed'
        ? `failed ${where}: ${step.detail ?? ''}\n`
        : `${step.outcome === 'absent' ? 'skipped' : step.outcome} ${where}\n`,
    )
  }
  try {
    const report = await resealTree(root, scope, onStep)
    await flush()
    io.out.write(
      `done: ${report.resealed} resealed, ${report.skipped} skipped, ${report.failed} failed, in ${report.stacks} stacks\n`,
    )
    if (report.failed > 0)
      io.err.write(
        `${report.failed} revs could not be opened with the configured keys and were left as they are: configure the key that sealed them (see the failed lines) and run reseal again\n`,
      )
    return report.failed > 0 ? 1 : 0
  } catch (err) {
    await flush()
    io.err.write(
      `unobin-state-server reseal: stopped: ${(err as Error).message}\nWhat was done stays done; run reseal again to finish.\n`,
    )
    return 1
  } finally {
    root.close()
    if (audit instanceof FileAuditLog) await audit.close() // the audit lines reach the disk before the command exits
  }
}

/** Takes --factory and --stack out of `argv`; the rest are server options, parsed by loadConfig. */
function splitScope(argv: readonly string[]): { scope: { factory?: string; stack?: string }; rest: string[] } {
  const scope: { factory?: string; stack?: string } = {}
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(factory|stack)(?:=(.*))?$/.exec(argv[i]!)
    if (m === null) {
      rest.push(argv[i]!)
      continue
    }
    const value = m[2] ?? argv[++i]
    if (value === undefined || value === '' || value.startsWith('--')) throw new Error(`--${m[1]} needs a name`)
    scope[m[1] as 'factory' | 'stack'] = value
  }
  if (scope.stack !== undefined && scope.factory === undefined) throw new Error('--stack needs --factory')
  return { scope, rest }
}

function safeUser(): string {
  try {
    return userInfo().username
  } catch {
    return 'unknown'
  }
}
