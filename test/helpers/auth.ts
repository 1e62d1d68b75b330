/**
 * Helpers of the auth tests: random tokens and their tokens-file entries,
 * Authorization headers as clients send them, a controllable clock for rate
 * limits, and a JWKS server on 127.0.0.1 serving keys the test generates.
 */
import { randomBytes } from 'node:crypto'
import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { type CryptoKey, type JWK, SignJWT, exportJWK, generateKeyPair } from 'jose'
import { stringify } from 'yaml'
import { createAuthenticator } from '../../src/auth/authenticator.js'
import { hashToken } from '../../src/auth/token-hash.js'
import { parseTokensFile } from '../../src/auth/tokens-file.js'
import type { App } from '../../src/http/app-type.js'
import type { AuthOptions } from '../../src/http/auth.js'

/** A fresh random token, as an operator would issue one (openssl rand -hex 32). */
export function newToken(): string {
  return randomBytes(32).toString('hex')
}

/** One grant as written in a tokens file. */
export interface GrantSpec {
  readonly scope: string
  readonly allow?: readonly string[]
  readonly deny?: readonly string[]
}

/** A token entry of a tokens file, with the plaintext kept by the test only. */
export interface TokenSpec {
  readonly name: string
  readonly token: string
  readonly grants: readonly GrantSpec[]
}

/** The YAML text of a tokens file with these tokens (by hash) and OIDC issuers. */
export function tokensFileText(tokens: readonly TokenSpec[], oidc: readonly unknown[] = []): string {
  return stringify({
    tokens: tokens.map((t) => ({ name: t.name, hash: hashToken(t.token), grants: t.grants })),
    ...(oidc.length > 0 ? { oidc } : {}),
  })
}

/** A controllable monotonic clock (milliseconds) for rate limits. */
export class ManualTime {
  ms = 0
  readonly now = (): number => this.ms
}

/** Auth options from a tokens file text, with limits off unless given. */
export function authFromText(text: string, overrides: Partial<AuthOptions> = {}): AuthOptions {
  return {
    authenticator: createAuthenticator(parseTokensFile(text, 'tokens.yaml')),
    rateLimit: null,
    maxLocksPerCaller: null,
    ...overrides,
  }
}

/**
 * Principals named with what each may do on every factory and stack: the auth
 * options of a tokens file with one fresh token each, and the tokens by name.
 */
export function principals<Name extends string>(
  allow: Readonly<Record<Name, readonly string[]>>,
  overrides: Partial<AuthOptions> = {},
): { auth: AuthOptions; tokens: Record<Name, string> } {
  const tokens = Object.fromEntries(Object.keys(allow).map((name) => [name, newToken()])) as Record<Name, string>
  const specs = (Object.entries(allow) as Array<[Name, readonly string[]]>).map(([name, permissions]) => ({
    name,
    token: tokens[name],
    grants: [{ scope: '*/*', allow: permissions }],
  }))
  return { auth: authFromText(tokensFileText(specs), overrides), tokens }
}

/** The status `app` answers a request sent with `token`; a string body is sent as JSON, as the clients send it. */
export async function statusAs(
  app: App,
  token: string,
  method: string,
  url: string,
  payload?: string | Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<number> {
  const type = typeof payload === 'string' ? { 'content-type': 'application/json' } : {}
  const res = await app.inject({
    method: method as 'GET',
    url,
    headers: { ...bearer(token), ...type, ...headers },
    ...(payload === undefined ? {} : { payload }),
  })
  return res.statusCode
}

/** `Authorization: Bearer <token>`. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` }
}

/** HTTP Basic as Terraform sends it (username/password). */
export function basic(username: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` }
}

/** A signing key with its public JWK (kid and alg set). */
export interface SigningKey {
  readonly kid: string
  readonly privateKey: CryptoKey
  readonly publicKey: CryptoKey
  readonly jwk: JWK
}

/** Generates an RS256 key pair with `kid`. */
export async function newSigningKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }
  return { kid, privateKey, publicKey, jwk }
}

/** Signs `claims` as an identity token of `issuer` for `audience`, valid for five minutes unless told otherwise. */
export async function signIdToken(
  key: SigningKey,
  claims: Record<string, unknown>,
  options: { issuer: string; audience: string; kid?: string; exp?: number; nbf?: number },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? key.kid, typ: 'JWT' })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(now)
    .setExpirationTime(options.exp ?? now + 300)
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf)
  return jwt.sign(key.privateKey)
}

/** A JWKS endpoint on 127.0.0.1 the test controls. */
export interface JwksServer {
  /** The JWKS URL. */
  readonly url: string
  /** How many times the keys were fetched. */
  fetches: number
  /** Publishes these keys from now on. */
  publish(keys: readonly SigningKey[]): void
  /** 'ok' serves the keys, 'error' answers 500, 'reset' drops the connection. */
  mode: 'ok' | 'error' | 'reset'
}

/** Starts a JWKS server (closed in teardown). */
export async function startJwks(t: Test, keys: readonly SigningKey[]): Promise<JwksServer> {
  let published: JWK[] = keys.map((k) => k.jwk)
  const state = {
    url: '',
    fetches: 0,
    mode: 'ok' as JwksServer['mode'],
    publish(next: readonly SigningKey[]) {
      published = next.map((k) => k.jwk)
    },
  }
  const server: Server = createServer((req, res) => {
    state.fetches++
    if (state.mode === 'reset') {
      req.socket.destroy()
      return
    }
    if (state.mode === 'error') {
      res.writeHead(500).end('down')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: published }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks`
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return state
}

/** A URL on 127.0.0.1 where nothing listens (a port that was just closed). */
export async function deadUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}/.well-known/jwks`
}

/** Substitutes a route URL's params with real values (`::` is a literal colon). */
export function concreteUrl(url: string, factory = 'f1', stack = 's1'): string {
  return url
    .replaceAll('::', '\u0000')
    .replace(':factory', factory)
    .replace(':stack', stack)
    .replace(':rev', '2026-07-10T12:00:00Z')
    .replaceAll('\u0000', ':')
}

/** A Terraform LockInfo body. */
export function lockInfo(id: string, who = 'ci@runner'): string {
  return JSON.stringify({
    ID: id,
    Operation: 'OperationTypeApply',
    Info: '',
    Who: who,
    Version: '1.9.0',
    Created: '2026-07-10T12:00:00.000000001Z',
    Path: '',
  })
}

/** A small Terraform state document. */
export function terraformState(serial: number, lineage = '7b0c1e2a-0000-4000-8000-000000000001'): string {
  return `${JSON.stringify({ version: 4, terraform_version: '1.9.0', serial, lineage, outputs: {}, resources: [], check_results: null }, null, 2)}\n`
}
