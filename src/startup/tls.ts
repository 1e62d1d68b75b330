/**
 * The TLS certificate and key, loaded and checked together at start, so a
 * key that does not belong to the certificate, an encrypted or unsupported
 * key, or an unreadable file stops the server with one line naming the
 * setting — not an OpenSSL decoder code at the first handshake.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { ConfigError, type Origins, describeSetting } from '../config.js'

/** A checked certificate and key (PEM). */
export interface TlsPair {
  readonly cert: Buffer
  readonly key: Buffer
}

/** Loads and checks `certPath` and `keyPath`. Throws ConfigError naming --tls-cert or --tls-key. */
export function loadTlsPair(certPath: string, keyPath: string, origins?: Partial<Origins>): TlsPair {
  const certName = `${describeSetting('tlsCert', origins?.tlsCert)} ${certPath}`
  const keyName = `${describeSetting('tlsKey', origins?.tlsKey)} ${keyPath}`
  const cert = readPem(certPath, certName)
  const key = readPem(keyPath, keyName)
  try {
    new X509Certificate(cert)
  } catch {
    throw new ConfigError(`${certName} is not a PEM certificate`)
  }
  try {
    createPrivateKey(key)
  } catch (err) {
    const encrypted = /ENCRYPTED/.test(key.toString('latin1')) || /passphrase/i.test((err as Error).message)
    throw new ConfigError(
      `${keyName} is not a usable PEM private key${encrypted ? ' (it is encrypted: give the key without a passphrase)' : ''}`,
    )
  }
  try {
    createSecureContext({ cert, key })
  } catch (err) {
    if (/key values mismatch/i.test((err as Error).message))
      throw new ConfigError(
        `${keyName} is not the private key of ${certName}: give the key the certificate was issued for`,
      )
    throw new ConfigError(`${certName} and ${keyName} cannot serve TLS: ${(err as Error).message}`)
  }
  return { cert, key }
}

function readPem(path: string, name: string): Buffer {
  let pem: Buffer
  try {
    pem = readFileSync(path)
  } catch (err) {
    throw new ConfigError(`cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  if (!pem.includes('-----BEGIN ')) throw new ConfigError(`${name} is not a PEM file`)
  return pem
}
