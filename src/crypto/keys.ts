/**
 * Loading AES-256 keys from where operators keep them: an environment variable
 * or a file (a container secret), both holding the key as standard base64.
 * Every failure names the variable or file and never echoes the value.
 */
import { readFileSync } from 'node:fs'
import { decodeStandardBase64 } from './base64.js'
import type { EncrypterRef } from './encrypter.js'

/** A 32-byte AES-256 key and the ref that names where it came from. */
export interface SealingKey {
  readonly ref: EncrypterRef
  readonly key: Buffer
}

/** A key could not be loaded; `message` names the source and the fault. */
export class KeyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'KeyError'
  }
}

/** Decodes a standard-base64 32-byte key; `source` names it in errors. */
export function decodeKey(text: string, source: string): Buffer {
  const trimmed = text.trim()
  if (trimmed === '')
    throw new KeyError(`${source} is empty: it must hold a 32-byte key in standard base64 (openssl rand -base64 32)`)
  const key = decodeStandardBase64(trimmed)
  if (key === undefined)
    throw new KeyError(
      `${source} is not standard base64 (with padding): it must hold a 32-byte key (openssl rand -base64 32)`,
    )
  if (key.length !== 32)
    throw new KeyError(`${source} decodes to ${key.length} bytes; AES-256 needs exactly 32 (openssl rand -base64 32)`)
  return key
}

/** Loads the key held by environment variable `name`, as the Go tool's `env-key` does. */
export function keyFromEnv(env: NodeJS.ProcessEnv, name: string): SealingKey {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new KeyError(`"${name}" is not a valid environment variable name for a key`)
  const value = env[name]
  if (value === undefined)
    throw new KeyError(`environment variable ${name} is not set: it must hold a 32-byte key in standard base64`)
  return { ref: { name: 'env-key', body: { 'env-var': name } }, key: decodeKey(value, `environment variable ${name}`) }
}

/** Loads the key held in file `path` (surrounding whitespace ignored). */
export function keyFromFile(path: string): SealingKey {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new KeyError(`key file ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  return { ref: { name: 'key-file', body: { path } }, key: decodeKey(text, `key file ${path}`) }
}
