/**
 * The tokens file (`--tokens-file`): YAML or JSON naming the static tokens
 * (by hash) and the trusted OIDC issuers with their claim rules, each with
 * grants. Read at start and on every reload (credentials-reloader.ts); every fault names the file and the entry, and
 * never echoes a value that could be a secret. See the README "Credentials"
 * section for the format.
 */
import { readFileSync } from 'node:fs'
import { Compile } from 'typebox/compile'
import { parse as parseYaml } from 'yaml'
import type { ClaimRule } from './claim-rules.js'
import { compileGlob, type Glob } from './glob.js'
import { OIDC_ALGORITHMS, type OidcIssuerConfig } from './oidc-issuer.js'
import { PERMISSIONS, type Permission, isPermission } from './permission.js'
import type { Grant } from './policy.js'
import type { StaticToken } from './static-tokens.js'
import { TOKEN_HASH_PATTERN, digestOfHash } from './token-hash.js'
import { ISSUER_SECONDS, RESERVED_NAME, SCOPE_PART, TOKEN_NAME, TokensFileSchema } from './tokens-file-schema.js'

/** The schema compiled once: every file the reader accepts must also conform to the published schema. */
const conforms = Compile(TokensFileSchema)

/** The credentials a tokens file defines. */
export interface Credentials {
  readonly tokens: readonly StaticToken[]
  readonly issuers: readonly OidcIssuerConfig[]
}

/** The tokens file is unreadable or wrong; the message names the file and the entry. */
export class TokensFileError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TokensFileError'
  }
}

/** Keys that would hold a token in plaintext: refused, with the way to store a hash instead. */
const PLAINTEXT_KEYS = ['token', 'secret', 'password', 'value', 'plaintext']

/** Reads and validates the tokens file at `path`. Throws TokensFileError. */
export function loadTokensFile(path: string): Credentials {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new TokensFileError(
      `cannot read the tokens file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    )
  }
  return parseTokensFile(text, path)
}

/** Validates the text of a tokens file (`path` is only used in messages). Throws TokensFileError. */
export function parseTokensFile(text: string, path: string): Credentials {
  let doc: unknown
  try {
    doc = parseYaml(text, { uniqueKeys: true, prettyErrors: false })
  } catch (err) {
    // Line and column from the offset; only the first line of yaml's message: the rest quotes the file, which may hold a secret.
    const offset = (err as { pos?: [number, number] }).pos?.[0]
    const at = offset === undefined ? '' : `:${lineAndColumn(text, offset)}`
    throw new TokensFileError(`${path}${at}: not valid YAML or JSON: ${String((err as Error).message).split('\n')[0]}`)
  }
  const fail = (where: string, problem: string): never => {
    throw new TokensFileError(`${path}: ${where}: ${problem}`)
  }
  if (!isObject(doc))
    return fail('top level', 'must be a mapping with "tokens" and/or "oidc" (see the README, Credentials)')
  onlyKeys(doc, ['$schema', 'tokens', 'oidc'], 'top level', fail)
  if (doc.$schema !== undefined && typeof doc.$schema !== 'string')
    fail('top level', '$schema must be text (a URL or path)')
  const tokens = listOf(doc.tokens, 'tokens', fail).map((entry, i) => readToken(entry, `tokens[${i}]`, fail))
  const issuers = listOf(doc.oidc, 'oidc', fail).map((entry, i) => readIssuer(entry, `oidc[${i}]`, fail))
  if (tokens.length === 0 && issuers.length === 0)
    fail('top level', 'defines no token and no OIDC issuer: every request would be refused')
  const names = new Set<string>()
  const hashes = new Set<string>()
  tokens.forEach((t, i) => {
    if (names.has(t.name))
      fail(`tokens[${i}] "${t.name}"`, 'the name is used by an earlier token: names are principals and must be unique')
    const hex = t.digest.toString('hex')
    if (hashes.has(hex))
      fail(`tokens[${i}] "${t.name}"`, "the hash is the same as an earlier token's: issue a new token")
    names.add(t.name)
    hashes.add(hex)
  })
  const seen = new Set<string>()
  issuers.forEach((issuer, i) => {
    if (seen.has(issuer.issuer))
      fail(`oidc[${i}]`, `issuer ${issuer.issuer} is configured twice: put all its rules in one entry`)
    seen.add(issuer.issuer)
  })
  // A backstop: the reader above is at least as strict as the schema, and a test keeps it so.
  for (const error of conforms.Errors(doc))
    fail(error.instancePath || 'top level', `does not match the schema: ${error.message}`)
  return { tokens, issuers }
}

type Fail = (where: string, problem: string) => never

function readToken(entry: unknown, at: string, fail: Fail): StaticToken {
  if (!isObject(entry)) return fail(at, 'must be a mapping with name, hash and grants')
  const where = typeof entry.name === 'string' ? `${at} "${entry.name.slice(0, 128)}"` : at
  for (const key of PLAINTEXT_KEYS) {
    if (Object.hasOwn(entry, key))
      fail(
        where,
        `plaintext tokens are refused ("${key}"): store only its hash, "hash: sha256:<hex>" (printf %s "$TOKEN" | sha256sum), and remove the plaintext from this file`,
      )
  }
  onlyKeys(entry, ['name', 'hash', 'grants', 'description'], where, fail)
  const name = entry.name
  if (typeof name !== 'string' || !TOKEN_NAME.test(name))
    fail(
      where,
      'name must be 1-128 of A-Z a-z 0-9 . _ @ - starting with a letter or digit (it is the principal in locks and the audit log)',
    )
  if (name === RESERVED_NAME) fail(where, `the name "${RESERVED_NAME}" is reserved for servers without credentials`)
  if (entry.description !== undefined && typeof entry.description !== 'string') fail(where, 'description must be text')
  const hash = entry.hash
  if (typeof hash !== 'string')
    return fail(where, 'hash is required: "sha256:" and the 64 lowercase hex digits of the token\'s SHA-256')
  if (!TOKEN_HASH_PATTERN.test(hash)) {
    const hint = hash.startsWith('sha256:')
      ? 'it is not "sha256:" and 64 lowercase hex digits'
      : 'it looks like a plaintext token: store its hash instead (printf %s "$TOKEN" | sha256sum)'
    fail(where, `hash is not a token hash (${hint})`)
  }
  return { name: name as string, digest: digestOfHash(hash), grants: readGrants(entry.grants, `${where} grants`, fail) }
}

function readIssuer(entry: unknown, at: string, fail: Fail): OidcIssuerConfig {
  if (!isObject(entry)) return fail(at, 'must be a mapping with issuer, jwks, audience and rules')
  const where = typeof entry.issuer === 'string' ? `${at} (${entry.issuer.slice(0, 200)})` : at
  onlyKeys(
    entry,
    ['issuer', 'jwks', 'audience', 'algorithms', 'leeway', 'cooldown', 'cache', 'timeout', 'rules'],
    where,
    fail,
  )
  const issuer = entry.issuer
  if (typeof issuer !== 'string' || issuer === '')
    return fail(
      where,
      'issuer is required: the exact "iss" of the tokens (e.g. https://token.actions.githubusercontent.com)',
    )
  // Principals are `oidc:<issuer>#<sub>`: an issuer with a `#` would make them ambiguous (OIDC issuers have no fragment).
  if (issuer.includes('#')) return fail(where, 'issuer must not contain "#": an OIDC issuer URL has no fragment')
  const jwks = readUrl(entry.jwks, `${where} jwks`, fail)
  const audiences = typeof entry.audience === 'string' ? [entry.audience] : entry.audience
  if (
    !Array.isArray(audiences) ||
    audiences.length === 0 ||
    !audiences.every((a) => typeof a === 'string' && a !== '')
  ) {
    fail(
      where,
      'audience is required: the "aud" your CI jobs request for this server (a string or a list), e.g. https://state.example.com',
    )
  }
  const algorithms = entry.algorithms === undefined ? ['RS256'] : entry.algorithms
  if (!Array.isArray(algorithms) || algorithms.length === 0)
    return fail(where, `algorithms must be a list of ${OIDC_ALGORITHMS.join(', ')}`)
  for (const alg of algorithms) {
    if (!(OIDC_ALGORITHMS as readonly unknown[]).includes(alg))
      fail(
        where,
        `algorithm ${JSON.stringify(alg)} is not allowed: use asymmetric ones (${OIDC_ALGORITHMS.join(', ')}); never none or HS*`,
      )
  }
  const rules = listOf(entry.rules, `${where} rules`, fail).map((rule, i) =>
    readRule(rule, `${where} rules[${i}]`, fail),
  )
  if (rules.length === 0) fail(where, 'rules is required: without a rule no token of this issuer is granted anything')
  return {
    issuer,
    jwks,
    audiences: audiences as string[],
    algorithms: algorithms as string[],
    leewaySeconds: seconds(entry, 'leeway', where, fail),
    cooldownSeconds: seconds(entry, 'cooldown', where, fail),
    cacheSeconds: seconds(entry, 'cache', where, fail),
    timeoutSeconds: seconds(entry, 'timeout', where, fail),
    rules,
  }
}

function readRule(entry: unknown, where: string, fail: Fail): ClaimRule {
  if (!isObject(entry)) return fail(where, 'must be a mapping with match and grants')
  onlyKeys(entry, ['match', 'grants'], where, fail)
  if (!isObject(entry.match) || Object.keys(entry.match).length === 0) {
    return fail(
      where,
      'match must name at least one claim (e.g. repository: acme/infra): an issuer like GitHub signs tokens for every repository',
    )
  }
  const match = new Map<string, Glob[]>()
  for (const [claim, value] of Object.entries(entry.match)) {
    const values = Array.isArray(value) ? value : [value]
    if (
      values.length === 0 ||
      !values.every((v) => typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number')
    ) {
      fail(where, `match ${claim} must be text (a glob), true/false, a number, or a list of them`)
    }
    match.set(
      claim,
      values.map((v) => compileGlob(String(v))),
    )
  }
  if ([...match.values()].every((globs) => globs.some((g) => g.universal)))
    fail(
      where,
      'match only has "*" patterns, so it would match every token of the issuer: name the repository or project',
    )
  return { label: where, match, grants: readGrants(entry.grants, `${where} grants`, fail) }
}

function readGrants(value: unknown, where: string, fail: Fail): Grant[] {
  const list = listOf(value, where, fail)
  if (list.length === 0) fail(where, 'at least one grant is needed, e.g. {scope: "my-factory/*", allow: [read]}')
  return list.map((entry, i) => {
    const at = `${where}[${i}]`
    if (!isObject(entry)) return fail(at, 'must be a mapping with scope and allow and/or deny')
    onlyKeys(entry, ['scope', 'allow', 'deny'], at, fail)
    const scope = entry.scope
    const parts = typeof scope === 'string' ? scope.split('/') : []
    if (parts.length !== 2 || !parts.every((p) => SCOPE_PART.test(p))) {
      fail(
        at,
        'scope must be "<factory pattern>/<stack pattern>" with * and ? as wildcards, e.g. "cluster-deploy/prod-*" or "*/*"',
      )
    }
    const allow = readPermissions(entry.allow, `${at} allow`, fail)
    const deny = readPermissions(entry.deny, `${at} deny`, fail)
    if (allow.size === 0 && deny.size === 0) fail(at, 'allow or deny must list permissions')
    return { factory: compileGlob(parts[0]!), stack: compileGlob(parts[1]!), allow, deny }
  })
}

function readPermissions(value: unknown, where: string, fail: Fail): Set<Permission> {
  if (value === undefined) return new Set()
  if (!Array.isArray(value)) return fail(where, `must be a list of ${PERMISSIONS.join(', ')} (or "*" for all)`)
  const out = new Set<Permission>()
  for (const p of value) {
    if (p === '*') for (const x of PERMISSIONS) out.add(x)
    else if (isPermission(p)) out.add(p)
    else fail(where, `${JSON.stringify(p)} is not a permission: use ${PERMISSIONS.join(', ')} or "*"`)
  }
  return out
}

function readUrl(value: unknown, where: string, fail: Fail): URL {
  let url: URL
  try {
    url = new URL(String(value))
  } catch {
    return fail(
      where,
      "must be the URL of the issuer's JWKS (GitHub: https://token.actions.githubusercontent.com/.well-known/jwks, GitLab: https://gitlab.com/oauth/discovery/keys)",
    )
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    fail(where, 'must be an https URL (plain http only for loopback addresses)')
  if (url.username !== '' || url.password !== '') fail(where, 'must not carry credentials')
  return url
}

function seconds(entry: Record<string, unknown>, key: keyof typeof ISSUER_SECONDS, where: string, fail: Fail): number {
  const value = entry[key]
  const { fallback, min, max } = ISSUER_SECONDS[key]
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    return fail(`${where} ${key}`, `must be a whole number of seconds from ${min} to ${max}`)
  return value
}

/** `line:column` (both from 1) of a character offset in `text`. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  return `${line}:${offset - before.lastIndexOf('\n')}`
}

function listOf(value: unknown, where: string, fail: Fail): unknown[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value)) return fail(where, 'must be a list')
  return value
}

function onlyKeys(entry: Record<string, unknown>, allowed: readonly string[], where: string, fail: Fail): void {
  for (const key of Object.keys(entry)) {
    if (!allowed.includes(key))
      fail(where, `unknown key ${JSON.stringify(key.slice(0, 64))}: expected ${allowed.join(', ')}`)
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
