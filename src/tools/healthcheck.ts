/**
 * The container HEALTHCHECK: GET /healthz on the address the server listens
 * on (UNOBIN_STATE_LISTEN, as the server reads it); exit 0 when healthy.
 * A wildcard listen address is probed on loopback. With the argument
 * `/readyz` it probes readiness instead (a sidecar listening on loopback
 * cannot be probed over the pod's address, so Kubernetes runs this).
 */
import { parseListen } from '../config.js'

const { host, port } = parseListen(process.env.UNOBIN_STATE_LISTEN ?? '127.0.0.1:8080')
const path = process.argv[2] === '/readyz' ? '/readyz' : '/healthz'
const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host
try {
  const res = await fetch(`http://${target}:${port}${path}`, { signal: AbortSignal.timeout(3000) })
  if (!res.ok) process.stderr.write(`${path} answered ${res.status}: ${(await res.text()).slice(0, 500)}\n`)
  process.exit(res.ok ? 0 : 1)
} catch (err) {
  process.stderr.write(`${path} unreachable at ${target}:${port}: ${(err as Error).cause ?? (err as Error).message}\n`)
  process.exit(1)
}
