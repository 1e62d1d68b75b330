/** The package version, read from the nearest package.json (works from src/ and from dist/src/). */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The version of unobin-state-server. */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'package.json')
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'unobin-state-server' && typeof pkg.version === 'string') return pkg.version
    }
    dir = dirname(dir)
  }
  return '0.0.0'
}
