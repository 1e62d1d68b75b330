/**
 * The environment of the command `run` starts: where the stack is, the lock
 * id, the credential, and the Terraform/OpenTofu `http` backend variables so
 * a plain `backend "http" {}` reads and writes this stack under the held
 * lock. The address carries `?ID=<lock id>`: Terraform adds no ID when it
 * does not lock itself (no lock address), and keeps a query already in the
 * address, so every write it sends is fenced by our lock. The lock and
 * unlock addresses are removed: Terraform must not try to lock a stack we
 * hold. The token travels in the environment, never on a command line.
 */
import type { StackRef } from './stack-ref.js'
import { formatStackRef } from './stack-ref.js'

/** Variables that would make Terraform lock on its own (and be refused: we hold the lock). */
const TERRAFORM_LOCKING = [
  'TF_HTTP_LOCK_ADDRESS',
  'TF_HTTP_UNLOCK_ADDRESS',
  'TF_HTTP_LOCK_METHOD',
  'TF_HTTP_UNLOCK_METHOD',
] as const

/** What the environment is built from. */
export interface RunEnvInput {
  readonly base: NodeJS.ProcessEnv
  readonly server: URL
  readonly ref: StackRef
  readonly lockId: string
  /** The token (already resolved), or undefined when none is used. */
  readonly token: string | undefined
  readonly caFile: string | undefined
  readonly caPem: Buffer | undefined
}

/** The command's environment. */
export function runEnvironment(input: RunEnvInput): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...input.base }
  for (const name of TERRAFORM_LOCKING) delete env[name]
  const server = input.server.href.replace(/\/+$/, '')
  const stackUrl = `${server}/v1/factories/${encodeURIComponent(input.ref.factory)}/stacks/${encodeURIComponent(input.ref.stack)}`
  env.UNOBIN_STATE_URL = server
  env.UNOBIN_STATE_STACK = formatStackRef(input.ref)
  env.UNOBIN_STATE_STACK_URL = stackUrl
  env.UNOBIN_STATE_LOCK_ID = input.lockId
  env.TF_HTTP_ADDRESS = `${stackUrl}/terraform?ID=${encodeURIComponent(input.lockId)}`
  env.TF_HTTP_UPDATE_METHOD = 'POST'
  if (input.token !== undefined) {
    env.UNOBIN_STATE_TOKEN = input.token
    delete env.UNOBIN_STATE_TOKEN_FILE
    env.TF_HTTP_USERNAME = 'unobin-state' // Terraform sends Basic only with a non-empty username; the server reads the password
    env.TF_HTTP_PASSWORD = input.token
  }
  if (input.caFile !== undefined) env.UNOBIN_STATE_CA_FILE = input.caFile
  if (input.caPem !== undefined) env.TF_HTTP_CLIENT_CA_CERTIFICATE_PEM = input.caPem.toString('utf8')
  return env
}
