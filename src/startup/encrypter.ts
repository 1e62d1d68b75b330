/**
 * The encrypter the configuration names, with every key loaded now, so a
 * missing or malformed key stops the process at start rather than failing
 * the first request. Kept apart from `config.ts`, which only parses
 * settings: loading keys reads files and the environment.
 */
import { type Config, ConfigError, type Origins, describeSetting } from '../config.js'
import type { Encrypter } from '../crypto/encrypter.js'
import { KeyError, type SealingKey, keyFromEnv, keyFromFile } from '../crypto/keys.js'
import { Keyring } from '../crypto/keyring.js'
import { NoopEncrypter } from '../crypto/noop.js'

/** The settings an encrypter is built from. */
export type EncryptionSettings = Pick<Config, 'encryption' | 'keyEnv' | 'keyFile' | 'oldKeyEnvs' | 'oldKeyFiles'>

/**
 * Builds the encrypter `config` names. Throws ConfigError naming the setting
 * as it was given (flag or variable, per `origins`) and the key's fault,
 * never the key.
 */
export function buildEncrypter(
  config: EncryptionSettings,
  env: NodeJS.ProcessEnv,
  origins?: Partial<Origins>,
): Encrypter {
  const load = (key: 'keyEnv' | 'keyFile' | 'oldKeyEnvs' | 'oldKeyFiles', fn: () => SealingKey): SealingKey => {
    try {
      return fn()
    } catch (err) {
      if (err instanceof KeyError) throw new ConfigError(`${describeSetting(key, origins?.[key])}: ${err.message}`)
      throw err
    }
  }
  const older: SealingKey[] = [
    ...config.oldKeyEnvs.map((name) => load('oldKeyEnvs', () => keyFromEnv(env, name))),
    ...config.oldKeyFiles.map((path) => load('oldKeyFiles', () => keyFromFile(path))),
  ]
  if (config.encryption === 'noop') {
    if (older.length > 0)
      throw new ConfigError(
        `old keys were given but ${describeSetting('encryption', origins?.encryption)} is noop: choose env-key or key-file to seal`,
      )
    return new NoopEncrypter()
  }
  const sealing =
    config.encryption === 'env-key'
      ? load('keyEnv', () => keyFromEnv(env, config.keyEnv))
      : load('keyFile', () => keyFromFile(config.keyFile ?? ''))
  return new Keyring(sealing, older)
}
