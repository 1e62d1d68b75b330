/**
 * Runs a command-line tool of a dev dependency (the OpenAPI linter, the
 * client generator, the compiler) as a child process with this Node, the
 * way a developer or CI runs it, and collects what it printed.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root (tools run from there, so they find its configuration). */
export const REPO = fileURLToPath(new URL('../../', import.meta.url))

/** What a finished tool left behind. */
export interface ToolRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The script of `bin` in package `pkg` (resolved from the repository's node_modules). */
export function packageBin(pkg: string, bin: string): string {
  const manifest = createRequire(join(REPO, 'package.json')).resolve(`${pkg}/package.json`)
  const bins = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: Record<string, string> | string }).bin
  const path = typeof bins === 'string' ? bins : bins?.[bin]
  if (path === undefined) throw new Error(`${pkg} has no bin ${bin}`)
  return join(dirname(manifest), path)
}

/**
 * Runs `bin` of `pkg` with `args` in `cwd` (the repository by default) and
 * waits for it to exit. tap's coverage and loader hooks are left out of the
 * child's environment: the tool is not under test, and they slow it down.
 */
export function runBin(
  pkg: string,
  bin: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ToolRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [packageBin(pkg, bin), ...args], {
      cwd: options.cwd ?? REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    child.once('error', reject)
    child.once('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    )
  })
}
