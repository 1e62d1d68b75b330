/**
 * Writes `openapi.yaml` at the repository root from the route schemas
 * (`npm run openapi`). A test fails when the committed file differs from
 * what the server serves, so run this after changing a route.
 */
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../app.js'
import { NullAuditLog } from '../audit.js'
import { SystemClock } from '../clock.js'
import { NoopEncrypter } from '../crypto/noop.js'
import { createLogger } from '../logger.js'
import { StoreRoot } from '../store/store-root.js'
import { packageVersion } from '../version.js'

/** The OpenAPI document the server serves, as YAML. Touches no files. */
export async function renderOpenapi(): Promise<string> {
  const root = new StoreRoot({
    root: join(tmpdir(), 'unobin-openapi-unused'),
    encrypter: new NoopEncrypter(),
    clock: new SystemClock(),
    identity: { pid: 0, host: 'openapi' },
  })
  const { app } = await buildApp({
    config: { requireLock: false, maxWaitSeconds: 60, bodyLimitBytes: 1024 },
    root,
    audit: new NullAuditLog(),
    logger: createLogger('silent'),
    version: packageVersion(),
  })
  await app.ready()
  const yaml = app.swagger({ yaml: true })
  await app.close()
  return yaml
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = fileURLToPath(new URL('../../../openapi.yaml', import.meta.url))
  writeFileSync(target, await renderOpenapi())
  process.stdout.write(`wrote ${target}\n`)
}
