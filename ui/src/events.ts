/**
 * Server-Sent Events read with fetch() and a stream reader, not EventSource:
 * EventSource cannot send an Authorization header, and a token in the URL
 * would end up in logs and history. The stream is parsed as the SSE format
 * says (event/data/id fields, a blank line ends an event, comments are
 * heartbeats) and reopened after a pause when it ends or fails, until
 * stopped. A 401 sends the page back to sign-in and stops.
 */
import { ApiError, call } from './api.js'

/** One event of the stream. */
export interface ServerEvent {
  readonly event: string
  readonly data: string
  readonly id: string | null
}

export interface StreamHandlers {
  /** Every event (not heartbeats). */
  readonly onEvent: (event: ServerEvent) => void
  /** Whether the stream is open now; after a reconnect the caller should re-read what it shows. */
  readonly onState?: (open: boolean) => void
}

/** Follows `path` until the returned function is called. */
export function followEvents(path: string, handlers: StreamHandlers): () => void {
  const stop = new AbortController()
  void (async () => {
    let pause = 500
    while (!stop.signal.aborted) {
      try {
        const res = await call(path, { accept: 'text/event-stream', signal: stop.signal })
        handlers.onState?.(true)
        pause = 500
        await readStream(res, handlers.onEvent, stop.signal)
      } catch (err) {
        if (stop.signal.aborted) return
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          handlers.onState?.(false)
          return
        }
      }
      if (stop.signal.aborted) return
      handlers.onState?.(false)
      await new Promise((resolve) => setTimeout(resolve, pause))
      pause = Math.min(pause * 2, 10_000)
    }
  })()
  return () => stop.abort()
}

async function readStream(res: Response, onEvent: (e: ServerEvent) => void, signal: AbortSignal): Promise<void> {
  if (res.body === null) return
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  signal.addEventListener('abort', () => void reader.cancel().catch(() => {}), { once: true })
  let buffer = ''
  let event = 'message'
  let data: string[] = []
  let id: string | null = null
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    for (let nl = buffer.search(/\r\n|\r|\n/); nl >= 0; nl = buffer.search(/\r\n|\r|\n/)) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1))
      if (line === '') {
        if (data.length > 0) onEvent({ event, data: data.join('\n'), id })
        event = 'message'
        data = []
        continue
      }
      if (line.startsWith(':')) continue // a comment: the server's heartbeat
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'event') event = text
      else if (field === 'data') data.push(text)
      else if (field === 'id') id = text
    }
  }
}
