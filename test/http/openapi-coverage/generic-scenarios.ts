/** Answers every route can give (credentials, body limits, methods) and the answers outside the document. */
import { WWW_AUTHENTICATE } from '../../../src/http/problems.js'
import { bearer } from '../../helpers/auth.js'
import { type Method, type Scenario, type StatusScenarios, sc } from './scenario.js'
import { type RequestOptions, SOME_REV, send, nextStackName } from './requests.js'
import { BODY_LIMIT, ID_TOKEN, STRANGER, authed, limited, oidc, plain } from './apps.js'

/**
 * Answers no declared response covers: a path no route matches, and a path
 * parameter the router refuses before any route is chosen.
 */
export const ANSWERS_OUTSIDE_THE_DOCUMENT: ReadonlyArray<{
  readonly status: number
  readonly problem: boolean
  readonly scenario: Scenario
}> = [
  {
    status: 404,
    problem: true,
    scenario: sc('a path no route matches', 'route-not-found', async () => send(plain, 'GET', '/v1/no-such-route')),
  },
  {
    status: 414,
    problem: true,
    scenario: sc('a path parameter longer than the router accepts', 'uri-too-long', async () =>
      send(plain, 'GET', `/v1/factories/${'f'.repeat(300)}/stacks`),
    ),
  },
]

/**
 * Scenarios every route of a kind gets: 400 invalid-name for a factory the
 * name pattern refuses, and for protected routes 401 without credentials,
 * 403 for a caller without the permission, 429 from an address over its
 * rate, and 503 when an identity token's issuer keys cannot be fetched.
 */
export function genericScenarios(method: Method, path: string, isProtected: boolean): StatusScenarios {
  const url = (factory: string): string =>
    path.replace('{factory}', factory).replace('{stack}', nextStackName()).replace('{rev}', SOME_REV)
  const body: RequestOptions = method === 'GET' ? {} : { raw: '{}' }
  const out: Record<number, Scenario[]> = {}
  if (path.includes('{factory}')) {
    out[400] = [
      sc('a factory name the pattern refuses', 'invalid-name', async () => send(plain, method, url('-bad'), body)),
    ]
    out[414] = [
      sc('a path parameter longer than the router accepts', 'uri-too-long', async () =>
        send(plain, method, url('f'.repeat(300)), body),
      ),
    ]
  }
  if (BODY_METHODS.has(method)) {
    out[413] = [
      sc('a body over the limit', 'body-too-large', async () =>
        send(plain, method, url('cov'), { raw: `"${'x'.repeat(BODY_LIMIT)}"` }),
      ),
    ]
    if (!RAW_BODY_ROUTES.has(`${method} ${path}`))
      out[415] = [
        sc('a body that is not JSON', 'unsupported-media-type', async () =>
          send(plain, method, url('cov'), { raw: 'rev=x', headers: { 'content-type': 'text/plain' } }),
        ),
      ]
  }
  if (isProtected) {
    out[401] = [
      sc(
        'no credentials',
        'unauthenticated',
        async () => send(authed, method, url('cov'), body),
        (t, res) => t.equal(res.headers['www-authenticate'], WWW_AUTHENTICATE, 'with the challenge'),
      ),
    ]
    if (!ANY_CREDENTIAL.has(`${method} ${path}`))
      out[403] = [
        sc('a caller without the permission', 'forbidden', async () =>
          send(authed, method, url('cov'), { ...body, headers: bearer(STRANGER) }),
        ),
      ]
    out[429] = [
      sc(
        'an address over its rate of failed authentications',
        'rate-limited',
        async () => send(limited, method, url('cov'), body),
        (t, res) => t.ok(res.headers['retry-after'], 'with Retry-After'),
      ),
    ]
    out[503] = [
      sc(
        'an identity token whose issuer keys cannot be fetched',
        'auth-unavailable',
        async () => send(oidc, method, url('cov'), { ...body, headers: bearer(ID_TOKEN) }),
        (t, res) => t.ok(res.headers['retry-after'], 'with Retry-After'),
      ),
    ]
  }
  return out
}

/** Routes any valid credential may call (permission `authenticated`): they never answer 403. */
export const ANY_CREDENTIAL: ReadonlySet<string> = new Set(['GET /v1/whoami'])
/** Methods whose bodies the server parses: any route of theirs can answer 413, and 415 unless it takes its body raw. */
export const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'LOCK', 'UNLOCK'])
/** The routes that store or read their body as raw bytes, whatever its media type (config.rawBody). */
export const RAW_BODY_ROUTES: ReadonlySet<string> = new Set([
  'POST /v1/factories/{factory}/stacks/{stack}/snapshots',
  'POST /v1/factories/{factory}/stacks/{stack}/terraform',
  'PUT /v1/factories/{factory}/stacks/{stack}/terraform',
  'DELETE /v1/factories/{factory}/stacks/{stack}/terraform',
  'POST /v1/factories/{factory}/stacks/{stack}/terraform/lock',
  'DELETE /v1/factories/{factory}/stacks/{stack}/terraform/lock',
  'LOCK /v1/factories/{factory}/stacks/{stack}/terraform',
  'UNLOCK /v1/factories/{factory}/stacks/{stack}/terraform',
])

/** The scenarios of a route: its own and the generic ones, by status (a generic one only where the route has none of its own for that status). */
export function scenariosOf(
  method: Method,
  path: string,
  isProtected: boolean,
  own: StatusScenarios | undefined,
): Map<number, Scenario[]> {
  const out = new Map<number, Scenario[]>()
  for (const [i, table] of [own ?? {}, genericScenarios(method, path, isProtected)].entries()) {
    for (const [status, list] of Object.entries(table)) {
      if (list === undefined || list.length === 0) continue
      if (i === 1 && [413, 414, 415].includes(Number(status)) && out.has(Number(status))) continue
      out.set(Number(status), [...(out.get(Number(status)) ?? []), ...list])
    }
  }
  return out
}
