import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { builtEntry } from './built.js'

/** The compiled server entry point (`npm test` compiles before tap runs; a stale one is refused, see built.ts). */
export const SERVER_JS = builtEntry('dist/src/server.js')

/** A server started as a real process on an ephemeral port. */
export interface ServerProcess {
  readonly child: ChildProcess
  readonly url: string
  /** Every stdout line (pino JSON) seen so far. */
  readonly lines: string[]
  /** Sends `signal` and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/**
 * Starts `dist/src/server.js` with `args` and `env`, listening on 127.0.0.1
 * port 0, and resolves once it logs its address.
 */
export async function startServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [SERVER_JS, '--listen', '127.0.0.1:0', ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = ''
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString()
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        lines.push(line)
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)
        if (m) resolve(m[1]!)
      }
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening: ${stderr}`)))
  })
  return {
    child,
    url,
    lines,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill(signal)
      const [code] = (await once(child, 'exit')) as [number | null]
      return code
    },
  }
}
