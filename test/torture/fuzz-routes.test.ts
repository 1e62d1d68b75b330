/**
 * Torture: property-based fuzzing (fast-check) of route parameters, on an
 * in-process app over its own seeded data root (./fuzz/world.ts).
 *
 * Arbitrary factory/stack names and revs (unicode, percent-encodings incl.
 * double encoding and overlong UTF-8, `..`, `/`, `\`, NUL, overlong names,
 * look-alike letters, valid names too) on every route the app registers and
 * every method (its own, LOCK/UNLOCK, and methods no route has). A model of
 * the router (./fuzz/router-model.ts) says what each request must get: 400
 * `invalid-name` / `invalid-rev` for the first invalid parameter, 404
 * `route-not-found`, 414 `uri-too-long`, 400 `invalid-request` for a path
 * that does not decode; all of them before any filesystem call. Valid names
 * and revs get anything but those codes and never a 5xx.
 *
 * Every case also passes the checks of ./fuzz/exchange.ts; the end checks of
 * ./fuzz/end-checks.ts follow. Runs replay from the printed seed
 * (UNOBIN_TORTURE_SEED); long mode (UNOBIN_TORTURE_MODE=long) runs twenty
 * times as many cases.
 */
import { endChecks, fuzzParent } from './fuzz/end-checks.js'
import fc from 'fast-check'
import t from 'tap'
import { sized } from '../helpers/torture.js'
import { HOLDER, JSON_TYPE, MAX_PARAM_LENGTH, RUNS, TF_LOCK_ID } from './fuzz/settings.js'
import { badAfter } from './fuzz/tree.js'
import { World } from './fuzz/world.js'
import { check, exchange } from './fuzz/exchange.js'
import { encode, expectationOf, templatesOf } from './fuzz/router-model.js'
import {
  FACTORIES,
  FOREIGN_METHODS,
  type ParamInput,
  STACKS,
  nameIntent,
  noise,
  paramInput,
  query,
  revIntent,
} from './fuzz/names.js'
import { bodyKindOf, plausibleBody } from './fuzz/bodies.js'

t.setTimeout(sized(300_000, 3_600_000))

const where = fuzzParent(t, 'data-routes')
let fuzzed: World | undefined

t.test(
  'route parameters: invalid names and revs are refused by code before any filesystem call, never 5xx',
  async (t) => {
    const world = new World(t, where.root, {})
    fuzzed = world
    await world.start()
    const templates = templatesOf(world.routes)
    t.ok(
      templates.some((tpl) => tpl.method === 'LOCK') && templates.some((tpl) => tpl.url.endsWith('/snapshots/:rev')),
      `the route table has ${templates.length} method/route pairs, LOCK and …/snapshots/:rev among them`,
    )

    const routeCase = fc.record({
      // A GET of …/events with valid names opens a stream that never ends, which inject would wait on for ever:
      // the stream route is exercised over real sockets in test/http/events.test.ts (HEAD answers at once and stays here).
      route: fc.constantFrom(
        ...templates
          .filter((tpl) => !(tpl.method === 'GET' && tpl.url.endsWith('/events')))
          .map((tpl) => `${tpl.method} ${tpl.url}`),
      ),
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constantFrom(...FOREIGN_METHODS) },
      ),
      factory: paramInput(nameIntent),
      stack: paramInput(nameIntent),
      rev: paramInput(revIntent),
      noise,
      query,
      lockId: fc.option(fc.constantFrom(HOLDER, TF_LOCK_ID, 'not-a-holder'), { nil: undefined }),
      choice: fc.nat(99),
    })

    await check(
      t,
      'route parameters',
      routeCase,
      async (c) => {
        await world.refresh()
        const tpl = templates.find((x) => `${x.method} ${x.url}` === c.route)!
        const method = c.method ?? tpl.method
        const wire = (p: ParamInput, known: readonly string[]): string =>
          'known' in p ? known[p.known % known.length]! : encode(p.intent, p.encoding, p.upper)
        const statics: number[] = []
        const segs = tpl.segs.map((s, i) => {
          if ('text' in s) {
            statics.push(i)
            return s.text
          }
          if (s.param === 'factory') return wire(c.factory, FACTORIES)
          if (s.param === 'stack') return wire(c.stack, STACKS)
          return wire(c.rev, world.known.revs)
        })
        const at = c.noise.at % Math.max(1, segs.length)
        const st = statics.length > 0 ? statics[c.noise.at % statics.length]! : -1
        switch (c.noise.kind) {
          case 'encode-static':
            if (st >= 0) segs[st] = encode(segs[st]!, 'bytes', c.noise.at % 2 === 0)
            break
          case 'upper-static':
            if (st >= 0) segs[st] = segs[st]!.toUpperCase()
            break
          case 'dot-segment':
            segs.splice(at, 0, '.')
            break
          case 'encoded-dot-segment':
            segs.splice(at, 0, '%2E')
            break
          case 'dotdot-pair':
            segs.splice(at, 0, 'x', '..')
            break
          case 'double-slash':
            segs.splice(at, 0, '')
            break
          case 'trailing-slash':
            segs.push('')
            break
          case 'none':
            break
        }
        const url = world.fill(`/${segs.join('/')}${c.query}`)
        const kind = c.method === null ? bodyKindOf(method, tpl.url) : 'none'
        const body = plausibleBody(kind, c.choice)
        const headers: Record<string, string> = {}
        if (body !== undefined) headers['content-type'] = JSON_TYPE
        if (c.lockId !== undefined) headers['lock-id'] = world.fill(c.lockId)
        const expected = expectationOf(method, url, templates)
        const { res, calls, code, label } = await exchange(world, {
          method,
          url,
          headers,
          ...(body === undefined ? {} : { payload: world.fill(body) }),
        })
        const head = method === 'HEAD'
        const want = (status: number, wantCode: string, why: string): void => {
          if (res.statusCode !== status || (!head && code !== wantCode))
            throw new Error(
              `${label}: expected ${status} ${wantCode} (${why}), got ${res.statusCode} ${code ?? res.body.slice(0, 200)}`,
            )
        }
        switch (expected.kind) {
          case 'bad-url':
            want(400, 'invalid-request', 'the path does not percent-decode')
            break
          case 'no-route':
            want(404, 'route-not-found', 'no route has this method and path')
            break
          case 'too-long':
            want(
              414,
              'uri-too-long',
              `the ${expected.param} is longer than ${MAX_PARAM_LENGTH} characters once decoded`,
            )
            break
          case 'invalid':
            // A rev of the right shape is judged after the query: a bad query may be refused first (still 400, before any file).
            if (expected.schemaPasses && c.query !== '' && res.statusCode === 400 && code === 'invalid-request') break
            want(
              400,
              expected.code,
              `the ${expected.param} ${JSON.stringify(expected.value.slice(0, 80))} is not valid`,
            )
            break
          case 'valid':
            // A query `after` that is not a canonical rev (hour 24, day 32, ...) is refused like a rev in the path.
            if (badAfter(url) && res.statusCode === 400 && (code === 'invalid-rev' || code === 'invalid-request')) break
            if (
              code === 'invalid-name' ||
              code === 'invalid-rev' ||
              code === 'route-not-found' ||
              code === 'uri-too-long'
            )
              throw new Error(
                `${label}: valid names and revs on ${expected.route}, yet answered ${res.statusCode} ${code}`,
              )
            break
        }
        if (expected.kind !== 'valid' && calls.length > 0) {
          throw new Error(
            `${label}: refused with ${res.statusCode} ${code ?? ''} after ${calls.length} filesystem calls (first: ${calls[0]!.method} ${calls[0]!.path}); a bad name, rev or path is refused before any filesystem call`,
          )
        }
      },
      RUNS.routes,
    )
    t.comment(`route world rebuilt ${world.rebuilds} times`)
  },
)

t.test('nothing outside the data root was touched, and the figures are reported', async (t) => {
  if (fuzzed === undefined) return t.fail('the property never built its world')
  endChecks(t, where, fuzzed, 'fuzzing routes', RUNS.routes)
})
