#!/usr/bin/env node
/**
 * The process: read the configuration, build the app, listen, and shut down
 * gracefully on SIGTERM/SIGINT (stop accepting, end lock waits with 503,
 * finish in-flight writes; held locks live on disk and survive the restart).
 * Once listening, leftovers of writers killed before it are swept in the
 * background (src/store/tree-sweep.ts).
 * SIGHUP, and a change in the tokens file's directory, reload the credentials.
 * A second SIGINT/SIGTERM exits at once; an uncaught exception or unhandled
 * rejection is logged and exits 1. A start-up failure is one line on stderr
 * naming the cause and the setting, with an exit code of src/startup/exit-codes.ts.
 * The only module that touches `process`.
 */
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BuiltApp, buildApp } from './app.js'
import { FileAuditLog, NullAuditLog } from './audit.js'
import { CredentialsReloader } from './auth/credentials-reloader.js'
import { TokensFileError } from './auth/tokens-file.js'
import { SystemClock } from './clock.js'
import { ConfigError, describeSetting, helpText, isLoopback, loadConfig } from './config.js'
import { foldsCase } from './fs/case-folding.js'
import { errnoCode, nodeFs } from './fs/fs-ops.js'
import { Metrics } from './http/metrics.js'
import { loadUiAssets } from './http/ui-assets.js'
import { type MetricsListener, listenMetrics } from './http/metrics-listener.js'
import { chooseLogFormat, createLogger } from './logger.js'
import { RetentionJob } from './retention-job.js'
import { detectContainer, loopbackInContainerWarning } from './startup/container.js'
import { buildEncrypter } from './startup/encrypter.js'
import { EXIT, signalExitCode } from './startup/exit-codes.js'
import { loadTlsPair } from './startup/tls.js'
import { SnapshotCache } from './store/snapshot-cache.js'
import { StoreRoot } from './store/store-root.js'
import { sweepTree } from './store/tree-sweep.js'
import { hashTokenCommand } from './tools/hash-token.js'
import { resealCommand } from './tools/reseal.js'
import { packageVersion } from './version.js'

async function main(): Promise<number> {
  const io = { out: process.stdout, err: process.stderr }
  if (process.argv[2] === 'reseal') return resealCommand(process.argv.slice(3), process.env, io)
  if (process.argv[2] === 'hash-token')
    return hashTokenCommand(
      process.argv.slice(3),
      process.argv.includes('--help') || process.stdin.isTTY ? '' : readFileSync(0, 'utf8'),
      io,
    )
  let parsed
  try {
    parsed = loadConfig(process.argv.slice(2), process.env)
  } catch (err) {
    if (err instanceof ConfigError) return cannotStart(err.message, EXIT.config)
    throw err
  }
  if (parsed.kind === 'help') {
    process.stdout.write(helpText())
    return 0
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`${packageVersion()}\n`)
    return 0
  }
  const config = parsed.config
  const logger = createLogger(
    config.logLevel,
    undefined,
    chooseLogFormat(config.logFormat, process.stdout.isTTY === true),
  )
  let encrypter
  let authenticator
  let https
  try {
    encrypter = buildEncrypter(config, process.env, parsed.origins)
    authenticator = config.tokensFile === null ? null : CredentialsReloader.open(config.tokensFile, logger)
    https =
      config.tlsCert === null || config.tlsKey === null
        ? undefined
        : loadTlsPair(config.tlsCert, config.tlsKey, parsed.origins)
  } catch (err) {
    if (err instanceof ConfigError || err instanceof TokensFileError) return cannotStart(err.message, EXIT.config)
    throw err
  }

  const clock = new SystemClock()
  const dataDir = resolve(config.dataDir)
  /** Why the case-folding probe failed, if it did: said once the writability probe below tells whether that is news. */
  let foldsUnknown: string | null | undefined
  const folds = await foldsCase(nodeFs, dataDir).then(
    (folds) => {
      if (folds)
        logger.warn(
          { dataDir, foldsCase: true },
          'the data directory does not tell case apart (Prod and prod are one directory): a name differing only in case from an existing one is refused (name-case-conflict), and grants compare names ignoring case',
        )
      return folds
    },
    (err: unknown) => {
      foldsUnknown = (err as NodeJS.ErrnoException).code ?? null
      return true
    },
  )
  const foldsUnknownNote =
    'names are compared ignoring case (the safe assumption: whether the directory folds case could not be probed) until a restart'
  const root = new StoreRoot({
    foldsCase: folds,
    root: dataDir,
    encrypter,
    clock,
    identity: { pid: process.pid, host: hostname() },
    cache: new SnapshotCache(config.snapshotCacheBytes),
    onWarning: (message) => logger.warn(message),
  })
  const audit =
    config.auditLog === null
      ? new NullAuditLog()
      : new FileAuditLog(resolve(config.auditLog), clock, (err) => logger.error({ err }, 'audit log write failed'), {
          fsyncMs: config.auditFsyncMs,
        })
  const auth =
    authenticator === null
      ? undefined
      : {
          authenticator,
          rateLimit:
            config.rateLimitPerMinute === 0 ? null : { perMinute: config.rateLimitPerMinute, burst: config.rateBurst },
          maxLocksPerCaller: config.maxLocksPerCaller === 0 ? null : config.maxLocksPerCaller,
        }
  const metrics = new Metrics({ processMetrics: true, maxStacks: config.metricsMaxStacks })
  const retention = {
    policy:
      config.retentionKeep === null && config.retentionMaxAgeMs === null
        ? null
        : { keep: config.retentionKeep, maxAgeMs: config.retentionMaxAgeMs },
    trashWindowMs: config.trashDays * 86_400_000,
  }
  const retentionJob =
    config.retentionIntervalMs === null
      ? null
      : new RetentionJob(root, retention, config.retentionIntervalMs, metrics.meter(audit), logger)
  let metricsListener: MetricsListener | null = null
  let app
  let warmUp: BuiltApp['warmUp']
  try {
    // `npm run build` writes the console beside the compiled server (dist/ui next to dist/src).
    const uiDir = fileURLToPath(new URL('../ui/', import.meta.url))
    const ui = await loadUiAssets(uiDir)
    if (ui === null) logger.warn({ uiDir }, 'the console is not built: /ui/ answers 404 (run npm run build)')
    ;({ app, warmUp } = await buildApp({
      config,
      root,
      audit,
      logger,
      version: packageVersion(),
      auth,
      https,
      trustProxy: config.trustProxy,
      metrics,
      retention,
      ui,
      events: { maxStreams: config.maxEventStreams },
      auditReads: config.auditReads,
      maxLargeBodies: config.maxLargeBodies,
    }))
  } catch (err) {
    return cannotStart((err as Error).message, EXIT.config)
  }

  if (config.encryption === 'noop')
    logger.warn('encryption is noop: snapshots are stored unencrypted (development only)')
  if (authenticator === null) logger.warn('no credentials are configured: every caller has every permission')
  else
    logger.info(
      {
        credentials: authenticator.describe(),
        tokensFile: config.tokensFile,
        rateLimitPerMinute: config.rateLimitPerMinute,
        maxLocksPerCaller: config.maxLocksPerCaller,
      },
      'credentials are configured: every request except health and openapi needs a token',
    )
  if (authenticator !== null && https === undefined && !isLoopback(config.listen.host))
    logger.warn(
      'credentials travel in clear text: serve TLS (--tls-cert/--tls-key) or put a TLS-terminating proxy in front',
    )
  logger.info(
    {
      dataDir,
      foldsCase: folds,
      encryption: encrypter.describe(),
      requireLock: config.requireLock,
      auditLog: config.auditLog,
      auditReads: config.auditReads,
    },
    'starting',
  )

  let stopping = false
  /** Stops the start-up sweep (between stacks; a shutdown waits for it) and the schema warm-up. */
  const background = new AbortController()
  let swept: Promise<void> = Promise.resolve()
  const stop = (signal: 'SIGINT' | 'SIGTERM') => {
    if (stopping) {
      logger.warn(
        { signal },
        'second signal during shutdown: exiting at once (in-flight requests are cut off; held locks stay on disk)',
      )
      process.exit(signalExitCode(signal))
    }
    stopping = true
    logger.info(
      { signal },
      'shutting down: no new requests; waits end with 503; in-flight writes finish (send the signal again to exit at once)',
    )
    const force = setTimeout(() => {
      logger.error('shutdown took longer than 30 s; exiting')
      process.exit(EXIT.internal)
    }, 30_000)
    force.unref()
    authenticator?.close()
    background.abort()
    Promise.all([app.close(), retentionJob?.stop(), metricsListener?.close(), swept]).then(
      async () => {
        root.close()
        if (audit instanceof FileAuditLog) await audit.close() // every recorded event is on disk before exit
        logger.info('stopped')
        process.exitCode = EXIT.ok
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        process.exitCode = EXIT.internal
      },
    )
  }
  // SIGHUP reloads the tokens file (without a handler it would end the process).
  process.on('SIGHUP', () => {
    if (authenticator === null) logger.warn('SIGHUP: there is no tokens file to reload (--tokens-file is not set)')
    else void authenticator.reload('SIGHUP')
  })
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  // A half-working process is worse than a restart: log what happened and exit.
  process.on('uncaughtException', (err) => crash(logger, 'uncaught exception', err))
  process.on('unhandledRejection', (err) => crash(logger, 'unhandled promise rejection', err))

  try {
    await root.probeWritable()
    if (foldsUnknown !== undefined)
      logger.warn(
        { dataDir, errno: foldsUnknown, foldsCase: true },
        `the case-folding probe file could not be made: ${foldsUnknownNote}`,
      )
  } catch (err) {
    // One message for one cause: the case-folding probe failed for the same reason, and says so here.
    logger.error(
      {
        dataDir,
        errno: (err as NodeJS.ErrnoException).code ?? null,
        ...(foldsUnknown === undefined ? {} : { foldsCase: true }),
      },
      `THE DATA DIRECTORY ${dataDir} IS NOT WRITABLE (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): every write will fail and /readyz answers 503 until it is; check the volume, its mount and its owner (the image runs as uid 1000, user node)${foldsUnknown === undefined ? '' : `; ${foldsUnknownNote}`}`,
    )
  }

  try {
    await app.listen({ host: config.listen.host, port: config.listen.port })
  } catch (err) {
    root.close()
    return cannotStart(
      listenFailure(
        err,
        `${describeSetting('listen', parsed.origins.listen)} ${config.listen.host}:${config.listen.port}`,
      ),
      EXIT.listen,
    )
  }
  const evidence = isLoopback(config.listen.host) ? detectContainer() : null
  if (evidence !== null)
    logger.warn(loopbackInContainerWarning(`${config.listen.host}:${config.listen.port}`, evidence))
  app.server.headersTimeout = 30_000
  if (config.metricsListen !== null) {
    try {
      metricsListener = await listenMetrics(
        metrics,
        root,
        config.metricsListen.host,
        config.metricsListen.port,
        (err) => logger.error({ err }, 'metrics scrape failed'),
      )
      logger.info(
        { url: `${metricsListener.url}/metrics` },
        'serving metrics without credentials on a separate listener',
      )
    } catch (err) {
      await app.close()
      root.close()
      return cannotStart(
        listenFailure(
          err,
          `${describeSetting('metricsListen', parsed.origins.metricsListen)} ${config.metricsListen.host}:${config.metricsListen.port}`,
        ),
        EXIT.listen,
      )
    }
  }
  authenticator?.watch()
  if (retentionJob !== null) {
    retentionJob.start()
    logger.info(
      {
        keep: config.retentionKeep,
        maxAgeMs: config.retentionMaxAgeMs,
        intervalMs: config.retentionIntervalMs,
        trashDays: config.trashDays,
      },
      'retention schedule on',
    )
  }
  swept = sweepAtStart(root, background.signal, logger)
  // Schemas compile on first use; compile the rest now, one per turn of the event loop, before traffic needs them.
  warmUp(background.signal).catch((err: unknown) => logger.error({ err }, 'a route schema does not compile'))
  return -1 // keep running
}

/** Runs the start-up sweep in the background and logs what it did; never fails the process. */
async function sweepAtStart(
  root: StoreRoot,
  signal: AbortSignal,
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void },
): Promise<void> {
  const started = performance.now()
  const reported = new Set<string>()
  const result = await sweepTree(root, {
    signal,
    onError: (where, err) => {
      // A volume that refuses everything fails every stack alike: the first few say why, the summary counts them all.
      // A refusal of the filesystem (an errno) is told by its code and message, once per place: its stack trace
      // says nothing (the data directory's own sweep and its listing meet the same ENOTDIR); anything else is a bug.
      const code = errnoCode(err)
      const key = `${where}\0${code ?? ''}\0${err instanceof Error ? err.message : String(err)}`
      if (reported.has(key) || reported.size >= 5) return
      reported.add(key)
      logger.warn(
        code === undefined ? { where, code: null, err } : { where, code, error: (err as Error).message },
        'start-up sweep: leftover temp files could not be swept here; the next change of the stack and the retention job try again',
      )
    },
  })
  logger.info(
    { ...result, ms: Math.round(performance.now() - started) },
    `start-up sweep: removed ${result.removed} leftover temp file${result.removed === 1 ? '' : 's'} of dead writers in ${result.stacks} stack${result.stacks === 1 ? '' : 's'}`,
  )
}

/** Writes the one start-up failure line and returns the exit code. */
function cannotStart(message: string, code: number): number {
  process.stderr.write(`unobin-state-server: cannot start: ${message}\n`)
  return code
}

/** One line for a failed listen: the address, the cause and what to do. */
function listenFailure(err: unknown, address: string): string {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'EADDRINUSE')
    return `${address}: the address is in use (EADDRINUSE): another process listens there; stop it or choose another port`
  if (code === 'EADDRNOTAVAIL')
    return `${address}: no interface of this host has that address (EADDRNOTAVAIL): use one of its addresses, 0.0.0.0 or 127.0.0.1`
  if (code === 'EACCES')
    return `${address}: permission denied (EACCES): ports below 1024 need privileges; use a port from 1024 up`
  return `${address}: ${code ?? (err as Error).message}`
}

/** Logs a crash and exits 1: the process cannot be trusted to go on. */
function crash(logger: { fatal(obj: object, msg: string): void }, what: string, err: unknown): never {
  try {
    logger.fatal({ err }, `${what}: exiting`)
  } finally {
    process.stderr.write(`unobin-state-server: ${what}: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(EXIT.internal)
  }
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code)
  },
  (err: unknown) => {
    process.stderr.write(`unobin-state-server: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(EXIT.internal)
  },
)
