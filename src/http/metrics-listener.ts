/**
 * The separate metrics listener (--metrics-listen): a bare HTTP server that
 * answers `GET /metrics` and nothing else, without credentials, so the API
 * need not be exposed to the monitoring network nor the scraper hold a token.
 * It shares the app's registry, so both listeners report the same values.
 */
import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { StoreCatalog } from '../store/store.js'
import type { Metrics } from './metrics.js'

/** A running metrics listener. */
export interface MetricsListener {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string
  /** Stops accepting and closes open connections. */
  close(): Promise<void>
}

/** Starts serving `metrics` on `host`:`port` (port 0 picks a free one). */
export async function listenMetrics(
  metrics: Metrics,
  root: StoreCatalog,
  host: string,
  port: number,
  onError: (err: unknown) => void = () => {},
): Promise<MetricsListener> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('only GET /metrics is served here\n')
      return
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('use GET\n')
      return
    }
    metrics.render(root).then(
      (text) =>
        response
          .writeHead(200, { 'content-type': metrics.contentType })
          .end(request.method === 'HEAD' ? undefined : text),
      (err: unknown) => {
        onError(err)
        response
          .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
          .end('metrics unavailable; see the server log\n')
      },
    )
  })
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return {
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
