/**
 * Request bodies over real sockets, as the server reads them itself (src/http/body.ts):
 * with a Content-Length (into one buffer as the bytes arrive) or chunked,
 * byte-exact either way; over the limit 413 whether announced or not; a
 * client that goes away half-way leaves nothing behind.
 */
import { type IncomingMessage, request } from 'node:http'
import t from 'tap'
import { buildTestApp, stackUrl } from '../helpers/app.js'

/** A valid unobin snapshot of about `bytes` bytes. */
function snapshot(bytes: number, marker: string): Buffer {
  const doc = {
    'format-version': 1,
    entries: [{ address: 'a.b', 'entry-kind': 'leaf', category: 'resource', binding: { alias: 'x', kind: 'y' } }],
    outputs: { marker, pad: 'p'.repeat(bytes) },
  }
  return Buffer.from(JSON.stringify(doc))
}

interface Answer {
  readonly status: number
  readonly body: string
}

/** POSTs `body` in `pieces` writes, each after the previous one drained; chunked when `length` is undefined. */
function post(base: string, path: string, body: Buffer, pieces: number, length?: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (length !== undefined) headers['content-length'] = String(length)
    const req = request(`${base}${path}`, { method: 'POST', headers })
    req.once('response', (res: IncomingMessage) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        text += d
      })
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.once('error', reject)
    const size = Math.ceil(body.length / pieces)
    let at = 0
    const next = () => {
      if (at >= body.length) {
        req.end()
        return
      }
      const piece = body.subarray(at, at + size)
      at += size
      if (req.write(piece)) setImmediate(next)
      else req.once('drain', next)
    }
    next()
  })
}

async function revsOf(base: string, stack: string): Promise<string[]> {
  const list = await fetch(`${base}${stackUrl('f1', stack)}/snapshots`)
  return ((await list.json()) as { revs: string[] }).revs
}

t.test('a large body with a Content-Length, sent in many pieces, is stored byte-exact', async (t) => {
  const { app } = await buildTestApp(t)
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const body = snapshot(6 * 1024 * 1024, 'announced')
  const answer = await post(base, `${stackUrl('f1', 's1')}/snapshots`, body, 97, body.length)
  t.equal(answer.status, 201, answer.body)
  const { rev } = JSON.parse(answer.body) as { rev: string }
  const back = Buffer.from(await (await fetch(`${base}${stackUrl('f1', 's1')}/snapshots/${rev}`)).arrayBuffer())
  t.ok(back.equals(body), 'read back byte-exact')
})

t.test('a chunked body (no Content-Length) is stored byte-exact', async (t) => {
  const { app } = await buildTestApp(t)
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  for (const size of [100, 5 * 1024 * 1024]) {
    const body = snapshot(size, `chunked-${size}`)
    const answer = await post(base, `${stackUrl('f1', 's2')}/snapshots`, body, 13)
    t.equal(answer.status, 201, answer.body)
    const { rev } = JSON.parse(answer.body) as { rev: string }
    const back = Buffer.from(await (await fetch(`${base}${stackUrl('f1', 's2')}/snapshots/${rev}`)).arrayBuffer())
    t.ok(back.equals(body), `${body.length} bytes read back byte-exact`)
  }
  // A control body (a lock request) sent chunked is parsed as JSON as usual.
  const lock = await post(base, `${stackUrl('f1', 's2')}/lock`, Buffer.from('{"who":"chunky","operation":"x"}'), 3)
  t.equal(lock.status, 201, lock.body)
  t.match(JSON.parse(lock.body), { who: 'chunky' })
})

t.test('a body over the limit is 413, announced or not, and stores nothing', async (t) => {
  const { app } = await buildTestApp(t, { bodyLimitBytes: 1024 * 1024 })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const body = snapshot(2 * 1024 * 1024, 'too-large')
  for (const length of [body.length, undefined]) {
    const answer = await post(base, `${stackUrl('f1', 's3')}/snapshots`, body, 40, length)
    t.equal(answer.status, 413, `Content-Length ${length ?? 'absent'}`)
    t.match(JSON.parse(answer.body), { code: 'body-too-large' })
  }
  t.same(await revsOf(base, 's3'), [], 'no rev stored')
  // Just under the limit is stored.
  const fits = snapshot(1024 * 1024 - 400, 'fits')
  t.equal((await post(base, `${stackUrl('f1', 's3')}/snapshots`, fits, 7, fits.length)).status, 201)
})

t.test('a client that goes away half-way through its body leaves nothing behind', async (t) => {
  const { app } = await buildTestApp(t)
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const body = snapshot(4 * 1024 * 1024, 'abandoned')
  const req = request(`${base}${stackUrl('f1', 's4')}/snapshots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
  })
  const closed = new Promise<void>((resolve) => req.once('close', () => resolve()))
  req.once('error', () => {})
  req.write(body.subarray(0, body.length / 2), () => req.destroy())
  await closed
  // The server goes on answering, and the abandoned write stored nothing.
  t.same(await revsOf(base, 's4'), [], 'no rev stored')
  const whole = snapshot(100, 'after')
  t.equal((await post(base, `${stackUrl('f1', 's4')}/snapshots`, whole, 1, whole.length)).status, 201)
  t.equal((await revsOf(base, 's4')).length, 1, 'only the whole write is stored')
})
