/**
 * Configuration: flags and `UNOBIN_STATE_*` environment variables, validated
 * once at start and frozen. A flag wins over its variable.
 *
 * One table (`SETTINGS`, src/settings/table.ts) is the single source of every
 * setting: its flag, its variable, its default, its --help text and its
 * parser. The `Config` type is derived from the table, so a setting cannot be
 * documented without being parsed, nor parsed into a field the type does not
 * have. Every fault names the setting as it was given — the flag, or the
 * environment variable (a value baked into an image) — and what to do.
 */
import { parseArgs } from 'node:util'
import { BadValue, ConfigError, type Origin, type Raw, type Setting, isLoopback } from './settings/values.js'
import { AUDIT_IN_DATA_DIR, SETTINGS } from './settings/table.js'

export {
  ConfigError,
  type ListenAddress,
  type Origin,
  type Setting,
  isLoopback,
  parseListen,
} from './settings/values.js'
export { SETTINGS } from './settings/table.js'

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
