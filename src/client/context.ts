/**
 * What every command needs, built once from the global options: the server
 * URL, the credential, the API over a transport that trusts `--ca-file`, and
 * where to print.
 */
import { readFileSync } from 'node:fs'
import { packageVersion } from '../version.js'
import { Api } from './api.js'
import { type Credential, type CredentialFlags, resolveCredential } from './credentials.js'
import { ClientError, EXIT, usageError } from './exit-codes.js'
import type { Io } from './output.js'
import { Transport } from './transport.js'

/** The default server when neither --server nor UNOBIN_STATE_URL says one. */
export const DEFAULT_SERVER = 'http://127.0.0.1:8080'

/** The global options, as parsed. */
export interface GlobalOptions extends CredentialFlags {
  readonly server?: string | undefined
  readonly caFile?: string | undefined
  readonly json?: boolean | undefined
}

/** Everything a command runs with. */
export interface Context {
  readonly api: Api
  readonly io: Io
  readonly env: NodeJS.ProcessEnv
  readonly server: URL
  readonly credential: Credential | undefined
  /** The PEM of `--ca-file`, for children that must trust it too (Terraform). */
  readonly caPem: Buffer | undefined
}

/** The process's streams, as the commands see them. */
export interface Streams {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean }
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean }
}

/** Builds the context; throws a usage error for a bad URL and exit 1 for an unreadable CA file. */
export async function buildContext(options: GlobalOptions, env: NodeJS.ProcessEnv, streams: Streams): Promise<Context> {
  const serverText = options.server ?? env.UNOBIN_STATE_URL ?? DEFAULT_SERVER
  let server: URL
  try {
    server = new URL(serverText)
  } catch {
    throw usageError(`--server / UNOBIN_STATE_URL: "${serverText}" is not a URL (e.g. https://state.example.com)`)
  }
  if (server.protocol !== 'http:' && server.protocol !== 'https:')
    throw usageError(`--server: "${serverText}" must be http:// or https://`)
  if (server.username !== '' || server.password !== '')
    throw usageError('--server: put credentials in UNOBIN_STATE_TOKEN or --token-file, never in the URL')
  const caPath = options.caFile ?? env.UNOBIN_STATE_CA_FILE
  let caPem: Buffer | undefined
  if (caPath !== undefined && caPath !== '') {
    try {
      caPem = readFileSync(caPath)
    } catch (err) {
      throw new ClientError(
        'bad-file',
        `--ca-file: cannot read ${caPath} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        EXIT.failure,
        undefined,
        { cause: err },
      )
    }
  }
  const credential = await resolveCredential(options, env)
  const transport = new Transport({
    server,
    ca: caPem,
    authorization: credential === undefined ? undefined : async () => `Bearer ${await credential.token()}`,
    userAgent: `unobin-state/${packageVersion()}`,
  })
  const io: Io = {
    stdout: streams.stdout,
    stderr: streams.stderr,
    stdoutIsTTY: streams.stdout.isTTY === true,
    stderrIsTTY: streams.stderr.isTTY === true,
    json: options.json === true,
    now: () => Date.now(),
  }
  return { api: new Api(transport), io, env, server, credential, caPem }
}
