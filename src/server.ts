#!/usr/bin/env node
/**
 * The process: read the configuration, build the app, listen, and shut down
 * gracefully on SIGTERM/SIGINT (stop accepting, end lock waits with 503,
 * finish in-flight writes; held locks live on disk and survive the restart).
 * The only module that touches `process`.
 */
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from './app.js'
import { FileAuditLog, NullAuditLog } from './audit.js'
import { createAuthenticator } from './auth/authenticator.js'
import { TokensFileError, loadTokensFile } from './auth/tokens-file.js'
import { SystemClock } from './clock.js'
import { ConfigError, helpText, isLoopback, loadConfig } from './config.js'
import { Metrics } from './http/metrics.js'
import { loadUiAssets } from './http/ui-assets.js'
import { type MetricsListener, listenMetrics } from './http/metrics-listener.js'
import { chooseLogFormat, createLogger } from './logger.js'
import { RetentionJob } from './retention-job.js'
import { buildEncrypter } from './startup/encrypter.js'
import { SnapshotCache } from './store/snapshot-cache.js'
import { StoreRoot } from './store/store-root.js'
import { resealCommand } from './tools/reseal.js'
import { packageVersion } from './version.js'

async function main(): Promise<number> {
  if (process.argv[2] === 'reseal') return resealCommand(process.argv.slice(3), process.env, { out: process.stdout, err: process.stderr })
  let parsed
  try {
    parsed = loadConfig(process.argv.slice(2), process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`unobin-state-server: ${err.message}\n`)
      return 2
    }
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
  let encrypter
  let credentials
  let https
  try {
    encrypter = buildEncrypter(config, process.env, parsed.origins)
    credentials = config.tokensFile === null ? null : loadTokensFile(config.tokensFile)
    https = config.tlsCert === null || config.tlsKey === null ? undefined : { cert: readPem(config.tlsCert, '--tls-cert'), key: readPem(config.tlsKey, '--tls-key') }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof TokensFileError) {
      process.stderr.write(`unobin-state-server: ${err.message}\n`)
      return 2
    }
    throw err
  }

  const logger = createLogger(config.logLevel, undefined, chooseLogFormat(config.logFormat, process.stdout.isTTY === true))
  const clock = new SystemClock()
  const dataDir = resolve(config.dataDir)
  const root = new StoreRoot({
    root: dataDir,
    encrypter,
    clock,
    identity: { pid: process.pid, host: hostname() },
    cache: new SnapshotCache(config.snapshotCacheBytes),
    onWarning: (message) => logger.warn(message),
  })
  const audit = config.auditLog === null ? new NullAuditLog() : new FileAuditLog(resolve(config.auditLog), clock, (err) => logger.error({ err }, 'audit log write failed'))
  const authenticator = credentials === null ? null : createAuthenticator(credentials)
  const auth = authenticator === null ? undefined : {
    authenticator,
    rateLimit: config.rateLimitPerMinute === 0 ? null : { perMinute: config.rateLimitPerMinute, burst: config.rateBurst },
    maxLocksPerCaller: config.maxLocksPerCaller === 0 ? null : config.maxLocksPerCaller,
  }
  const metrics = new Metrics({ processMetrics: true, maxStacks: config.metricsMaxStacks })
  const retention = {
    policy: config.retentionKeep === null && config.retentionMaxAgeMs === null ? null : { keep: config.retentionKeep, maxAgeMs: config.retentionMaxAgeMs },
    trashWindowMs: config.trashDays * 86_400_000,
  }
  const retentionJob = config.retentionIntervalMs === null ? null : new RetentionJob(root, retention, config.retentionIntervalMs, metrics.meter(audit), logger)
  let metricsListener: MetricsListener | null = null
  let app
  try {
    // `npm run build` writes the console beside the compiled server (dist/ui next to dist/src).
    const uiDir = fileURLToPath(new URL('../ui/', import.meta.url))
    const ui = await loadUiAssets(uiDir)
    if (ui === null) logger.warn({ uiDir }, 'the console is not built: /ui/ answers 404 (run npm run build)')
    ;({ app } = await buildApp({ config, root, audit, logger, version: packageVersion(), auth, https, trustProxy: config.trustProxy, metrics, retention, ui }))
  } catch (err) {
    process.stderr.write(`unobin-state-server: cannot start: ${(err as Error).message}\n`)
    return 2
  }

  if (config.encryption === 'noop') logger.warn('encryption is noop: snapshots are stored unencrypted (development only)')
  if (authenticator === null) logger.warn('no credentials are configured: every caller has every permission')
  else logger.info({ credentials: authenticator.describe(), tokensFile: config.tokensFile, rateLimitPerMinute: config.rateLimitPerMinute, maxLocksPerCaller: config.maxLocksPerCaller }, 'credentials are configured: every request except health and openapi needs a token')
  if (authenticator !== null && https === undefined && !isLoopback(config.listen.host)) logger.warn('credentials travel in clear text: serve TLS (--tls-cert/--tls-key) or put a TLS-terminating proxy in front')
  logger.info({ dataDir, encryption: encrypter.describe(), requireLock: config.requireLock, auditLog: config.auditLog }, 'starting')

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down: no new requests; waits end with 503; in-flight writes finish')
    const force = setTimeout(() => {
      logger.error('shutdown took longer than 30 s; exiting')
      process.exit(1)
    }, 30_000)
    force.unref()
    Promise.all([app.close(), retentionJob?.stop(), metricsListener?.close()]).then(
      () => {
        root.close()
        logger.info('stopped')
        process.exitCode = 0
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed')
        process.exitCode = 1
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))

  try {
    await app.listen({ host: config.listen.host, port: config.listen.port })
  } catch (err) {
    logger.fatal({ err }, `cannot listen on ${config.listen.host}:${config.listen.port}`)
    return 1
  }
  app.server.headersTimeout = 30_000
  if (config.metricsListen !== null) {
    try {
      metricsListener = await listenMetrics(metrics, root, config.metricsListen.host, config.metricsListen.port, (err) => logger.error({ err }, 'metrics scrape failed'))
      logger.info({ url: `${metricsListener.url}/metrics` }, 'serving metrics without credentials on a separate listener')
    } catch (err) {
      logger.fatal({ err }, `cannot listen for metrics on ${config.metricsListen.host}:${config.metricsListen.port}`)
      await app.close()
      return 1
    }
  }
  if (retentionJob !== null) {
    retentionJob.start()
    logger.info({ keep: config.retentionKeep, maxAgeMs: config.retentionMaxAgeMs, intervalMs: config.retentionIntervalMs, trashDays: config.trashDays }, 'retention schedule on')
  }
  return -1 // keep running
}

/** Reads a PEM file named by `flag`. Throws ConfigError naming the flag. */
function readPem(path: string, flag: string): Buffer {
  try {
    const pem = readFileSync(path)
    if (!pem.includes('-----BEGIN ')) throw new ConfigError(`${flag} ${path} is not a PEM file`)
    return pem
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError(`cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code)
  },
  (err: unknown) => {
    process.stderr.write(`unobin-state-server: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  },
)
