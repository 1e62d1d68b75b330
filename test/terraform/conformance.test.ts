/**
 * The Terraform and OpenTofu `http` backends' own conformance checks
 * (remote.TestClient, TestRemoteLocks, force-unlock, a server that starts
 * locked), replayed over real sockets with requests framed byte for byte as
 * the Go clients frame them. The suite runs once per client (Terraform and
 * OpenTofu framing) and once per lock address (LOCK/UNLOCK on the state
 * address, and GitLab's POST/DELETE on `<address>/lock`).
 */
import t, { type Test } from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { buildTestApp } from '../helpers/app.js'
import { type HttpBackendConfig, HttpBackend, retryablePolicy, stateFile } from '../helpers/go/backend.js'
import {
  EMPTY_BODY_MD5,
  type GoClientStyle,
  type GoLockInfo,
  type GoResponse,
  GoJsonError,
  isGoRfc3339,
  marshalLockInfo,
  md5Base64,
  newLockInfo,
  parseGoJson,
  withLockId,
} from '../helpers/go/encoding.js'
import { GoHttpClient } from '../helpers/go/transport.js'

const FACTORY = 'f'

/** The Terraform address of a stack. */
function addressOf(stack: string): string {
  return `/v1/factories/${FACTORY}/stacks/${stack}/terraform`
}

/** The two ways the clients are configured to lock (relative to the address). */
const LOCK_ROUTES: ReadonlyArray<{
  readonly name: string
  readonly config: (address: string) => Omit<HttpBackendConfig, 'address'>
}> = [
  { name: 'LOCK/UNLOCK on the address', config: () => ({}) },
  {
    name: 'GitLab-style POST/DELETE on <address>/lock',
    config: (address) => ({
      lockAddress: `${address}/lock`,
      lockMethod: 'POST',
      unlockAddress: `${address}/lock`,
      unlockMethod: 'DELETE',
    }),
  },
]

// One listening app for the whole file (building one takes far longer than a test); every test
// works on a stack of its own, so the tests stay independent.
const { app, dir } = await buildTestApp(t)
await app.listen({ host: '127.0.0.1', port: 0 })
const port = (app.server.address() as AddressInfo).port
let stacks = 0

/** A stack no other test touches, its address and native base path. */
function freshStack(): { stack: string; address: string; native: string } {
  const stack = `s${++stacks}`
  return { stack, address: addressOf(stack), native: `/v1/factories/${FACTORY}/stacks/${stack}` }
}

/** A fresh client process's backend. */
function backend(address: string, style: GoClientStyle, config: Omit<HttpBackendConfig, 'address'> = {}): HttpBackend {
  return new HttpBackend(new GoHttpClient({ port, style }), { address, ...config })
}

/** Calls a native route with fetch (not a Terraform client: framing does not matter there). */
async function native(path: string, method = 'GET', json?: unknown): Promise<{ status: number; body: any }> {
  // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    ...(json === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) }),
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) }
}

/** Asserts an answer the clients read as "no state" and that nothing of a state came back. */
function assertNoState(t: Test, outcome: { response: GoResponse; state: Buffer | null }): void {
  t.ok(
    [200, 204, 404].includes(outcome.response.status),
    `"no state" is 200-empty, 204 or 404 (got ${outcome.response.status})`,
  )
  t.equal(outcome.state, null, 'the client reads no state')
  t.notOk(outcome.response.body.includes('stub-lineage'), 'no state body is sent')
}

/** Asserts a refused lock as the clients need it: 409/423, final (not retried), a LockInfo Go decodes naming the holder. */
function assertRefusedBy(
  t: Test,
  outcome: { response: GoResponse; holder?: GoLockInfo; decodeError?: GoJsonError },
  expected: Partial<GoLockInfo>,
): GoLockInfo | undefined {
  t.ok([409, 423].includes(outcome.response.status), `refused with 409/423 (got ${outcome.response.status})`)
  t.equal(retryablePolicy(outcome.response.status), false, 'go-retryablehttp does not resend the refusal')
  t.equal(outcome.decodeError, undefined, `the body decodes under Go rules: ${outcome.response.body.toString()}`)
  const holder = outcome.holder
  if (holder === undefined) return undefined
  t.not(holder.ID, '', 'the holder has a non-empty ID (needed for -lock-timeout)')
  t.ok(holder.Created === null || isGoRfc3339(holder.Created), 'Created is RFC 3339 or null')
  t.match(holder, expected, 'the holder LockInfo names the holder')
  return holder
}

for (const style of ['terraform', 'opentofu'] as const) {
  t.test(`${style}-style client`, async (t) => {
    for (const method of ['POST', 'PUT'] as const) {
      t.test(
        `a state written with ${method} reads back byte-identical and reads as no state after DELETE`,
        async (t) => {
          const { address } = freshStack()
          const client = backend(address, style, { updateMethod: method })
          const data = stateFile(2)
          const write = await client.put(data)
          t.ok([200, 201, 204].includes(write.status), `write accepted (got ${write.status})`)
          t.ok(
            client.client.sent[0]!.toString('latin1').startsWith(`${method} ${address} HTTP/1.1\r\n`),
            'no ?ID without a lock',
          )
          const read = await client.get()
          t.equal(read.response.status, 200)
          t.ok(read.state?.equals(data), 'the stored bytes come back exactly')
          if (read.response.headers['content-md5'] !== undefined)
            t.equal(read.response.headers['content-md5'], md5Base64(data), 'a Content-MD5 sent matches the body')
          const deleted = await client.delete()
          t.equal(deleted.status, 200, 'DELETE answers 200')
          assertNoState(t, await client.get())
        },
      )
    }

    for (const routes of LOCK_ROUTES) {
      t.test(
        `${routes.name}: a second client's lock is refused with the holder's LockInfo until the first unlocks`,
        async (t) => {
          const { address, native: base } = freshStack()
          const a = backend(address, style, routes.config(address))
          const b = backend(address, style, routes.config(address))
          const infoA = newLockInfo({ Operation: 'test', Who: 'clientA' })
          const infoB = newLockInfo({ Operation: 'test', Who: 'clientB' })
          const lockedA = await a.lock(infoA)
          t.equal(lockedA.response.status, 200, 'A locks')
          const refused = await b.lock(infoB)
          assertRefusedBy(t, refused, { ID: infoA.ID, Who: 'clientA', Operation: 'test', Created: infoA.Created })
          t.equal(b.lockId, '', 'B holds nothing')
          t.equal((await a.unlock(lockedA.id!)).status, 200, 'A unlocks')
          const lockedB = await b.lock(infoB)
          t.equal(lockedB.response.status, 200, 'B locks once A has unlocked')
          t.not(lockedB.id, lockedA.id, 'the lock ids differ')
          t.equal((await b.unlock(lockedB.id!)).status, 200, 'B unlocks')
          t.equal((await native(`${base}/lock`)).status, 404, 'the stack is free')
        },
      )

      t.test(`${routes.name}: reading works while the state is locked`, async (t) => {
        const { address } = freshStack()
        const a = backend(address, style, routes.config(address))
        const data = stateFile(2)
        t.equal((await a.put(data)).status, 200)
        const locked = await a.lock(newLockInfo({ Who: 'clientA' }))
        t.equal(locked.response.status, 200)
        const read = await backend(address, style, routes.config(address)).get()
        t.equal(read.response.status, 200, 'another client reads while A holds the lock')
        t.ok(read.state?.equals(data), 'and gets the state byte-exact')
        const own = await a.get()
        t.ok(own.state?.equals(data), 'the holder reads it too')
      })

      t.test(`${routes.name}: locking works before any state exists`, async (t) => {
        const { address } = freshStack()
        const a = backend(address, style, routes.config(address))
        assertNoState(t, await a.get())
        const locked = await a.lock(newLockInfo())
        t.equal(locked.response.status, 200, 'a stack without state can be locked')
        assertNoState(t, await a.get())
        const data = stateFile(1)
        t.equal((await a.put(data)).status, 200, 'the holder writes the first state')
        t.equal((await a.unlock(locked.id!)).status, 200)
        t.ok((await a.get()).state?.equals(data))
      })

      t.test(`${routes.name}: force-unlock from a fresh client frees a lock held by another client`, async (t) => {
        const { address, native: base } = freshStack()
        const a = backend(address, style, routes.config(address))
        const lockedA = await a.lock(newLockInfo({ Who: 'clientA' }))
        t.equal(lockedA.response.status, 200)
        const fresh = backend(address, style, routes.config(address))
        const forced = await fresh.unlock(lockedA.id!)
        t.equal(forced.status, 200, 'force-unlock answers 200')
        const sent = fresh.client.sent[0]!.toString('latin1')
        if (style === 'terraform') {
          t.ok(sent.endsWith('\r\n\r\n') && !sent.includes(lockedA.id!), 'Terraform sends an empty body, never the id')
          t.ok(sent.includes(`Content-Md5: ${EMPTY_BODY_MD5}\r\n`), 'with the empty-body MD5')
        } else {
          t.ok(
            sent.endsWith(
              `\r\n\r\n{"ID":"${lockedA.id!}","Operation":"","Info":"","Who":"","Version":"","Created":"0001-01-01T00:00:00Z","Path":""}`,
            ),
            'OpenTofu sends the ID alone',
          )
        }
        t.equal((await native(`${base}/lock`)).status, 404, 'the lock is gone')
        const lockedB = await backend(address, style, routes.config(address)).lock(newLockInfo({ Who: 'clientB' }))
        t.equal(lockedB.response.status, 200, 'another client can lock')
      })

      t.test(
        `${routes.name}: a stack locked through the native route refuses the lock naming its Operation and Who`,
        async (t) => {
          const { address, native: base } = freshStack()
          const taken = await native(`${base}/lock`, 'POST', { who: 'ops@bastion', operation: 'maintenance window' })
          t.equal(taken.status, 201)
          const refused = await backend(address, style, routes.config(address)).lock(newLockInfo({ Who: 'clientA' }))
          t.equal(refused.response.status, 423, 'the client sees 423')
          const holder = assertRefusedBy(t, refused, {
            ID: taken.body.id,
            Operation: 'maintenance window',
            Who: 'ops@bastion',
          })
          t.not(holder?.Created, null, 'Created is set from the server lock')
        },
      )

      t.test(
        `${routes.name}: a lock marker left by the Go tool refuses the lock with a LockInfo Go can decode, and force-unlock removes it`,
        async (t) => {
          const { stack, address, native: base } = freshStack()
          mkdirSync(join(dir, FACTORY, stack), { recursive: true })
          writeFileSync(join(dir, FACTORY, stack, 'lock'), '4242\n')
          const refused = await backend(address, style, routes.config(address)).lock(newLockInfo())
          t.equal(refused.response.status, 423)
          const holder = assertRefusedBy(t, refused, {})
          t.match(holder?.Who, /4242/, 'Who names the pid of the Go tool')
          t.equal((await native(`${base}/lock`)).status, 200, 'the marker still holds the stack')
          t.equal(
            (await backend(address, style, routes.config(address)).unlock(holder?.ID ?? '')).status,
            200,
            'force-unlock with the reported ID answers 200',
          )
          t.equal(
            (await backend(address, style, routes.config(address)).lock(newLockInfo())).response.status,
            200,
            'and frees the stack',
          )
        },
      )
    }
  })
}

t.test(
  'a holder that locked with a Created Go cannot parse is still reported with a LockInfo Go can decode',
  async (t) => {
    const { address } = freshStack()
    const odd = new GoHttpClient({ port, style: 'terraform' })
    const body = Buffer.from(
      JSON.stringify({
        ID: 'odd-client-lock',
        Operation: 'apply',
        Info: '',
        Who: 'script@host',
        Version: 'x',
        Created: 'yesterday',
        Path: '',
      }),
    )
    const taken = await odd.lock(address, body)
    if (taken.status === 200) {
      const refused = await backend(address, 'terraform').lock(newLockInfo())
      assertRefusedBy(t, refused, { ID: 'odd-client-lock', Who: 'script@host', Operation: 'apply' })
    } else {
      t.equal(taken.status, 400, 'or the odd LockInfo is refused up front')
    }
  },
)

t.test('the helper frames requests byte for byte as Go net/http does', async (t) => {
  const tf = new GoHttpClient({ port: 8080, style: 'terraform', username: 'u', password: 'p' })
  const tofu = new GoHttpClient({ port: 8080, style: 'opentofu', headers: { authorization: 'Bearer tok' } })
  t.equal(
    tf.frame('UNLOCK', '/x', Buffer.alloc(0)).toString('latin1'),
    'UNLOCK /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\nTransfer-Encoding: chunked\r\n' +
      `Authorization: Basic dTpw\r\nContent-Md5: ${EMPTY_BODY_MD5}\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n0\r\n\r\n`,
    'Terraform: an empty UNLOCK is one zero-length chunk with the empty-body MD5',
  )
  t.equal(
    tofu.frame('LOCK', '/x', Buffer.alloc(0)).toString('latin1'),
    'LOCK /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\nTransfer-Encoding: chunked\r\nAuthorization: Bearer tok\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n0\r\n\r\n',
    'OpenTofu: no Content-MD5 on an empty body; its headers option sets Authorization',
  )
  const info = marshalLockInfo({ ID: 'i', Who: 'a<b>&c', Created: '2025-01-02T03:04:05.5Z' })
  t.equal(
    info.toString(),
    '{"ID":"i","Operation":"","Info":"","Who":"a\\u003cb\\u003e\\u0026c","Version":"","Created":"2025-01-02T03:04:05.5Z","Path":""}',
    'LockInfo marshals like json.Marshal',
  )
  t.equal(
    tofu.frame('LOCK', '/x', info).toString('latin1'),
    `LOCK /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: ${info.length}\r\nAuthorization: Bearer tok\r\nContent-Md5: ${md5Base64(info)}\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n${info.toString()}`,
    'a body with a known length is sent with Content-Length',
  )
  t.equal(
    tf.frame('DELETE', '/x', null).toString('latin1'),
    'DELETE /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 0\r\nAuthorization: Basic dTpw\r\nAccept-Encoding: gzip\r\n\r\n',
    'DELETE has Content-Length: 0 and no body headers',
  )
  t.equal(
    tf.frame('GET', '/x', null).toString('latin1'),
    'GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\nAuthorization: Basic dTpw\r\nAccept-Encoding: gzip\r\n\r\n',
    'GET has no length at all',
  )
  t.equal(
    withLockId('/s?zeta=1&alpha=a b;c&beta=x%2Fy+z', 'id 1/2'),
    '/s?ID=id+1%2F2&beta=x%2Fy+z&zeta=1',
    'the query is re-parsed, sorted and re-encoded like url.Values',
  )
})

t.test('the helper reads a chunked gzip answer as Go transport does', async (t) => {
  const payload = Buffer.from('{"ID":"held"}')
  const zipped = gzipSync(payload)
  const server = createServer((socket) => {
    socket.once('data', () => {
      const half = Math.floor(zipped.length / 2)
      socket.write(
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 423 Locked\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n',
      )
      socket.write(`${half.toString(16)};ext=1\r\n`)
      socket.write(
        Buffer.concat([
          zipped.subarray(0, half),
          Buffer.from(`\r\n${(zipped.length - half).toString(16)}\r\n`),
          zipped.subarray(half),
          Buffer.from('\r\n0\r\nX-Trailer: 1\r\n\r\n'),
        ]),
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const client = new GoHttpClient({ port: (server.address() as AddressInfo).port, style: 'terraform' })
  const answer = await client.lock('/x', Buffer.from('{}'))
  t.equal(answer.status, 423)
  t.ok(answer.chunked && answer.gzip)
  t.ok(answer.body.equals(payload), 'the body is de-chunked and gunzipped')
  t.equal(parseGoJson(answer.body).ID, 'held')
})

t.test('parseGoJson decodes as Go encoding/json does into a LockInfo', async (t) => {
  t.throws(() => parseGoJson(''), GoJsonError, 'an empty body fails')
  t.throws(() => parseGoJson('  \n'), GoJsonError, 'a blank body fails')
  t.throws(() => parseGoJson('{"ID":"x","Created":""}'), GoJsonError, 'an empty Created fails')
  t.throws(() => parseGoJson('{"ID":"x","Created":"2025-13-01T00:00:00Z"}'), GoJsonError, 'an impossible month fails')
  t.throws(() => parseGoJson('{"ID":"x","Created":"2025-01-01 00:00:00Z"}'), GoJsonError, 'a space instead of T fails')
  t.throws(() => parseGoJson('{"ID":7}'), GoJsonError, 'a number for a string field fails')
  t.throws(() => parseGoJson('[]'), GoJsonError, 'an array fails')
  t.same(
    parseGoJson('{"id":"a","wHo":"w","OPERATION":"o","\u017fomething":1,"Created":null,"extra":{"x":1}}'),
    { ID: 'a', Operation: 'o', Info: '', Who: 'w', Version: '', Created: null, Path: '' },
    'keys fold case, unknown keys are ignored, null is no value',
  )
  t.equal(
    parseGoJson('{"ID":"x","Created":"2025-06-01T12:00:00.123456789+02:00"}').Created,
    '2025-06-01T12:00:00.123456789+02:00',
    'RFC 3339 with nanoseconds and an offset decodes',
  )
  t.equal(parseGoJson('null').ID, '', 'null decodes to the zero LockInfo')
  t.equal(retryablePolicy(423), false)
  t.equal(retryablePolicy(409), false)
  t.equal(retryablePolicy(501), false)
  t.equal(retryablePolicy(503), true)
  t.equal(retryablePolicy(429), true)
  t.equal(retryablePolicy('transport-error'), true)
})
