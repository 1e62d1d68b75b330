/**
 * Configuration: flags and `UNOBIN_STATE_*` environment variables, validated
 * once at start and frozen. A flag wins over its variable.
 *
 * One table (`SETTINGS`) is the single source of every setting: its flag,
 * its variable, its default, its --help text and its parser. The `Config`
 * type is derived from the table, so a setting cannot be documented without
 * being parsed, nor parsed into a field the type does not have. Every fault
 * names the setting as it was given — the flag, or the environment variable
 * (a value baked into an image) — and what to do.
 */
import { isIP } from 'node:net'
import { parseArgs } from 'node:util'
import proxyAddr from '@fastify/proxy-addr'
import { parseDuration } from './time/duration.js'

/** A setting is wrong; `message` names the flag or variable and what to do. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/** Where a setting's value came from. */
export type Origin = 'flag' | 'env' | 'default'

/** A value as given: its text (or the values of a repeatable flag). */
interface Raw {
  readonly text: string
  readonly list: readonly string[]
}

/** Thrown by a parser: what the value must be. The loader adds which setting and where it came from. */
class BadValue extends Error {}

/** One setting: its Config field, flag, variable, default, --help text and parser. */
export interface Setting<K extends string = string, T = unknown> {
  /** The field of `Config` it fills. */
  readonly key: K
  readonly flag: string
  readonly env: string
  /** The flag's argument in --help (empty for boolean flags). */
  readonly arg: string
  /** The default, as text (parsed like a given value). */
  readonly fallback: string
  readonly help: string
  /** `boolean`: a flag without argument; `list`: repeatable flag, comma-separated variable. */
  readonly kind?: 'boolean' | 'list'
  readonly parse: (raw: Raw) => T
}

function setting<const K extends string, T>(s: Setting<K, T>): Setting<K, T> {
  return s
}

// ---- parsers (each throws BadValue saying what the value must be) ----

const text = (raw: Raw): string => raw.text
const optional = (raw: Raw): string | null => (raw.text === '' ? null : raw.text)
const list = (raw: Raw): readonly string[] => raw.list

function bool(raw: Raw): boolean {
  const v = raw.text.toLowerCase()
  if (['true', '1', 'yes'].includes(v)) return true
  if (['false', '0', 'no', ''].includes(v)) return false
  throw new BadValue('must be true or false')
}

function int(min: number, max: number): (raw: Raw) => number {
  return (raw) => {
    const n = Number(raw.text)
    if (!/^\d+$/.test(raw.text) || n < min || n > max)
      throw new BadValue(`must be a whole number from ${min} to ${max}`)
    return n
  }
}

function optionalInt(min: number, max: number): (raw: Raw) => number | null {
  const parse = int(min, max)
  return (raw) => (raw.text === '' ? null : parse(raw))
}

function oneOf<const V extends string>(...values: V[]): (raw: Raw) => V {
  return (raw) => {
    if (!(values as string[]).includes(raw.text)) throw new BadValue(`must be one of ${values.join(', ')}`)
    return raw.text as V
  }
}

/** A duration (90s, 15m, 12h, 30d); empty: null. `zero` admits 0. */
function duration(zero: boolean): (raw: Raw) => number | null {
  return (raw) => {
    if (raw.text === '') return null
    const ms = parseDuration(raw.text)
    if (ms === undefined || (ms === 0 && !zero))
      throw new BadValue(`must be a ${zero ? '' : 'positive '}duration in seconds or with a unit (90s, 15m, 12h, 30d)`)
    return ms
  }
}

/** A listen address. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
}

function listen(raw: Raw): ListenAddress {
  const address = parseHostPort(raw.text)
  if (address === null) throw new BadValue('must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)')
  return address
}

function optionalListen(raw: Raw): ListenAddress | null {
  return raw.text === '' ? null : listen(raw)
}

/** Proxies: keywords (loopback, linklocal, uniquelocal), addresses and CIDRs, checked by Fastify's own compiler. */
function proxies(raw: Raw): readonly string[] {
  const entries = raw.text
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
  for (const entry of entries) {
    try {
      proxyAddr.compile([entry])
    } catch {
      throw new BadValue(
        `must list loopback, linklocal, uniquelocal, IP addresses or CIDRs (e.g. loopback,10.0.0.0/8); ${JSON.stringify(entry)} is none of them`,
      )
    }
  }
  return entries
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** The default of --audit-log: a file in the data directory. */
const AUDIT_IN_DATA_DIR = '<data-dir>/.audit.jsonl'

/** Every setting, in --help order. README's table is kept equal to this by a test. */
export const SETTINGS = [
  setting({
    key: 'dataDir',
    flag: 'data-dir',
    env: 'UNOBIN_STATE_DATA_DIR',
    arg: 'DIR',
    fallback: './data',
    help: 'store root: <factory>/<stack>/ trees in the unobin local format',
    parse: (raw) => {
      if (raw.text === '') throw new BadValue('must not be empty')
      return raw.text
    },
  }),
  setting({
    key: 'listen',
    flag: 'listen',
    env: 'UNOBIN_STATE_LISTEN',
    arg: 'HOST:PORT',
    fallback: '127.0.0.1:8080',
    help: 'address to listen on ([::1]:8080 for IPv6)',
    parse: listen,
  }),
  setting({
    key: 'encryption',
    flag: 'encryption',
    env: 'UNOBIN_STATE_ENCRYPTION',
    arg: 'NAME',
    fallback: 'noop',
    help: 'noop (development only), env-key or key-file',
    parse: oneOf('noop', 'env-key', 'key-file'),
  }),
  setting({
    key: 'keyEnv',
    flag: 'key-env',
    env: 'UNOBIN_STATE_KEY_ENV',
    arg: 'VAR',
    fallback: 'UNOBIN_STATE_KEY',
    help: 'variable holding the base64 32-byte key (env-key)',
    parse: text,
  }),
  setting({
    key: 'keyFile',
    flag: 'key-file',
    env: 'UNOBIN_STATE_KEY_FILE',
    arg: 'FILE',
    fallback: '',
    help: 'file holding the base64 32-byte key (key-file)',
    parse: optional,
  }),
  setting({
    key: 'oldKeyEnvs',
    flag: 'old-key-env',
    env: 'UNOBIN_STATE_OLD_KEY_ENVS',
    arg: 'VAR',
    fallback: '',
    help: 'variable of an older key that still opens revs (repeatable; env: comma-separated)',
    kind: 'list',
    parse: list,
  }),
  setting({
    key: 'oldKeyFiles',
    flag: 'old-key-file',
    env: 'UNOBIN_STATE_OLD_KEY_FILES',
    arg: 'FILE',
    fallback: '',
    help: 'file of an older key that still opens revs (repeatable; env: comma-separated)',
    kind: 'list',
    parse: list,
  }),
  setting({
    key: 'logLevel',
    flag: 'log-level',
    env: 'UNOBIN_STATE_LOG_LEVEL',
    arg: 'LEVEL',
    fallback: 'info',
    help: 'fatal, error, warn, info, debug, trace, silent (health, metrics and openapi requests log at debug)',
    parse: oneOf(...LOG_LEVELS),
  }),
  setting({
    key: 'logFormat',
    flag: 'log-format',
    env: 'UNOBIN_STATE_LOG_FORMAT',
    arg: 'FORMAT',
    fallback: 'auto',
    help: 'json (one object per line), pretty (for people), or auto: pretty when stdout is a terminal',
    parse: oneOf('auto', 'json', 'pretty'),
  }),
  setting({
    key: 'requireLock',
    flag: 'require-lock',
    env: 'UNOBIN_STATE_REQUIRE_LOCK',
    arg: '',
    fallback: 'false',
    help: 'refuse every mutation that does not present a held lock',
    kind: 'boolean',
    parse: bool,
  }),
  setting({
    key: 'maxWaitSeconds',
    flag: 'max-wait',
    env: 'UNOBIN_STATE_MAX_WAIT',
    arg: 'SECONDS',
    fallback: '60',
    help: 'longest lock wait a client may ask for (?wait=)',
    parse: int(0, 3600),
  }),
  setting({
    key: 'bodyLimitBytes',
    flag: 'body-limit',
    env: 'UNOBIN_STATE_BODY_LIMIT',
    arg: 'BYTES',
    fallback: '67108864',
    help: 'largest request body accepted (413 above)',
    parse: int(1024, 1024 * 1024 * 1024),
  }),
  setting({
    key: 'snapshotCacheBytes',
    flag: 'snapshot-cache',
    env: 'UNOBIN_STATE_SNAPSHOT_CACHE',
    arg: 'MIB',
    fallback: '64',
    help: 'memory for opened revs (immutable, so reads skip decrypting); 0 disables',
    parse: (raw) => int(0, 65536)(raw) * 1024 * 1024,
  }),
  setting({
    key: 'auditLog',
    flag: 'audit-log',
    env: 'UNOBIN_STATE_AUDIT_LOG',
    arg: 'FILE',
    fallback: AUDIT_IN_DATA_DIR,
    help: 'append-only audit log of mutations, lock events (and reads with --audit-reads); "off" disables',
    parse: (raw): string | null => (raw.text === 'off' ? null : raw.text === '' ? AUDIT_IN_DATA_DIR : raw.text),
  }),
  setting({
    key: 'auditReads',
    flag: 'audit-reads',
    env: 'UNOBIN_STATE_AUDIT_READS',
    arg: '',
    fallback: 'false',
    help: 'also audit downloads: the current snapshot, a rev, a diff, Terraform state, outputs (who read which stack)',
    kind: 'boolean',
    parse: bool,
  }),
  setting({
    key: 'auditFsyncMs',
    flag: 'audit-fsync',
    env: 'UNOBIN_STATE_AUDIT_FSYNC',
    arg: 'DURATION',
    fallback: '1s',
    help: 'longest time an audit line waits for its fsync (0: before the request answers); always at shutdown',
    parse: (raw): number => duration(true)(raw) ?? 1000,
  }),
  setting({
    key: 'tokensFile',
    flag: 'tokens-file',
    env: 'UNOBIN_STATE_TOKENS_FILE',
    arg: 'FILE',
    fallback: '',
    help: 'credentials and permissions (YAML or JSON: token hashes, OIDC issuers); without it every caller has every permission',
    parse: optional,
  }),
  setting({
    key: 'allowUnauthenticated',
    flag: 'allow-unauthenticated',
    env: 'UNOBIN_STATE_ALLOW_UNAUTHENTICATED',
    arg: '',
    fallback: 'false',
    help: 'allow listening on a non-loopback address without credentials',
    kind: 'boolean',
    parse: bool,
  }),
  setting({
    key: 'rateLimitPerMinute',
    flag: 'rate-limit',
    env: 'UNOBIN_STATE_RATE_LIMIT',
    arg: 'PER_MINUTE',
    fallback: '600',
    help: 'requests per minute per caller, with credentials (429 above; 0: no limit)',
    parse: int(0, 1_000_000),
  }),
  setting({
    key: 'rateBurst',
    flag: 'rate-burst',
    env: 'UNOBIN_STATE_RATE_BURST',
    arg: 'REQUESTS',
    fallback: '120',
    help: 'requests a caller may send at once before the rate applies',
    parse: int(1, 1_000_000),
  }),
  setting({
    key: 'maxLocksPerCaller',
    flag: 'max-locks',
    env: 'UNOBIN_STATE_MAX_LOCKS',
    arg: 'N',
    fallback: '100',
    help: 'most locks one caller may hold at once, with credentials (0: no cap)',
    parse: int(0, 1_000_000),
  }),
  setting({
    key: 'maxLargeBodies',
    flag: 'max-large-bodies',
    env: 'UNOBIN_STATE_MAX_LARGE_BODIES',
    arg: 'N',
    fallback: '4',
    help: 'most stored bodies of 4 MiB or more (or without Content-Length) processed at once (503 server-busy above; 0: no bound)',
    parse: int(0, 10_000),
  }),
  setting({
    key: 'maxEventStreams',
    flag: 'max-event-streams',
    env: 'UNOBIN_STATE_MAX_EVENT_STREAMS',
    arg: 'N',
    fallback: '200',
    help: 'most Server-Sent Events streams (GET …/events) open at once in this process (503 above)',
    parse: int(1, 100_000),
  }),
  setting({
    key: 'tlsCert',
    flag: 'tls-cert',
    env: 'UNOBIN_STATE_TLS_CERT',
    arg: 'FILE',
    fallback: '',
    help: 'PEM certificate (chain) to serve HTTPS; needs --tls-key',
    parse: optional,
  }),
  setting({
    key: 'tlsKey',
    flag: 'tls-key',
    env: 'UNOBIN_STATE_TLS_KEY',
    arg: 'FILE',
    fallback: '',
    help: 'PEM private key of --tls-cert',
    parse: optional,
  }),
  setting({
    key: 'trustProxy',
    flag: 'trust-proxy',
    env: 'UNOBIN_STATE_TRUST_PROXY',
    arg: 'ADDRS',
    fallback: '',
    help: 'proxies whose X-Forwarded-For is believed (comma-separated: loopback, linklocal, uniquelocal, addresses, CIDRs); none by default',
    parse: proxies,
  }),
  setting({
    key: 'metricsListen',
    flag: 'metrics-listen',
    env: 'UNOBIN_STATE_METRICS_LISTEN',
    arg: 'HOST:PORT',
    fallback: '',
    help: 'also serve GET /metrics, without credentials, on this address (none by default)',
    parse: optionalListen,
  }),
  setting({
    key: 'metricsMaxStacks',
    flag: 'metrics-max-stacks',
    env: 'UNOBIN_STATE_METRICS_MAX_STACKS',
    arg: 'N',
    fallback: '1000',
    help: 'above this many stacks, /metrics leaves out the per-stack series (revs, lock age)',
    parse: int(0, 1_000_000),
  }),
  setting({
    key: 'retentionKeep',
    flag: 'retention-keep',
    env: 'UNOBIN_STATE_RETENTION_KEEP',
    arg: 'N',
    fallback: '',
    help: 'retention: keep the newest N revs of each stack (current and newest always kept)',
    parse: optionalInt(0, 1_000_000),
  }),
  setting({
    key: 'retentionMaxAgeMs',
    flag: 'retention-max-age',
    env: 'UNOBIN_STATE_RETENTION_MAX_AGE',
    arg: 'DURATION',
    fallback: '',
    help: 'retention: keep revs younger than this (90s, 15m, 12h, 30d)',
    parse: duration(false),
  }),
  setting({
    key: 'retentionIntervalMs',
    flag: 'retention-interval',
    env: 'UNOBIN_STATE_RETENTION_INTERVAL',
    arg: 'DURATION',
    fallback: '',
    help: 'prune every stack by the retention policy and purge the trash this often (off by default)',
    parse: duration(false),
  }),
  setting({
    key: 'trashDays',
    flag: 'trash-days',
    env: 'UNOBIN_STATE_TRASH_DAYS',
    arg: 'DAYS',
    fallback: '7',
    help: "days a pruned rev stays restorable in its stack's trash before it is purged",
    parse: int(0, 3650),
  }),
] as const

type AnySetting = (typeof SETTINGS)[number]

/** The validated configuration of one server process: one field per setting, typed by its parser. */
export type Config = { readonly [S in AnySetting as S['key']]: ReturnType<S['parse']> }

/** The name of a Config field. */
export type SettingKey = keyof Config

/** Where each setting's value came from. */
export type Origins = Readonly<Record<SettingKey, Origin>>

/** The outcome of parsing the command line: run with a config, or print and exit. */
export type ParsedCommand =
  | { readonly kind: 'run'; readonly config: Config; readonly origins: Origins }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }

/** The setting of Config field `key`. */
export function settingOf(key: SettingKey): Setting {
  return SETTINGS.find((s) => s.key === key)!
}

/**
 * How to name a setting in a message, as it was given: `--key-file`, or
 * `UNOBIN_STATE_KEY_FILE (environment; --key-file overrides it)`, so an
 * operator knows whether to fix the command line or the image's environment.
 */
export function describeSetting(key: SettingKey, origin: Origin = 'flag'): string {
  const s = settingOf(key)
  if (origin === 'env') return `${s.env} (environment; --${s.flag} overrides it)`
  if (origin === 'default') return `--${s.flag} (default ${s.fallback})`
  return `--${s.flag}`
}

/** The --help text. */
export function helpText(): string {
  const rows = SETTINGS.map((s) => {
    const left = `  --${s.flag}${s.arg ? ` ${s.arg}` : ''}`
    return `${left.padEnd(30)} ${s.help}\n${''.padEnd(30)} env ${s.env}${s.fallback ? `, default ${s.fallback}` : ''}`
  })
  return [
    'Usage: unobin-state-server [options]',
    '       unobin-state-server reseal [--factory F [--stack S]] [options]',
    '       unobin-state-server hash-token < token',
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
    `  ${'hash-token'.padEnd(28)} read a token on stdin, print the "hash: sha256:…" line for the tokens file`,
    '',
    'Signals: SIGTERM/SIGINT shut down gracefully; a second one during the shutdown exits at once.',
    'SIGHUP (and a change of the tokens file on disk) reloads the tokens file; a bad file keeps the old credentials.',
    '',
    'Exit status (a start-up failure is one line on stderr naming the cause and the setting):',
    '  0         stopped cleanly (or --help, --version)',
    '  1         internal error: an uncaught exception or unhandled rejection, or a shutdown that failed or took over 30 s',
    '  2         bad settings: a flag or variable, the tokens file, a key, the TLS certificate and key',
    '  3         cannot listen: the address is in use, not on this host, or needs privileges',
    '  130, 143  a second SIGINT (130) or SIGTERM (143) during the graceful shutdown',
    '',
  ].join('\n')
}

/** Parses and validates flags and environment. Throws ConfigError naming the bad setting as given. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ParsedCommand {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    help: { type: 'boolean' },
    version: { type: 'boolean' },
  }
  for (const s of SETTINGS as readonly Setting[])
    options[s.flag] = {
      type: s.kind === 'boolean' ? 'boolean' : 'string',
      ...(s.kind === 'list' ? { multiple: true } : {}),
    }
  let values: Record<string, unknown>
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; see --help`)
  }
  if (values.help === true) return { kind: 'help' }
  if (values.version === true) return { kind: 'version' }

  const config: Record<string, unknown> = {}
  const origins: Record<string, Origin> = {}
  for (const s of SETTINGS as readonly Setting[]) {
    const given = values[s.flag]
    let origin: Origin
    let raw: Raw
    if (given !== undefined) {
      origin = 'flag'
      const items = Array.isArray(given) ? (given as string[]) : [String(given)]
      raw = { text: items.join(','), list: items }
    } else {
      const fromEnv = env[s.env]
      origin = fromEnv === undefined ? 'default' : 'env'
      const value = fromEnv ?? s.fallback
      raw = {
        text: value,
        list: value
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x !== ''),
      }
    }
    try {
      config[s.key] = s.parse(raw)
    } catch (err) {
      if (!(err instanceof BadValue)) throw err
      throw new ConfigError(
        `${describeSetting(s.key as SettingKey, origin)} ${err.message}, got ${JSON.stringify(raw.text)}`,
      )
    }
    origins[s.key] = origin
  }
  if (config.auditLog === AUDIT_IN_DATA_DIR)
    config.auditLog = `${String(config.dataDir).replace(/\/+$/, '')}/.audit.jsonl`
  const result = config as Config
  const where = (key: SettingKey) => describeSetting(key, origins[key])

  if (result.encryption === 'key-file' && result.keyFile === null) {
    throw new ConfigError(
      `${where('encryption')} is key-file, which needs --key-file / UNOBIN_STATE_KEY_FILE naming the key file`,
    )
  }
  if ((result.tlsCert === null) !== (result.tlsKey === null)) {
    const given = result.tlsCert === null ? where('tlsKey') : where('tlsCert')
    throw new ConfigError(
      `${given} is set alone: --tls-cert / UNOBIN_STATE_TLS_CERT and --tls-key / UNOBIN_STATE_TLS_KEY go together: give both to serve HTTPS, or neither`,
    )
  }
  if (result.auditReads && result.auditLog === null) {
    throw new ConfigError(
      `${where('auditReads')} needs the audit log, which ${where('auditLog')} turns off: give --audit-log a file, or drop --audit-reads`,
    )
  }
  if (!isLoopback(result.listen.host) && !result.allowUnauthenticated && result.tokensFile === null) {
    throw new ConfigError(
      `refusing to listen on ${result.listen.host} (${where('listen')}) without credentials: anyone who reaches it could read and overwrite state. Configure --tokens-file (UNOBIN_STATE_TOKENS_FILE), listen on 127.0.0.1, or pass --allow-unauthenticated (UNOBIN_STATE_ALLOW_UNAUTHENTICATED=true) behind a trusted network`,
    )
  }
  return { kind: 'run', config: Object.freeze(result), origins: Object.freeze(origins as Origins) }
}

/** Parses `host:port` (IPv6 in brackets); `setting` names the flag and variable in the error. */
export function parseListen(value: string, setting = '--listen / UNOBIN_STATE_LISTEN'): ListenAddress {
  const address = parseHostPort(value)
  if (address === null)
    throw new ConfigError(
      `${setting} must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), got ${JSON.stringify(value)}`,
    )
  return address
}

function parseHostPort(value: string): ListenAddress | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value)
  const port = m ? Number(m[3]) : NaN
  if (m === null || port > 65535) return null
  return { host: (m[1] ?? m[2])!, port }
}

/** True for loopback addresses and `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1'
  return false
}
