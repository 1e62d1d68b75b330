/**
 * The Terraform routes under the clients' retries and around them: go-retryablehttp
 * resends LOCK, UNLOCK and writes after a lost answer, so each must be
 * idempotent; writes are fenced by the `?ID=` the clients add while locked;
 * Content-MD5, lineage and serial guard what is stored; and the native routes
 * see, download and roll back the Terraform history. Every request a client
 * would send is framed as the Go clients frame it, over a real socket.
 */
import t, { type Test } from 'tap'
import type { AddressInfo } from 'node:net'
import { buildTestApp } from '../helpers/app.js'
import { type HttpBackendConfig, HttpBackend, retryablePolicy, stateFile } from '../helpers/go/backend.js'
import {
  type GoClientStyle,
  type GoResponse,
  marshalLockInfo,
  md5Base64,
  newLockInfo,
  parseGoJson,
  withLockId,
} from '../helpers/go/encoding.js'
import { GoHttpClient } from '../helpers/go/transport.js'
import { sampleSnapshot } from '../helpers/store.js'

const FACTORY = 'f'

// One listening app for the whole file (building one takes far longer than a test); every test
// works on a stack of its own, so the tests stay independent.
const { app } = await buildTestApp(t)
await app.listen({ host: '127.0.0.1', port: 0 })
const port = (app.server.address() as AddressInfo).port
let stacks = 0

/** A stack no other test touches: its Terraform address and native base path. */
function freshStack(): { address: string; native: string } {
  const native = `/v1/factories/${FACTORY}/stacks/r${++stacks}`
  return { address: `${native}/terraform`, native }
}

/** A fresh client process's backend. */
function backend(
  address: string,
  style: GoClientStyle = 'terraform',
  config: Omit<HttpBackendConfig, 'address'> = {},
): HttpBackend {
  return new HttpBackend(new GoHttpClient({ port, style }), { address, ...config })
}

/** Calls a native route with fetch; `bytes` is the raw body. */
async function native(
  path: string,
  method = 'GET',
  json?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; bytes: Buffer }> {
  // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...headers, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(json === undefined ? {} : { body: Buffer.isBuffer(json) ? json : JSON.stringify(json) }),
  })
  const bytes = Buffer.from(await res.arrayBuffer())
  let body: unknown
  try {
    body = bytes.length === 0 ? undefined : JSON.parse(bytes.toString('utf8'))
  } catch {
    body = undefined
  }
  return { status: res.status, body, bytes }
}

/** The revs a stack holds, through the native list. */
async function revsOf(base: string): Promise<string[]> {
  const listed = await native(`${base}/snapshots`)
  return listed.status === 200 ? (listed.body.revs as string[]) : []
}

/** The problem body of a refusal, after checking the Go clients can decode it (they json.Unmarshal every 409/423). */
function refusal(
  t: Test,
  response: GoResponse,
  statuses: number[],
): { code?: string; detail?: string; [key: string]: unknown } {
  t.ok(
    statuses.includes(response.status),
    `answered ${statuses.join(' or ')} (got ${response.status}: ${response.body.toString()})`,
  )
  t.equal(retryablePolicy(response.status), false, 'a final answer: go-retryablehttp does not resend it')
  if (response.status === 409 || response.status === 423)
    t.doesNotThrow(() => parseGoJson(response.body), 'the body decodes under Go rules')
  return JSON.parse(response.body.toString('utf8'))
}

t.test('a LOCK retried with the same id answers 200 again and keeps the generation', async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  const locked = await a.lock(newLockInfo({ Who: 'clientA' }))
  t.equal(locked.response.status, 200)
  const first = await native(`${base}/lock`)
  t.ok(retryablePolicy('transport-error'), 'a lost answer makes the client resend the same bytes')
  const retried = await a.client.lock(address, a.jsonLockInfo!)
  t.equal(retried.status, 200, 'the retry answers 200')
  const second = await native(`${base}/lock`)
  t.equal(second.body.id, locked.id, 'the same lock id holds')
  t.equal(second.body.generation, first.body.generation, 'the generation did not move')
})

t.test('an identical state write retried answers 200 and stores one rev', async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  const data = stateFile(2)
  t.equal((await a.put(data)).status, 200)
  t.equal((await a.put(data)).status, 200, 'the retry answers 200')
  t.equal((await revsOf(base)).length, 1, 'one rev in the history')
  t.ok((await a.get()).state?.equals(data))
})

t.test('an identical state write retried under the lock answers 200 and stores one rev', async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  t.equal((await a.lock(newLockInfo())).response.status, 200)
  const data = stateFile(2)
  t.equal((await a.put(data)).status, 200)
  t.equal((await a.put(data)).status, 200, 'the retry answers 200')
  t.equal((await revsOf(base)).length, 1, 'one rev in the history')
})

t.test('an UNLOCK retried after success answers 200', async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  const locked = await a.lock(newLockInfo())
  t.equal((await a.unlock(locked.id!)).status, 200)
  t.equal((await a.unlock(locked.id!)).status, 200, 'the retry answers 200')
  t.equal((await native(`${base}/lock`)).status, 404, 'the stack is free')
})

t.test('a force-unlock retried after success answers 200', async (t) => {
  for (const style of ['terraform', 'opentofu'] as const) {
    const { address, native: base } = freshStack()
    const a = backend(address, style)
    const locked = await a.lock(newLockInfo({ Who: 'clientA' }))
    const fresh = backend(address, style)
    t.equal((await fresh.unlock(locked.id!)).status, 200, `${style}: force-unlock`)
    const retried = await fresh.unlock(locked.id!) // go-retryablehttp resends the same bytes
    t.ok(fresh.client.sent[1]!.equals(fresh.client.sent[0]!), `${style}: the retry is byte-identical`)
    t.equal(
      retried.status,
      200,
      `${style}: the retried force-unlock answers 200 (got ${retried.status}: ${retried.body.toString()})`,
    )
    t.equal((await native(`${base}/lock`)).status, 404, `${style}: the stack is free`)
  }
})

t.test('an UNLOCK with a wrong id while held answers 423 with the holder and keeps the lock', async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  const locked = await a.lock(newLockInfo({ Who: 'clientA', Operation: 'OperationTypeApply' }))
  const b = backend(address)
  const wrong = await b.client.unlock(address, marshalLockInfo(newLockInfo({ Who: 'clientB' })))
  refusal(t, wrong, [409, 423])
  const holder = parseGoJson(wrong.body)
  t.equal(holder.ID, locked.id, "the body is the holder's LockInfo")
  t.equal(holder.Who, 'clientA')
  const idOnly = await b.client.unlock(address, marshalLockInfo({ ID: 'not-the-holder' }))
  refusal(t, idOnly, [409, 423])
  t.equal(
    parseGoJson(idOnly.body).ID,
    locked.id,
    "an OpenTofu force-unlock naming another id gets the holder's LockInfo too",
  )
  t.equal((await native(`${base}/lock`)).body.id, locked.id, 'the lock stays')
})

t.test('an UNLOCK with an unknown id on a free stack answers 409', async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  t.equal((await a.lock(newLockInfo())).response.status, 200)
  t.equal((await a.unlock(a.lockId)).status, 200)
  const unknown = await backend(address).client.unlock(address, marshalLockInfo(newLockInfo()))
  refusal(t, unknown, [409])
  t.equal((await native(`${base}/lock`)).status, 404, 'still free')
  const never = freshStack()
  refusal(t, await backend(never.address).client.unlock(never.address, marshalLockInfo(newLockInfo())), [409])
})

t.test("a write carrying the holder's ?ID is accepted while locked", async (t) => {
  const { address } = freshStack()
  const a = backend(address)
  const locked = await a.lock(newLockInfo())
  const data = stateFile(2)
  const written = await a.put(data)
  t.equal(written.status, 200)
  t.ok(
    a.client.sent.at(-1)!.toString('latin1').startsWith(`POST ${address}?ID=${locked.id} HTTP/1.1\r\n`),
    'the client added ?ID=',
  )
  t.ok((await a.get()).state?.equals(data))
})

t.test('a write through an address with its own query carries ?ID re-encoded the Go way and is accepted', async (t) => {
  const { address } = freshStack()
  const a = backend(`${address}?note=a%20b&also=x/y`)
  const locked = await a.lock(newLockInfo())
  t.equal(locked.response.status, 200, 'LOCK on an address with a query')
  const written = await a.put(stateFile(2))
  t.equal(written.status, 200)
  t.ok(
    a.client.sent
      .at(-1)!
      .toString('latin1')
      .startsWith(`POST ${address}?ID=${locked.id}&also=x%2Fy&note=a+b HTTP/1.1\r\n`),
    'sorted, QueryEscaped',
  )
  t.equal(withLockId(`${address}?note=a%20b&also=x/y`, locked.id!), `${address}?ID=${locked.id}&also=x%2Fy&note=a+b`)
})

t.test('a write without ?ID or with another id is refused with 423 while locked and stores nothing', async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  const before = stateFile(2)
  t.equal((await a.put(before)).status, 200)
  t.equal((await a.lock(newLockInfo({ Who: 'clientA' }))).response.status, 200)
  const unlocked = backend(address) // -lock=false: no LOCK, no ?ID
  refusal(t, await unlocked.put(stateFile(3)), [423])
  const other = backend(address)
  other.lockId = 'someone-elses-lock'
  refusal(t, await other.put(stateFile(3)), [423])
  const viaPut = backend(address, 'opentofu', { updateMethod: 'PUT' })
  refusal(t, await viaPut.put(stateFile(3)), [423])
  t.equal((await revsOf(base)).length, 1, 'nothing stored')
  t.ok((await a.get()).state?.equals(before), 'the state is unchanged')
})

t.test("after a force-unlock the old holder's write with its ?ID is fenced with 423 and stores nothing", async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  t.equal((await a.lock(newLockInfo({ Who: 'clientA' }))).response.status, 200)
  const kept = stateFile(2)
  t.equal((await a.put(kept)).status, 200)
  t.equal((await backend(address).unlock(a.lockId)).status, 200, 'force-unlock from a fresh client')
  refusal(t, await a.put(stateFile(3)), [423])
  const b = backend(address)
  t.equal((await b.lock(newLockInfo({ Who: 'clientB' }))).response.status, 200, 'another client takes the lock')
  refusal(t, await a.put(stateFile(3)), [423])
  t.equal((await revsOf(base)).length, 1, 'nothing stored')
  t.ok((await b.get()).state?.equals(kept), 'the state is the one written before the force-unlock')
})

t.test('a Content-MD5 that does not match the body is refused with 400 and changes nothing', async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  const before = stateFile(2)
  t.equal((await a.put(before)).status, 200)
  const wrongMd5 = md5Base64(Buffer.from('something else'))
  const write = await a.put(stateFile(3), { contentMd5: wrongMd5 })
  t.equal(write.status, 400)
  t.equal(JSON.parse(write.body.toString()).code, 'content-md5-mismatch')
  const lock = await a.client.lock(address, marshalLockInfo(newLockInfo()), { contentMd5: wrongMd5 })
  t.equal(lock.status, 400, 'a LOCK whose body does not match is refused too')
  t.equal(JSON.parse(lock.body.toString()).code, 'content-md5-mismatch')
  t.equal((await native(`${base}/lock`)).status, 404, 'no lock taken')
  t.equal((await revsOf(base)).length, 1, 'nothing stored')
  t.ok((await a.get()).state?.equals(before))
})

t.test('a write without Content-MD5 is accepted', async (t) => {
  const { address } = freshStack()
  const a = backend(address)
  const data = stateFile(2)
  t.equal((await a.put(data, { contentMd5: null })).status, 200)
  t.notOk(a.client.sent[0]!.toString('latin1').toLowerCase().includes('content-md5'), 'no Content-MD5 was sent')
  t.ok((await a.get()).state?.equals(data))
})

t.test('a write with another lineage is refused with 409 state-conflict naming both lineages', async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  t.equal((await a.put(stateFile(2))).status, 200)
  const problem = refusal(t, await a.put(stateFile(3, 'other-lineage')), [409])
  t.equal(problem.code, 'state-conflict')
  t.match(problem.detail, /other-lineage/, 'the detail names the refused lineage')
  t.match(problem.detail, /stub-lineage/, 'and the current one')
  t.match(problem.detail, /force=true/, 'and how to override')
  t.equal((await revsOf(base)).length, 1, 'nothing stored')
})

t.test('a write with a lower serial is refused with 409 state-conflict', async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  t.equal((await a.put(stateFile(5))).status, 200)
  const problem = refusal(t, await a.put(stateFile(4)), [409])
  t.equal(problem.code, 'state-conflict')
  t.match(problem.detail, /\b4\b/)
  t.match(problem.detail, /\b5\b/)
  t.equal(
    (await a.put(stateFile(5, 'stub-lineage', { outputs: {} }))).status,
    200,
    'the same serial with other content is not lower',
  )
  t.equal((await revsOf(base)).length, 2)
})

t.test('?force=true on the address accepts another lineage and a lower serial', async (t) => {
  const { address, native: base } = freshStack()
  t.equal((await backend(address).put(stateFile(5))).status, 200)
  const forced = backend(`${address}?force=true`)
  const otherLineage = stateFile(3, 'other-lineage')
  t.equal((await forced.put(otherLineage)).status, 200, 'another lineage, forced')
  t.ok((await backend(address).get()).state?.equals(otherLineage))
  t.equal((await forced.lock(newLockInfo())).response.status, 200, 'LOCK on the forced address')
  const lower = stateFile(1, 'other-lineage')
  t.equal((await forced.put(lower)).status, 200, 'a lower serial, forced, under the lock')
  t.ok(
    forced.client.sent
      .at(-1)!
      .toString('latin1')
      .startsWith(`POST ${address}?ID=${forced.lockId}&force=true HTTP/1.1\r\n`),
  )
  t.ok((await backend(address).get()).state?.equals(lower))
  t.equal((await revsOf(base)).length, 3)
})

t.test('an OpenTofu client-side-encrypted state is stored and returned byte-exact', async (t) => {
  const { address, native: base } = freshStack()
  const tofu = backend(address, 'opentofu')
  t.equal((await tofu.put(stateFile(2))).status, 200)
  const encrypted = Buffer.from(
    `${JSON.stringify(
      {
        serial: 3,
        lineage: 'stub-lineage',
        meta: {
          'key_provider.pbkdf2.main':
            'eyJzYWx0IjoiQUFBQSIsIml0ZXJhdGlvbnMiOjYwMDAwMCwiaGFzaF9mdW5jdGlvbiI6InNoYTUxMiIsImtleV9sZW5ndGgiOjMyfQ==',
        },
        encrypted_data: 'q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze8BI0VniavN7wEjRWeJ/w==',
        encryption_version: 'v0',
      },
      null,
      2,
    )}\n`,
  )
  t.equal((await tofu.put(encrypted)).status, 200)
  t.ok((await tofu.get()).state?.equals(encrypted), 'the encrypted document comes back byte-exact')
  const revs = await revsOf(base)
  t.ok((await native(`${base}/snapshots/${revs.at(-1)!}`)).bytes.equals(encrypted), 'and so does its rev')
})

t.test('the native routes list the Terraform history and download each rev byte-exact', async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  const written = [stateFile(1), stateFile(2), stateFile(3)]
  for (const data of written) t.equal((await a.put(data)).status, 200)
  const listed = await native(`${base}/snapshots`)
  t.equal(listed.status, 200)
  t.equal(listed.body.revs.length, 3, 'every accepted write is a rev')
  t.equal(listed.body.current, listed.body.revs[2], 'current names the latest write')
  for (const [i, rev] of (listed.body.revs as string[]).entries()) {
    const one = await native(`${base}/snapshots/${rev}`)
    t.equal(one.status, 200)
    t.ok(one.bytes.equals(written[i]!), `rev ${i + 1} is the bytes written`)
  }
})

t.test('rolling current back through the native route makes the Terraform GET return the older state', async (t) => {
  const { address, native: base } = freshStack()
  const a = backend(address)
  const older = stateFile(1)
  t.equal((await a.put(older)).status, 200)
  t.equal((await a.put(stateFile(2))).status, 200)
  const [first] = await revsOf(base)
  const rolled = await native(`${base}/current`, 'PUT', { rev: first })
  t.equal(rolled.status, 200)
  t.ok((await a.get()).state?.equals(older), 'the Terraform GET returns the older bytes')
})

t.test(
  'a stack holding a unobin snapshot answers the Terraform GET and write with 409 payload-type-mismatch',
  async (t) => {
    const { address, native: base } = freshStack()
    const written = await native(`${base}/snapshots?current=true`, 'POST', sampleSnapshot(1))
    t.equal(written.status, 201)
    const a = backend(address)
    const read = await a.client.get(address)
    t.equal(read.status, 409)
    t.equal(JSON.parse(read.body.toString()).code, 'payload-type-mismatch')
    const problem = refusal(t, await a.put(stateFile(2)), [409])
    t.equal(problem.code, 'payload-type-mismatch')
    t.equal((await revsOf(base)).length, 1, 'nothing stored')
  },
)

t.test('every LOCK, UNLOCK and DELETE success the clients see is exactly 200', async (t) => {
  for (const style of ['terraform', 'opentofu'] as const) {
    for (const gitlab of [false, true]) {
      const { address } = freshStack()
      const config = gitlab
        ? {
            lockAddress: `${address}/lock`,
            lockMethod: 'POST',
            unlockAddress: `${address}/lock`,
            unlockMethod: 'DELETE',
          }
        : {}
      const where = `${style}, ${gitlab ? 'GitLab routes' : 'LOCK/UNLOCK'}`
      const a = backend(address, style, config)
      const statuses: Array<[string, number]> = []
      const locked = await a.lock(newLockInfo())
      statuses.push(['lock', locked.response.status])
      statuses.push([
        'lock retried',
        (await a.client.send(a.config.lockMethod, a.config.lockAddress, a.jsonLockInfo!)).status,
      ])
      statuses.push(['write', (await a.put(stateFile(2))).status])
      statuses.push(['unlock', (await a.unlock(locked.id!)).status])
      statuses.push(['unlock retried', (await a.unlock(locked.id!)).status])
      const b = backend(address, style, config)
      statuses.push(['lock by B', (await b.lock(newLockInfo())).response.status])
      statuses.push(['force-unlock', (await backend(address, style, config).unlock(b.lockId)).status])
      statuses.push(['delete', (await a.delete()).status])
      statuses.push(['delete retried', (await a.delete()).status])
      for (const [step, status] of statuses) t.equal(status, 200, `${where}: ${step}`)
    }
  }
})
