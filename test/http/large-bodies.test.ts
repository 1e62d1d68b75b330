/**
 * Large bodies over real sockets: a pathological write (tens of millions of
 * empty objects) does not stop the server answering other requests while it
 * is examined (off the main thread), and large bodies beyond --max-large-bodies are refused at once
 * with 503 server-busy and Retry-After, before their bytes are read.
 */
import { type ClientRequest, type IncomingMessage, request } from 'node:http'
import t from 'tap'
import { LARGE_BODY_BYTES } from '../../src/http/large-bodies.js'
import { buildTestApp, stackUrl } from '../helpers/app.js'

/** A valid unobin snapshot of about `bytes` bytes. */
function largeSnapshot(bytes: number): Buffer {
  const doc = {
    'format-version': 1,
    entries: [
      { address: 'a.b', 'entry-kind': 'leaf', category: 'resource', binding: { alias: 'x', kind: 'y' }, outputs: {} },
    ],
    outputs: { pad: 'p'.repeat(bytes) },
  }
  return Buffer.from(JSON.stringify(doc))
}

/** Starts a POST of `length` declared bytes; the caller writes the body. */
function startPost(
  base: string,
  path: string,
  length: number,
  headers: Record<string, string> = {},
): { req: ClientRequest; response: Promise<{ res: IncomingMessage; body: string }> } {
  const req = request(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(length), ...headers },
  })
  const response = new Promise<{ res: IncomingMessage; body: string }>((resolve, reject) => {
    req.once('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        body += d
      })
      res.once('end', () => resolve({ res, body }))
      res.once('error', reject)
    })
    req.once('error', reject)
  })
  return { req, response }
}

t.test(
  'health probes are answered while a 60 MB write of empty objects is examined, and the write is refused',
  async (t) => {
    const { app } = await buildTestApp(t, { bodyLimitBytes: 128 * 1024 * 1024 })
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    const count = 20_000_000
    const body = Buffer.from(`{"format-version":1,"entries":[${'{},'.repeat(count - 1)}{}]}`)
    const write = startPost(base, `${stackUrl('f1', 'huge')}/snapshots`, body.length)
    let answered = false
    const written = write.response.then((r) => {
      answered = true
      return r
    })
    await new Promise<void>((resolve, reject) => write.req.end(body, () => resolve()).once('error', reject))
    // The body is handed to the kernel: the server reads its tail and parses it. Probe until the write is answered.
    let probesBefore = 0
    const statuses = new Set<number>()
    while (!answered) {
      const res = await fetch(`${base}/healthz`)
      statuses.add(res.status)
      await res.arrayBuffer()
      if (!answered) probesBefore++
    }
    t.same([...statuses], [200], 'every probe answered 200')
    const { res, body: problem } = await written
    // 40 million values: refused by their count before any parse, so the process never holds them.
    t.equal(res.statusCode, 413)
    t.match(JSON.parse(problem), { code: 'body-too-large', detail: /JSON values/ })
    // A blocked loop answers at most one probe that slipped in before the work began; these came while it ran.
    t.ok(probesBefore >= 2, `health probes answered during the write: ${probesBefore}`)
  },
)

t.test(
  'a large body beyond --max-large-bodies answers 503 server-busy with Retry-After before it is read',
  async (t) => {
    const { app } = await buildTestApp(t, { maxLargeBodies: 1 })
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    const url = `${stackUrl('f1', 'big')}/snapshots`
    const first = largeSnapshot(LARGE_BODY_BYTES + 1024)
    const holding = startPost(base, url, first.length, { expect: '100-continue' })
    // 100 Continue: the server has taken the request's headers, and its place with them.
    await new Promise<void>((resolve) => holding.req.once('continue', () => resolve()))
    holding.req.write(first.subarray(0, 1024))

    const refused = startPost(base, url, first.length)
    refused.req.flushHeaders()
    const { res, body } = await refused.response
    refused.req.destroy()
    t.equal(res.statusCode, 503)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.ok(Number(res.headers['retry-after']) > 0, 'Retry-After says when to come back')
    t.match(JSON.parse(body), { code: 'server-busy', detail: /--max-large-bodies/ })

    // A small body is not counted: it passes while the large one holds the place.
    const small = await fetch(`${base}${url}`, { method: 'POST', body: largeSnapshot(10) })
    t.equal(small.status, 201)
    await small.arrayBuffer()

    holding.req.end(first.subarray(1024))
    t.equal((await holding.response).res.statusCode, 201)
    // The place is free again once the first is answered.
    const again = await fetch(`${base}${url}`, { method: 'POST', body: first })
    t.equal(again.status, 201)
    await again.arrayBuffer()
  },
)
