/**
 * The processes a benchmark drives: a target (bench/target.ts: the real
 * server, bare Fastify, or the server with credentials) started from a built
 * checkout, stopped, asked for its event-loop delay, its CPU time and memory
 * read from /proc, and loaded by autocannon from a process of its own.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const repo = fileURLToPath(new URL('../..', import.meta.url))

export interface Target {
  url: string
  child: ChildProcess
}

/** Starts a target in `mode` (see bench/target.ts) from `targetJs`, this checkout's by default; resolves once it listens. */
export async function startTarget(
  mode: 'app' | 'bare' | 'auth',
  dataDir = '',
  targetJs = join(here, 'target.js'),
): Promise<Target> {
  const child = spawn(process.execPath, [targetJs, mode, dataDir], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    let buf = ''
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const m = /listening (\S+)/.exec(buf)
      if (m) resolve(m[1]!)
    })
    child.once('exit', (code) => reject(new Error(`target ${mode} exited ${code}`)))
  })
  return { url, child }
}

/**
 * Milliseconds from exec to listening of the server as users run it (`dist/src/server.js`,
 * the bundle `npm run bench` builds), over `dataDir`; the median of `runs` starts.
 */
export async function serverStartMs(dataDir: string, runs = 5): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const child = spawn(
      process.execPath,
      [join(here, '..', 'src', 'server.js'), '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--log-level', 'info'],
      {
        env: { PATH: process.env.PATH, UNOBIN_STATE_KEY: Buffer.alloc(32, 3).toString('base64') },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    await new Promise<void>((resolve, reject) => {
      let buf = ''
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString()
        if (buf.includes('Server listening at')) resolve()
      })
      child.once('exit', (code) => reject(new Error(`server exited ${code} before listening`)))
    })
    times.push(performance.now() - t0)
    await stop({ url: '', child })
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!
}

/** Milliseconds from exec to listening of bare Fastify (the floor: Node's own start and Fastify's load); median of `runs`. */
export async function bareStartMs(runs = 5): Promise<number> {
  const bare =
    "import Fastify from 'fastify'; const app = Fastify(); app.get('/', async () => ({})); " +
    "process.stdout.write('listening ' + (await app.listen({ host: '127.0.0.1', port: 0 })) + '\\n')"
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const child = spawn(process.execPath, ['--input-type=module', '-e', bare], {
      cwd: join(here, '..', '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('listening')) resolve()
      })
      child.once('exit', (code) => reject(new Error(`bare Fastify exited ${code} before listening`)))
    })
    times.push(performance.now() - t0)
    await stop({ url: '', child })
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!
}

export function stop(target: Target): Promise<void> {
  return new Promise((resolve) => {
    target.child.once('exit', () => resolve())
    target.child.kill('SIGTERM')
  })
}

/** The longest event-loop delay (ms) of a target since the previous call. */
export function loopDelayMs(target: Target): Promise<number> {
  return new Promise((resolve) => {
    target.child.once('message', (m: { maxMs: number }) => resolve(m.maxMs))
    target.child.send('loop-delay')
  })
}

/** CPU time (user + system, ms) a process has used so far. */
export async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
}

/** A load of POSTs: the body's file and the connections (GETs over 10 connections when absent). */
export interface PostLoad {
  readonly bodyFile: string
  readonly connections: number
}

/** autocannon in a process of its own for `seconds`: GETs over 10 connections, or `post`; the rate, and the server's CPU per request (µs). */
export async function externalCannon(
  url: string,
  server: Target,
  seconds: number,
  post?: PostLoad,
): Promise<{ rps: number; cpuUs: number }> {
  const load =
    post === undefined
      ? ['-c', '10']
      : ['-c', String(post.connections), '-m', 'POST', '-i', post.bodyFile, '-H', 'content-type=application/json']
  const run = async (duration: number) => {
    const child = spawn(
      process.execPath,
      [join(repo, 'node_modules', 'autocannon', 'autocannon.js'), ...load, '-d', String(duration), '-j', url],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    await new Promise((resolve) => child.once('exit', resolve))
    return JSON.parse(out) as { requests: { total: number }; duration: number; non2xx: number }
  }
  await run(1) // warm-up
  const c0 = await cpuMs(server.child.pid!)
  const result = await run(seconds)
  const c1 = await cpuMs(server.child.pid!)
  if (result.non2xx > 0) process.stdout.write(`  (${url}: ${result.non2xx} non-2xx)\n`)
  // Requests over the run's own duration: autocannon's `requests.average` is a mean of whole one-second samples,
  // which quantised a run of a fixed request count (20,000 in 1 or 2 samples: 20,000 or 10,000 req/s).
  return { rps: result.requests.total / result.duration, cpuUs: ((c1 - c0) * 1000) / result.requests.total }
}

export async function rssPeakKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
}

export async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
}
