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
  readonly auditLog: string | null
  readonly allowUnauthenticated: boolean
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
  { flag: 'audit-log', env: 'UNOBIN_STATE_AUDIT_LOG', arg: 'FILE', fallback: '<data-dir>/.audit.jsonl', help: 'append-only audit log of mutations and lock events; "off" disables' },
  { flag: 'allow-unauthenticated', env: 'UNOBIN_STATE_ALLOW_UNAUTHENTICATED', arg: '', fallback: 'false', help: 'allow listening on a non-loopback address without credentials', boolean: true },
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
  const int = (flag: string, min: number, max: number): number => {
    const s = SETTINGS.find((x) => x.flag === flag)!
    const raw = get(flag)
    const n = Number(raw)
    if (!/^\d+$/.test(raw) || n < min || n > max) throw new ConfigError(`--${flag} / ${s.env} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`)
    return n
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
    auditLog: audit === 'off' ? null : typeof audit === 'string' && audit !== '' ? audit : `${dataDir.replace(/\/+$/, '')}/.audit.jsonl`,
    allowUnauthenticated: bool('allow-unauthenticated'),
  }
  if (!isLoopback(config.host) && !config.allowUnauthenticated) {
    throw new ConfigError(`refusing to listen on ${config.host} without credentials: anyone who reaches it could read and overwrite state. Listen on 127.0.0.1, or pass --allow-unauthenticated (UNOBIN_STATE_ALLOW_UNAUTHENTICATED=true) behind a trusted network`)
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

/** Parses `host:port` (IPv6 in brackets). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value)
  const port = m ? Number(m[3]) : NaN
  if (m === null || port > 65535) throw new ConfigError(`--listen / UNOBIN_STATE_LISTEN must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), got ${JSON.stringify(value)}`)
  return { host: (m[1] ?? m[2])!, port }
}

/** True for loopback addresses and `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1'
  return false
}
