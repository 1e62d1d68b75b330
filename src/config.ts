/**
 * Configuration: flags and `UNOBIN_STATE_*` environment variables, validated
 * once at start and frozen. A flag wins over its variable. Every fault names
 * the flag or variable to fix; keys are loaded here so a bad key stops the
 * server at start, not at the first request.
 */
import { isIP } from 'node:net'
import { parseArgs } from 'node:util'
import type { Encrypter } from './crypto/encrypter.js'
import { KeyError, type SealingKey, keyFromEnv, keyFromFile } from './crypto/keys.js'
import { Keyring } from './crypto/keyring.js'
import { NoopEncrypter } from './crypto/noop.js'
import { parseDuration } from './store/retention-policy.js'

/** The validated configuration of one server process. */
export interface Config {
  readonly dataDir: string
  readonly host: string
  readonly port: number
  readonly encryption: 'noop' | 'env-key' | 'key-file'
  readonly keyEnv: string
  readonly keyFile: string | null
  readonly oldKeyEnvs: readonly string[]
  readonly oldKeyFiles: readonly string[]
  readonly logLevel: string
  readonly requireLock: boolean
  readonly maxWaitSeconds: number
  readonly bodyLimitBytes: number
  readonly snapshotCacheBytes: number
  readonly auditLog: string | null
  readonly allowUnauthenticated: boolean
  /** The credentials file; null: no credentials, auth is off. */
  readonly tokensFile: string | null
  /** Requests per minute per caller (0: no limit). */
  readonly rateLimitPerMinute: number
  readonly rateBurst: number
  /** Most locks one caller may hold (0: no cap). */
  readonly maxLocksPerCaller: number
  readonly tlsCert: string | null
  readonly tlsKey: string | null
  /** Proxies (addresses or CIDRs) whose X-Forwarded-For is believed; empty: none. */
  readonly trustProxy: readonly string[]
  /** A second listener serving only GET /metrics, without credentials; null: none. */
  readonly metricsListen: { readonly host: string; readonly port: number } | null
  /** Above this many stacks, /metrics leaves out the per-stack series (revs, lock age). */
  readonly metricsMaxStacks: number
  /** The retention policy prunes apply when they name none (null: no rule). */
  readonly retentionKeep: number | null
  readonly retentionMaxAgeMs: number | null
  /** How often the server prunes every stack by the policy and purges the trash; null: never on its own. */
  readonly retentionIntervalMs: number | null
  /** How long pruned revs stay restorable in a stack's trash. */
  readonly trashDays: number
}

/** A setting is wrong; `message` names the flag/variable and what to do. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/** One setting: its flag, its variable, its default and what it means (the --help table). */
interface Setting {
  readonly flag: string
  readonly env: string
  readonly arg: string
  readonly fallback: string
  readonly help: string
  readonly multiple?: boolean
  readonly boolean?: boolean
}

/** Every setting, in --help order. README's table is kept equal to this by a test. */
export const SETTINGS: readonly Setting[] = [
  { flag: 'data-dir', env: 'UNOBIN_STATE_DATA_DIR', arg: 'DIR', fallback: './data', help: 'store root: <factory>/<stack>/ trees in the unobin local format' },
  { flag: 'listen', env: 'UNOBIN_STATE_LISTEN', arg: 'HOST:PORT', fallback: '127.0.0.1:8080', help: 'address to listen on ([::1]:8080 for IPv6)' },
  { flag: 'encryption', env: 'UNOBIN_STATE_ENCRYPTION', arg: 'NAME', fallback: 'noop', help: 'noop (development only), env-key or key-file' },
  { flag: 'key-env', env: 'UNOBIN_STATE_KEY_ENV', arg: 'VAR', fallback: 'UNOBIN_STATE_KEY', help: 'variable holding the base64 32-byte key (env-key)' },
  { flag: 'key-file', env: 'UNOBIN_STATE_KEY_FILE', arg: 'FILE', fallback: '', help: 'file holding the base64 32-byte key (key-file)' },
  { flag: 'old-key-env', env: 'UNOBIN_STATE_OLD_KEY_ENVS', arg: 'VAR', fallback: '', help: 'variable of an older key that still opens revs (repeatable; env: comma-separated)', multiple: true },
  { flag: 'old-key-file', env: 'UNOBIN_STATE_OLD_KEY_FILES', arg: 'FILE', fallback: '', help: 'file of an older key that still opens revs (repeatable; env: comma-separated)', multiple: true },
  { flag: 'log-level', env: 'UNOBIN_STATE_LOG_LEVEL', arg: 'LEVEL', fallback: 'info', help: 'pino level: fatal, error, warn, info, debug, trace, silent' },
  { flag: 'require-lock', env: 'UNOBIN_STATE_REQUIRE_LOCK', arg: '', fallback: 'false', help: 'refuse every mutation that does not present a held lock', boolean: true },
  { flag: 'max-wait', env: 'UNOBIN_STATE_MAX_WAIT', arg: 'SECONDS', fallback: '60', help: 'longest lock wait a client may ask for (?wait=)' },
  { flag: 'body-limit', env: 'UNOBIN_STATE_BODY_LIMIT', arg: 'BYTES', fallback: '67108864', help: 'largest request body accepted (413 above)' },
  { flag: 'snapshot-cache', env: 'UNOBIN_STATE_SNAPSHOT_CACHE', arg: 'MIB', fallback: '64', help: 'memory for opened revs (immutable, so reads skip decrypting); 0 disables' },
  { flag: 'audit-log', env: 'UNOBIN_STATE_AUDIT_LOG', arg: 'FILE', fallback: '<data-dir>/.audit.jsonl', help: 'append-only audit log of mutations and lock events; "off" disables' },
  { flag: 'tokens-file', env: 'UNOBIN_STATE_TOKENS_FILE', arg: 'FILE', fallback: '', help: 'credentials and permissions (YAML or JSON: token hashes, OIDC issuers); without it every caller has every permission' },
  { flag: 'allow-unauthenticated', env: 'UNOBIN_STATE_ALLOW_UNAUTHENTICATED', arg: '', fallback: 'false', help: 'allow listening on a non-loopback address without credentials', boolean: true },
  { flag: 'rate-limit', env: 'UNOBIN_STATE_RATE_LIMIT', arg: 'PER_MINUTE', fallback: '600', help: 'requests per minute per caller, with credentials (429 above; 0: no limit)' },
  { flag: 'rate-burst', env: 'UNOBIN_STATE_RATE_BURST', arg: 'REQUESTS', fallback: '120', help: 'requests a caller may send at once before the rate applies' },
  { flag: 'max-locks', env: 'UNOBIN_STATE_MAX_LOCKS', arg: 'N', fallback: '100', help: 'most locks one caller may hold at once, with credentials (0: no cap)' },
  { flag: 'tls-cert', env: 'UNOBIN_STATE_TLS_CERT', arg: 'FILE', fallback: '', help: 'PEM certificate (chain) to serve HTTPS; needs --tls-key' },
  { flag: 'tls-key', env: 'UNOBIN_STATE_TLS_KEY', arg: 'FILE', fallback: '', help: 'PEM private key of --tls-cert' },
  { flag: 'trust-proxy', env: 'UNOBIN_STATE_TRUST_PROXY', arg: 'ADDRS', fallback: '', help: 'proxy addresses/CIDRs (comma-separated) whose X-Forwarded-For is believed; none by default' },
  { flag: 'metrics-listen', env: 'UNOBIN_STATE_METRICS_LISTEN', arg: 'HOST:PORT', fallback: '', help: 'also serve GET /metrics, without credentials, on this address (none by default)' },
  { flag: 'metrics-max-stacks', env: 'UNOBIN_STATE_METRICS_MAX_STACKS', arg: 'N', fallback: '1000', help: 'above this many stacks, /metrics leaves out the per-stack series (revs, lock age)' },
  { flag: 'retention-keep', env: 'UNOBIN_STATE_RETENTION_KEEP', arg: 'N', fallback: '', help: 'retention: keep the newest N revs of each stack (current and newest always kept)' },
  { flag: 'retention-max-age', env: 'UNOBIN_STATE_RETENTION_MAX_AGE', arg: 'DURATION', fallback: '', help: 'retention: keep revs younger than this (90s, 15m, 12h, 30d)' },
  { flag: 'retention-interval', env: 'UNOBIN_STATE_RETENTION_INTERVAL', arg: 'DURATION', fallback: '', help: 'prune every stack by the retention policy and purge the trash this often (off by default)' },
  { flag: 'trash-days', env: 'UNOBIN_STATE_TRASH_DAYS', arg: 'DAYS', fallback: '7', help: 'days a pruned rev stays restorable in its stack\'s trash before it is purged' },
]

/** The --help text. */
export function helpText(): string {
  const rows = SETTINGS.map((s) => {
    const left = `  --${s.flag}${s.arg ? ` ${s.arg}` : ''}`
    return `${left.padEnd(30)} ${s.help}\n${''.padEnd(30)} env ${s.env}${s.fallback ? `, default ${s.fallback}` : ''}`
  })
  return [
    'Usage: unobin-state-server [options]',
    '',
    'HTTP state server for unobin, Terraform and OpenTofu: versioned, encrypted,',
    'locked state per factory/stack, in the unobin local store format.',
    '',
    'Options (a flag wins over its environment variable):',
    ...rows,
    `  ${'--help'.padEnd(28)} print this help and exit`,
    `  ${'--version'.padEnd(28)} print the version and exit`,
    '',
    'Commands:',
    `  ${'reseal [--factory F] [--stack S]'.padEnd(28)} re-seal every rev with the sealing key (key rotation), then exit`,
    '',
  ].join('\n')
}

/** The outcome of parsing the command line: run with a config, or print and exit. */
export type ParsedCommand = { readonly kind: 'run'; readonly config: Config } | { readonly kind: 'help' } | { readonly kind: 'version' }

/** Parses and validates flags and environment. Throws ConfigError naming the bad setting. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedCommand {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { help: { type: 'boolean' }, version: { type: 'boolean' } }
  for (const s of SETTINGS) options[s.flag] = { type: s.boolean ? 'boolean' : 'string', ...(s.multiple ? { multiple: true } : {}) }
  let values: Record<string, unknown>
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; see --help`)
  }
  if (values.help === true) return { kind: 'help' }
  if (values.version === true) return { kind: 'version' }

  const get = (flag: string): string => {
    const s = SETTINGS.find((x) => x.flag === flag)!
    const v = values[flag]
    if (typeof v === 'string') return v
    if (typeof v === 'boolean') return String(v)
    return env[s.env] ?? s.fallback
  }
  const list = (flag: string): string[] => {
    const s = SETTINGS.find((x) => x.flag === flag)!
    const v = values[flag]
    if (Array.isArray(v)) return v as string[]
    return (env[s.env] ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '')
  }
  const bool = (flag: string): boolean => {
    const s = SETTINGS.find((x) => x.flag === flag)!
    const v = get(flag).toLowerCase()
    if (['true', '1', 'yes'].includes(v)) return true
    if (['false', '0', 'no', ''].includes(v)) return false
    throw new ConfigError(`${s.env} must be true or false, got ${JSON.stringify(v)}`)
  }
  const optional = (flag: string): string | null => {
    const v = get(flag)
    return v === '' ? null : v
  }
  const int = (flag: string, min: number, max: number): number => {
    const s = SETTINGS.find((x) => x.flag === flag)!
    const raw = get(flag)
    const n = Number(raw)
    if (!/^\d+$/.test(raw) || n < min || n > max) throw new ConfigError(`--${flag} / ${s.env} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`)
    return n
  }

  const duration = (flag: string): number | null => {
    const s = SETTINGS.find((x) => x.flag === flag)!
    const raw = get(flag)
    if (raw === '') return null
    const ms = parseDuration(raw)
    if (ms === undefined || ms === 0) throw new ConfigError(`--${flag} / ${s.env} must be a positive duration in seconds or with a unit (90s, 15m, 12h, 30d), got ${JSON.stringify(raw)}`)
    return ms
  }

  const { host, port } = parseListen(get('listen'))
  const encryption = get('encryption')
  if (encryption !== 'noop' && encryption !== 'env-key' && encryption !== 'key-file') {
    throw new ConfigError(`--encryption / UNOBIN_STATE_ENCRYPTION must be noop, env-key or key-file, got ${JSON.stringify(encryption)}`)
  }
  const keyFile = get('key-file')
  if (encryption === 'key-file' && keyFile === '') throw new ConfigError('--encryption key-file needs --key-file / UNOBIN_STATE_KEY_FILE naming the key file')
  const dataDir = get('data-dir')
  if (dataDir === '') throw new ConfigError('--data-dir / UNOBIN_STATE_DATA_DIR must not be empty')
  const audit = values['audit-log'] ?? env.UNOBIN_STATE_AUDIT_LOG
  const logLevel = get('log-level')
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(`--log-level / UNOBIN_STATE_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got ${JSON.stringify(logLevel)}`)
  }
  const config: Config = {
    dataDir,
    host,
    port,
    encryption,
    keyEnv: get('key-env'),
    keyFile: keyFile === '' ? null : keyFile,
    oldKeyEnvs: list('old-key-env'),
    oldKeyFiles: list('old-key-file'),
    logLevel,
    requireLock: bool('require-lock'),
    maxWaitSeconds: int('max-wait', 0, 3600),
    bodyLimitBytes: int('body-limit', 1024, 1024 * 1024 * 1024),
    snapshotCacheBytes: int('snapshot-cache', 0, 65536) * 1024 * 1024,
    auditLog: audit === 'off' ? null : typeof audit === 'string' && audit !== '' ? audit : `${dataDir.replace(/\/+$/, '')}/.audit.jsonl`,
    allowUnauthenticated: bool('allow-unauthenticated'),
    tokensFile: optional('tokens-file'),
    rateLimitPerMinute: int('rate-limit', 0, 1_000_000),
    rateBurst: int('rate-burst', 1, 1_000_000),
    maxLocksPerCaller: int('max-locks', 0, 1_000_000),
    tlsCert: optional('tls-cert'),
    tlsKey: optional('tls-key'),
    trustProxy: get('trust-proxy').split(',').map((x) => x.trim()).filter((x) => x !== ''),
    metricsListen: get('metrics-listen') === '' ? null : parseListen(get('metrics-listen'), '--metrics-listen / UNOBIN_STATE_METRICS_LISTEN'),
    metricsMaxStacks: int('metrics-max-stacks', 0, 1_000_000),
    retentionKeep: get('retention-keep') === '' ? null : int('retention-keep', 0, 1_000_000),
    retentionMaxAgeMs: duration('retention-max-age'),
    retentionIntervalMs: duration('retention-interval'),
    trashDays: int('trash-days', 0, 3650),
  }
  if ((config.tlsCert === null) !== (config.tlsKey === null)) {
    throw new ConfigError('--tls-cert / UNOBIN_STATE_TLS_CERT and --tls-key / UNOBIN_STATE_TLS_KEY go together: give both to serve HTTPS, or neither')
  }
  for (const entry of config.trustProxy) {
    const [address, bits, extra] = entry.split('/')
    const family = isIP(address ?? '')
    const maxBits = family === 6 ? 128 : 32
    if (family === 0 || extra !== undefined || (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > maxBits))) {
      throw new ConfigError(`--trust-proxy / UNOBIN_STATE_TRUST_PROXY must list IP addresses or CIDRs (e.g. 10.0.0.0/8,127.0.0.1), got ${JSON.stringify(entry)}`)
    }
  }
  if (!isLoopback(config.host) && !config.allowUnauthenticated && config.tokensFile === null) {
    throw new ConfigError(`refusing to listen on ${config.host} without credentials: anyone who reaches it could read and overwrite state. Configure --tokens-file (UNOBIN_STATE_TOKENS_FILE), listen on 127.0.0.1, or pass --allow-unauthenticated (UNOBIN_STATE_ALLOW_UNAUTHENTICATED=true) behind a trusted network`)
  }
  return { kind: 'run', config: Object.freeze(config) }
}

/** Builds the encrypter the config names, loading every key now. Throws ConfigError naming the source. */
export function buildEncrypter(config: Config, env: NodeJS.ProcessEnv): Encrypter {
  try {
    const older: SealingKey[] = [...config.oldKeyEnvs.map((name) => keyFromEnv(env, name)), ...config.oldKeyFiles.map((path) => keyFromFile(path))]
    if (config.encryption === 'noop') {
      if (older.length > 0) throw new ConfigError('old keys were given but --encryption is noop: choose env-key or key-file to seal')
      return new NoopEncrypter()
    }
    const sealing = config.encryption === 'env-key' ? keyFromEnv(env, config.keyEnv) : keyFromFile(config.keyFile ?? '')
    return new Keyring(sealing, older)
  } catch (err) {
    if (err instanceof KeyError) throw new ConfigError(err.message)
    throw err
  }
}

/** Parses `host:port` (IPv6 in brackets); `setting` names the flag and variable in the error. */
export function parseListen(value: string, setting = '--listen / UNOBIN_STATE_LISTEN'): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value)
  const port = m ? Number(m[3]) : NaN
  if (m === null || port > 65535) throw new ConfigError(`${setting} must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), got ${JSON.stringify(value)}`)
  return { host: (m[1] ?? m[2])!, port }
}

/** True for loopback addresses and `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1'
  return false
}
