/**
 * A Server-Sent Events client over a real socket for the events tests: it
 * parses `event:`/`data:` blocks and comment lines as they arrive, and lets
 * a test wait (with a deadline, never a fixed sleep) for the next event of
 * a type.
 */
import { type ClientRequest, type IncomingMessage, request } from 'node:http'

/** One received event. */
export interface SseEvent {
  readonly type: string
  readonly data: Record<string, unknown>
}

/** An open stream. */
export interface SseStream {
  readonly status: number
  readonly headers: IncomingMessage['headers']
  /** Every event received so far, in order. */
  readonly events: SseEvent[]
  /** Comment lines received so far (heartbeats). */
  readonly comments: string[]
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>
  /** The first event of `type` after the `from`-th event (default: any not yet taken by `next`). */
  next(type: string, timeoutMs?: number): Promise<SseEvent>
  /** Waits until `predicate` holds for the received data. */
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>
  close(): void
}

/** Opens `url` (http://host:port/path) as an event stream; rejects when the answer is not 200. */
export function openEvents(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req: ClientRequest = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      if (res.statusCode !== 200) {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () =>
          reject(
            Object.assign(new Error(`events answered ${res.statusCode}: ${body}`), { status: res.statusCode, body }),
          ),
        )
        return
      }
      const events: SseEvent[] = []
      const comments: string[] = []
      const waiters = new Set<() => void>()
      let taken = 0
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, at)
          buffer = buffer.slice(at + 2)
          let type = 'message'
          let data = ''
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim())
            else if (line.startsWith('event: ')) type = line.slice(7)
            else if (line.startsWith('data: ')) data += line.slice(6)
          }
          if (data !== '') events.push({ type, data: JSON.parse(data) as Record<string, unknown> })
        }
        for (const w of [...waiters]) w()
      })
      const ended = new Promise<void>((done) => {
        res.on('end', () => done())
        res.on('close', () => done())
      })
      const until = (predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> =>
        new Promise((ok, fail) => {
          if (predicate()) return ok()
          const check = () => {
            if (!predicate()) return
            clearTimeout(timer)
            waiters.delete(check)
            ok()
          }
          const timer = setTimeout(() => {
            waiters.delete(check)
            fail(new Error(`timed out waiting for ${what}; got ${JSON.stringify(events.map((e) => e.type))}`))
          }, timeoutMs)
          waiters.add(check)
        })
      const next = async (type: string, timeoutMs?: number): Promise<SseEvent> => {
        let found = -1
        await until(
          () => {
            found = events.findIndex((e, i) => i >= taken && e.type === type)
            return found >= 0
          },
          `event ${type}`,
          timeoutMs,
        )
        taken = found + 1
        return events[found]!
      }
      resolve({
        status: res.statusCode,
        headers: res.headers,
        events,
        comments,
        ended,
        next,
        until,
        close: () => req.destroy(),
      })
    })
    req.on('error', reject)
    req.end()
  })
}
