/** Scenarios of the service routes: metrics, the documents, the console, health, listings, events, whoami. */
import { buildTestApp } from '../../helpers/app.js'
import { STACK, type StatusScenarios, sc } from './scenario.js'
import { expectSetup, fresh, send, writeRev } from './requests.js'
import { closingApp, newDir, openStreams, plain, withConsole } from './apps.js'

export const serviceScenarios: Readonly<Record<string, StatusScenarios>> = {
  'GET /metrics': {
    200: [
      sc(
        'a scrape',
        undefined,
        async () => send(plain, 'GET', '/metrics'),
        (t, res) => t.match(String(res.headers['content-type']), /^text\/plain/, 'Prometheus text'),
      ),
    ],
  },
  'GET /openapi.yaml': {
    200: [
      sc(
        'a read of the document',
        undefined,
        async () => send(plain, 'GET', '/openapi.yaml'),
        (t, res) => t.match(String(res.headers['content-type']), /yaml/, 'YAML'),
      ),
    ],
  },
  'GET /openapi.json': {
    200: [
      sc(
        'a read of the document',
        undefined,
        async () => send(plain, 'GET', '/openapi.json'),
        (t, res) => t.type((res.json() as { paths?: unknown }).paths, 'object', 'the document'),
      ),
    ],
  },
  'GET /': {
    302: [
      sc(
        "a visit of the server's root",
        undefined,
        async () => send(withConsole, 'GET', '/'),
        (t, res) => t.equal(res.headers.location, '/ui/'),
      ),
    ],
  },
  'GET /ui/': {
    200: [
      sc(
        'a visit of the console',
        undefined,
        async () => send(withConsole, 'GET', '/ui/'),
        (t, res) => t.match(String(res.headers['content-security-policy']), /script-src 'self'/),
      ),
    ],
    304: [
      sc("If-None-Match with the page's ETag", undefined, async () => {
        const page = await expectSetup(send(withConsole, 'GET', '/ui/'), 200, 'reading the page')
        return send(withConsole, 'GET', '/ui/', { headers: { 'if-none-match': String(page.headers.etag) } })
      }),
    ],
    404: [sc('a server built without the console', 'console-not-built', async () => send(plain, 'GET', '/ui/'))],
  },
  'GET /ui/assets/{file}': {
    200: [
      sc(
        "the page's script",
        undefined,
        async () => send(withConsole, 'GET', '/ui/assets/app-ABCDEFGH.js'),
        (t, res) => t.match(String(res.headers['cache-control']), /immutable/),
      ),
    ],
    304: [
      sc("If-None-Match with the script's ETag", undefined, async () => {
        const asset = await expectSetup(
          send(withConsole, 'GET', '/ui/assets/app-ABCDEFGH.js'),
          200,
          'reading the script',
        )
        return send(withConsole, 'GET', '/ui/assets/app-ABCDEFGH.js', {
          headers: { 'if-none-match': String(asset.headers.etag) },
        })
      }),
    ],
    400: [
      sc('a file name with a percent-encoded slash', 'invalid-name', async () =>
        send(withConsole, 'GET', '/ui/assets/..%2findex.html'),
      ),
    ],
    404: [
      sc('a script of an older build', 'asset-not-found', async () =>
        send(withConsole, 'GET', '/ui/assets/app-OLDBUILD.js'),
      ),
    ],
    414: [
      sc('a file name longer than the router accepts', 'uri-too-long', async () =>
        send(withConsole, 'GET', `/ui/assets/${'a'.repeat(300)}.js`),
      ),
    ],
  },
  'GET /healthz': {
    200: [sc('a probe', undefined, async () => send(plain, 'GET', '/healthz'))],
  },
  'GET /readyz': {
    200: [
      sc(
        'a probe of a writable data directory',
        undefined,
        async () => send(plain, 'GET', '/readyz'),
        (t, res) => t.equal((res.json() as { status: string }).status, 'ready'),
      ),
    ],
    503: [
      sc(
        'a probe once shutdown has begun',
        undefined,
        async (t) => {
          const b = await closingApp(t)
          b.beginShutdown()
          return send(b, 'GET', '/readyz')
        },
        (t, res) => t.equal((res.json() as { status: string }).status, 'unavailable'),
      ),
    ],
  },
  'GET /v1/factories': {
    200: [sc('a listing', undefined, async () => send(plain, 'GET', '/v1/factories'))],
    400: [sc('limit=0', 'invalid-request', async () => send(plain, 'GET', '/v1/factories?limit=0'))],
  },
  'GET /v1/factories/{factory}/stacks': {
    200: [
      sc('a factory with a stack', undefined, async () => {
        await writeRev(plain, fresh(plain))
        return send(plain, 'GET', '/v1/factories/cov/stacks')
      }),
    ],
    404: [
      sc('a factory without stacks', 'factory-not-found', async () =>
        send(plain, 'GET', '/v1/factories/no-such-factory/stacks'),
      ),
    ],
  },

  [`GET ${STACK}/events`]: {
    200: [
      sc(
        'a stream, ended by the server shutting down',
        undefined,
        async (t) => {
          const b = await buildTestApp(t, { dir: await newDir('events') })
          const pending = send(b, 'GET', `${fresh(b).url}/events`)
          await openStreams(b, 1)
          b.beginShutdown()
          return pending
        },
        (t, res) => {
          t.match(String(res.headers['content-type']), /^text\/event-stream/, 'an event stream')
          t.match(res.body, /event: hello\n/, 'that starts with hello')
        },
      ),
    ],
    503: [
      sc(
        'a stream beyond --max-event-streams',
        'too-many-streams',
        async (t) => {
          const b = await buildTestApp(t, { dir: await newDir('events-cap'), events: { maxStreams: 1 } })
          const s = fresh(b)
          const first = send(b, 'GET', `${s.url}/events`)
          await openStreams(b, 1)
          const refused = await send(b, 'GET', `${s.url}/events`)
          b.beginShutdown()
          await first
          return refused
        },
        (t, res) => t.ok(res.headers['retry-after'], 'with Retry-After'),
      ),
    ],
  },
  'GET /v1/whoami': {
    200: [
      sc(
        'an anonymous caller',
        undefined,
        async () => send(plain, 'GET', '/v1/whoami?factory=cov&stack=x'),
        (t, res) => t.equal((res.json() as { principal: string }).principal, 'anonymous'),
      ),
    ],
    400: [
      sc('a stack without its factory', 'invalid-request', async () => send(plain, 'GET', '/v1/whoami?stack=x')),
      sc('a factory name the pattern refuses', 'invalid-request', async () =>
        send(plain, 'GET', '/v1/whoami?factory=-bad'),
      ),
    ],
  },
}
