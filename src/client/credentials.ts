/**
 * Where the client's credential comes from: `--token`, `--token-file`, a CI
 * identity token (GitHub Actions: fetched with `--oidc-audience`; GitLab CI:
 * the `id_tokens` variable named by `--oidc-token-env`), or
 * `UNOBIN_STATE_TOKEN` / `UNOBIN_STATE_TOKEN_FILE`. The server takes each as
 * a bearer token. Messages never carry a token.
 */
import { readFile } from 'node:fs/promises'
import { ClientError, EXIT, usageError } from './exit-codes.js'

/** The credential options of the command line. */
export interface CredentialFlags {
  readonly token?: string | undefined
  readonly tokenFile?: string | undefined
  readonly oidcAudience?: string | undefined
  readonly oidcTokenEnv?: string | undefined
}

/** A resolved credential. */
export interface Credential {
  /** Where it came from, for messages (never the token). */
  readonly source: string
  /** The token to send now (an identity token close to its expiry is fetched again). */
  token(): Promise<string>
}

/** Identity tokens this close to their `exp` are fetched again before use. */
const REFRESH_MARGIN_S = 60

/**
 * The credential to send, or undefined for none. One source at most may be
 * named on the command line (usage error otherwise); the environment is used
 * only when none is. Throws exit 4 when a CI identity token cannot be had.
 */
export async function resolveCredential(
  flags: CredentialFlags,
  env: NodeJS.ProcessEnv,
): Promise<Credential | undefined> {
  const named = [flags.token, flags.tokenFile, flags.oidcAudience, flags.oidcTokenEnv].filter((v) => v !== undefined)
  if (named.length > 1) throw usageError('give one of --token, --token-file, --oidc-audience, --oidc-token-env')
  if (flags.token !== undefined) return checked(flags.token, '--token')
  if (flags.tokenFile !== undefined)
    return checked(await readTokenFile(flags.tokenFile, '--token-file'), `--token-file ${flags.tokenFile}`)
  if (flags.oidcTokenEnv !== undefined) {
    const value = env[flags.oidcTokenEnv]
    if (value === undefined || value.trim() === '') {
      throw new ClientError(
        'no-identity-token',
        `--oidc-token-env ${flags.oidcTokenEnv}: the variable is not set; declare it under the job's id_tokens (GitLab CI) with the server's audience`,
        EXIT.auth,
      )
    }
    return checked(value.trim(), `$${flags.oidcTokenEnv}`)
  }
  if (flags.oidcAudience !== undefined) return githubCredential(flags.oidcAudience, env)
  if (env.UNOBIN_STATE_TOKEN !== undefined && env.UNOBIN_STATE_TOKEN !== '')
    return checked(env.UNOBIN_STATE_TOKEN.trim(), 'UNOBIN_STATE_TOKEN')
  if (env.UNOBIN_STATE_TOKEN_FILE !== undefined && env.UNOBIN_STATE_TOKEN_FILE !== '') {
    return checked(
      await readTokenFile(env.UNOBIN_STATE_TOKEN_FILE, 'UNOBIN_STATE_TOKEN_FILE'),
      `UNOBIN_STATE_TOKEN_FILE ${env.UNOBIN_STATE_TOKEN_FILE}`,
    )
  }
  return undefined
}

/**
 * Asks the GitHub Actions runtime for an identity token for `audience`
 * (the job needs `permissions: id-token: write`, which sets the two
 * ACTIONS_ID_TOKEN_REQUEST_* variables).
 */
export async function fetchGithubIdToken(audience: string, env: NodeJS.ProcessEnv): Promise<string> {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
  if (!url || !requestToken) {
    throw new ClientError(
      'no-identity-token',
      '--oidc-audience: ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set; run in GitHub Actions with `permissions: id-token: write`',
      EXIT.auth,
    )
  }
  let target: URL
  try {
    target = new URL(url)
  } catch {
    throw new ClientError('no-identity-token', 'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL', EXIT.auth)
  }
  target.searchParams.set('audience', audience)
  let res: Response
  try {
    res = await fetch(target, {
      headers: { authorization: `Bearer ${requestToken}`, accept: 'application/json' },
      signal: AbortSignal.timeout(30_000),
    })
  } catch (err) {
    throw new ClientError(
      'no-identity-token',
      `cannot reach the GitHub Actions token endpoint ${target.origin} (${(err as Error).message})`,
      EXIT.auth,
      undefined,
      { cause: err },
    )
  }
  const text = await res.text()
  if (!res.ok)
    throw new ClientError(
      'no-identity-token',
      `the GitHub Actions token endpoint answered ${res.status}; does the job have \`permissions: id-token: write\`?`,
      EXIT.auth,
    )
  let value: unknown
  try {
    value = (JSON.parse(text) as { value?: unknown }).value
  } catch {
    value = undefined
  }
  if (typeof value !== 'string' || value === '')
    throw new ClientError(
      'no-identity-token',
      'the GitHub Actions token endpoint answered without a token value',
      EXIT.auth,
    )
  return value
}

/** Reads a token file (trailing newline trimmed). */
async function readTokenFile(path: string, what: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch (err) {
    throw new ClientError(
      'bad-file',
      `${what}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      EXIT.failure,
      undefined,
      { cause: err },
    )
  }
}

/** Refuses an empty token or one that cannot be a header value. */
function checked(token: string, source: string): Credential {
  if (token === '' || !/^[\x21-\x7e]+$/.test(token))
    throw usageError(`the token from ${source} is empty or holds spaces or control characters`)
  return { source, token: async () => token }
}

/**
 * A GitHub Actions identity token, fetched now (so a job without
 * id-token: write fails at once) and again whenever the one in hand is
 * within a minute of its `exp` (a `run` outlives the token's few minutes).
 */
async function githubCredential(audience: string, env: NodeJS.ProcessEnv): Promise<Credential> {
  let token = await fetchGithubIdToken(audience, env)
  checked(token, 'the GitHub Actions token endpoint')
  return {
    source: 'GitHub Actions identity token',
    async token() {
      const exp = jwtExpiry(token)
      if (exp !== undefined && exp - Date.now() / 1000 < REFRESH_MARGIN_S)
        token = await fetchGithubIdToken(audience, env)
      return token
    },
  }
}

/** The `exp` claim of a JWT (not verified: the server verifies), or undefined. */
export function jwtExpiry(jwt: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown }
    return typeof payload.exp === 'number' ? payload.exp : undefined
  } catch {
    return undefined
  }
}
