/**
 * The values of settings: what a setting is (`Setting`), the errors that
 * name it (`ConfigError`), and the parsers that turn a flag's or variable's
 * text into a typed value (each throws `BadValue` saying what it must be).
 */
import { isIP } from 'node:net'
import proxyAddr from '@fastify/proxy-addr'
import { parseDuration } from '../time/duration.js'

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
export interface Raw {
  readonly text: string
  readonly list: readonly string[]
}

/** Thrown by a parser: what the value must be. The loader adds which setting and where it came from. */
export class BadValue extends Error {}

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

/** Declares one setting (keeps its key and value types for `Config`). */
export function setting<const K extends string, T>(s: Setting<K, T>): Setting<K, T> {
  return s
}

// ---- parsers (each throws BadValue saying what the value must be) ----

/** The text as given. */
export const text = (raw: Raw): string => raw.text
/** The text, or null when empty. */
export const optional = (raw: Raw): string | null => (raw.text === '' ? null : raw.text)
/** The values of a repeatable flag (or a comma-separated variable). */
export const list = (raw: Raw): readonly string[] => raw.list

/** true/1/yes or false/0/no (empty: false). */
export function bool(raw: Raw): boolean {
  const v = raw.text.toLowerCase()
  if (['true', '1', 'yes'].includes(v)) return true
  if (['false', '0', 'no', ''].includes(v)) return false
  throw new BadValue('must be true or false')
}

/** A whole number from `min` to `max`. */
export function int(min: number, max: number): (raw: Raw) => number {
  return (raw) => {
    const n = Number(raw.text)
    if (!/^\d+$/.test(raw.text) || n < min || n > max)
      throw new BadValue(`must be a whole number from ${min} to ${max}`)
    return n
  }
}

/** A whole number from `min` to `max`, or null when empty. */
export function optionalInt(min: number, max: number): (raw: Raw) => number | null {
  const parse = int(min, max)
  return (raw) => (raw.text === '' ? null : parse(raw))
}

/** One of `values`. */
export function oneOf<const V extends string>(...values: V[]): (raw: Raw) => V {
  return (raw) => {
    if (!(values as string[]).includes(raw.text)) throw new BadValue(`must be one of ${values.join(', ')}`)
    return raw.text as V
  }
}

/** A duration (90s, 15m, 12h, 30d); empty: null. `zero` admits 0. */
export function duration(zero: boolean): (raw: Raw) => number | null {
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

/** A `host:port` listen address. */
export function listen(raw: Raw): ListenAddress {
  const address = parseHostPort(raw.text)
  if (address === null) throw new BadValue('must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)')
  return address
}

/** A `host:port` listen address, or null when empty. */
export function optionalListen(raw: Raw): ListenAddress | null {
  return raw.text === '' ? null : listen(raw)
}

/** Proxies: keywords (loopback, linklocal, uniquelocal), addresses and CIDRs, checked by Fastify's own compiler. */
export function proxies(raw: Raw): readonly string[] {
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

/** Parses `host:port` (IPv6 in brackets); `setting` names the flag and variable in the error. */
export function parseListen(value: string, setting = '--listen / UNOBIN_STATE_LISTEN'): ListenAddress {
  const address = parseHostPort(value)
  if (address === null)
    throw new ConfigError(
      `${setting} must be HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), got ${JSON.stringify(value)}`,
    )
  return address
}

/** `host:port` (IPv6 in brackets), or null when the text is not one. */
export function parseHostPort(value: string): ListenAddress | null {
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
