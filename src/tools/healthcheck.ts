/**
 * The container HEALTHCHECK: GET /healthz on the address the server listens
 * on (UNOBIN_STATE_LISTEN, as the server reads it); exit 0 when healthy.
 * A wildcard listen address is probed on loopback.
 */
import { parseListen } from '../config.js'

const { host, port } = parseListen(process.env.UNOBIN_STATE_LISTEN ?? '127.0.0.1:8080')
const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host
try {
  const res = await fetch(`http://${target}:${port}/healthz`, { signal: AbortSignal.timeout(3000) })
  if (!res.ok) process.stderr.write(`healthz answered ${res.status}\n`)
  process.exit(res.ok ? 0 : 1)
} catch (err) {
  process.stderr.write(`healthz unreachable at ${target}:${port}: ${(err as Error).cause ?? (err as Error).message}\n`)
  process.exit(1)
}
