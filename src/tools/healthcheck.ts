/**
 * The container HEALTHCHECK: GET /healthz on the address the server listens
 * on (UNOBIN_STATE_LISTEN, as the server reads it); exit 0 when healthy.
 * A wildcard listen address is probed on loopback; with a TLS certificate
 * configured (UNOBIN_STATE_TLS_CERT) it speaks HTTPS without checking the
 * certificate (it probes its own container). With the argument `/readyz`
 * it probes readiness instead (a sidecar listening on loopback cannot be
 * probed over the pod's address, so Kubernetes runs this).
 *
 * It uses `node:http`, not global `fetch`: a probe runs every few seconds,
 * and loading undici costs about twice the memory and CPU per probe.
 */
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { parseListen } from '../config.js'

const { host, port } = parseListen(process.env.UNOBIN_STATE_LISTEN ?? '127.0.0.1:8080')
const path = process.argv[2] === '/readyz' ? '/readyz' : '/healthz'
const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
const tls = (process.env.UNOBIN_STATE_TLS_CERT ?? '') !== ''
const shown = `${tls ? 'https' : 'http'}://${target.includes(':') ? `[${target}]` : target}:${port}${path}`

const req = (tls ? httpsRequest : httpRequest)(
  { host: target, port, path, method: 'GET', timeout: 3000, rejectUnauthorized: false, agent: false },
  (res) => {
    let body = ''
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      if (body.length < 500) body += chunk
    })
    res.on('end', () => {
      const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300
      if (!ok) process.stderr.write(`${shown} answered ${res.statusCode}: ${body.slice(0, 500)}\n`)
      process.exit(ok ? 0 : 1)
    })
  },
)
req.on('timeout', () => req.destroy(new Error('no answer within 3 s')))
req.on('error', (err: NodeJS.ErrnoException) => {
  process.stderr.write(`${shown} unreachable: ${err.code ?? err.message}\n`)
  process.exit(1)
})
req.end()
