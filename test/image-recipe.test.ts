// Proves the Dockerfile's recipe without a Docker engine: the runtime stage's
// install command (read from the Dockerfile) in a fresh folder with the
// compiled server, the image's environment and entrypoint, an unprivileged
// user, a read-only app folder, the HEALTHCHECK command, and SIGTERM.
import t from 'tap'
import { type SpawnOptions, spawn } from 'node:child_process'
import { once } from 'node:events'
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('..', import.meta.url))
const dockerfile = readFileSync(join(repo, 'Dockerfile'), 'utf8')
const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'))

/** The JSON-array form of a Dockerfile instruction in the runtime stage. */
function execForm(instruction: string): string[] {
  const m = new RegExp(`^${instruction}\\s+(?:--\\S+\\s+)*(?:CMD\\s+)?(\\[.*\\])\\s*$`, 'm').exec(runtime)
  if (m === null) throw new Error(`no exec-form ${instruction} in the runtime stage`)
  return JSON.parse(m[1]!) as string[]
}

/** The runtime stage's ENV instruction as a map. */
function imageEnv(): Record<string, string> {
  const m = /^ENV\s+((?:.*\\\n)*.*)$/m.exec(runtime)!
  return Object.fromEntries([...m[1]!.replace(/\\\n/g, ' ').matchAll(/(\w+)=(\S+)/g)].map((x) => [x[1]!, x[2]!]))
}

/**
 * Starts a command with exactly `env`, through `env -i`: tap instruments the
 * children it sees (NODE_OPTIONS), which an unprivileged process could not
 * record, and the image would not have either.
 */
function spawnClean(cmd: string, args: string[], env: Record<string, string>, options: SpawnOptions) {
  return spawn('env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), cmd, ...args], {
    ...options,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

function run(
  cmd: string,
  args: string[],
  options: SpawnOptions & { env: Record<string, string> },
): Promise<{ code: number | null; out: string }> {
  const child = spawnClean(cmd, args, options.env, options)
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, out }))
}

t.test(
  'the image recipe installs production dependencies only, runs non-root from a read-only folder, answers its health check and stops cleanly on SIGTERM',
  async (t) => {
    const install = /^RUN (npm ci --omit=dev[^&\n]*)/m.exec(runtime)
    t.ok(install, 'the runtime stage installs with npm ci --omit=dev')
    t.match(
      runtime,
      /^USER 1000:1000$/m,
      'the image runs as a non-root user, named by number (runAsNonRoot can check it)',
    )
    t.match(runtime, /^VOLUME \["\/data"\]$/m, 'the data volume is declared')
    const entrypoint = execForm('ENTRYPOINT')
    const healthcheck = execForm('HEALTHCHECK')

    const app = mkdtempSync(join(tmpdir(), 'unobin-image-'))
    t.teardown(() => {
      chmodSync(app, 0o755)
      rmSync(app, { recursive: true, force: true })
    })
    chmodSync(app, 0o755)
    for (const f of ['package.json', 'package-lock.json', 'openapi.yaml']) cpSync(join(repo, f), join(app, f))
    // What the runtime stage copies from the build stage.
    for (const m of runtime.matchAll(/^COPY --from=build \/app\/(\S+) \.\/(\S+)$/gm))
      cpSync(join(repo, m[1]!), join(app, m[2]!), { recursive: true })
    t.ok(existsSync(join(app, 'dist', 'ui', 'index.html')), 'the image ships the console page')
    const args = install![1]!.split(/\s+/).slice(1)
    const installed = await run('npm', [...args, '--prefer-offline'], {
      cwd: app,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', NODE_ENV: 'production' },
    })
    t.equal(installed.code, 0, installed.out)
    t.ok(existsSync(join(app, 'node_modules', 'fastify')), 'runtime dependencies are installed')
    t.notOk(existsSync(join(app, 'node_modules', 'tap')), 'tap (a dev dependency) is not installed')
    t.notOk(existsSync(join(app, 'node_modules', 'typescript')), 'typescript (a dev dependency) is not installed')

    // The app folder becomes read-only, as in an image layer; only /data is writable.
    const data = join(app, '..', `${app.split('/').pop()}-data`)
    mkdirSync(data)
    t.teardown(() => rmSync(data, { recursive: true, force: true }))
    const asRoot = process.getuid?.() === 0
    const user = asRoot ? { uid: 65534, gid: 65534 } : {}
    if (asRoot) chownSync(data, 65534, 65534)
    await run('chmod', ['-R', 'a-w', app], { env: { PATH: process.env.PATH ?? '' } })
    t.equal(statSync(join(app, 'dist', 'src', 'server.js')).mode & 0o222, 0, 'the app folder is read-only')

    const env: Record<string, string> = {
      ...imageEnv(),
      PATH: process.env.PATH ?? '',
      UNOBIN_STATE_DATA_DIR: data,
      UNOBIN_STATE_LISTEN: '127.0.0.1:0',
      UNOBIN_STATE_KEY: Buffer.alloc(32, 7).toString('base64'),
    }
    t.equal(env.UNOBIN_STATE_ENCRYPTION, 'env-key', 'the image seals with a key by default')
    const server = spawnClean(entrypoint[0]!, entrypoint.slice(1), env, { cwd: app, ...user })
    t.teardown(() => {
      if (server.exitCode === null) server.kill('SIGKILL')
    })
    let log = ''
    const url = await new Promise<string>((resolve, reject) => {
      server.stdout!.on('data', (d: Buffer) => {
        log += d.toString()
        const m = /Server listening at (http:\/\/127\.0\.0\.1:(\d+))/.exec(log)
        if (m) resolve(m[1]!)
      })
      server.stderr!.on('data', (d: Buffer) => (log += d.toString()))
      server.once('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)))
    })
    const port = new URL(url).port
    const health = await run(healthcheck[0]!, healthcheck.slice(1), {
      cwd: app,
      env: { ...env, UNOBIN_STATE_LISTEN: `127.0.0.1:${port}` },
      ...user,
    })
    t.equal(health.code, 0, `the HEALTHCHECK command passes: ${health.out}`)

    const page = await fetch(`${url}/ui/`)
    t.equal(page.status, 200, 'the image serves the console at /ui/')
    const script = /src="(assets\/[^"]+\.js)"/.exec(await page.text())
    t.ok(script, 'the page names its script')
    t.equal((await fetch(`${url}/ui/${script![1]}`)).status, 200, "the image serves the console's script")

    const snapshot = readFileSync(
      join(repo, 'test/fixtures/unobin/noop/plaintext/cluster-deploy/dev/2026-07-10T12:00:00Z.json'),
    )
    const write = await fetch(`${url}/v1/factories/f/stacks/s/snapshots?current=true`, {
      method: 'POST',
      body: snapshot,
      headers: { 'content-type': 'application/json' },
    })
    t.equal(write.status, 201, 'the unprivileged server writes to the data volume')
    const read = await fetch(`${url}/v1/factories/f/stacks/s/current`)
    t.same(Buffer.from(await read.arrayBuffer()), snapshot)
    if (asRoot) t.equal(statSync(join(data, 'f', 's', 'current')).uid, 65534, 'files belong to the unprivileged user')
    const client = await run('node', ['dist/src/client/main.js', '--server', url, '--json', 'history', 'f/s'], {
      cwd: app,
      env: { PATH: process.env.PATH ?? '' },
      ...user,
    })
    t.equal(client.code, 0, `the image ships the client, which runs on production dependencies: ${client.out}`)
    t.match(client.out, /"current": "\d{4}-/)

    server.kill('SIGTERM')
    const [code] = await once(server, 'exit')
    t.equal(code, 0, 'SIGTERM stops the server with exit code 0')
    const afterStop = await run(healthcheck[0]!, healthcheck.slice(1), {
      cwd: app,
      env: { ...env, UNOBIN_STATE_LISTEN: `127.0.0.1:${port}` },
    })
    t.equal(afterStop.code, 1, 'the HEALTHCHECK fails once the server is gone')
  },
)

t.test('the image builds on an exact release of a maintained Node LTS line and carries OCI labels', async (t) => {
  const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!)
  t.ok(bases.length >= 2, 'build and runtime stages')
  for (const base of bases)
    t.match(
      base,
      /^node:(22|24)\.\d+\.\d+-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$/,
      `${base} is pinned to an exact 22 or 24 slim release`,
    )
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
    version: string
    license: string
    engines: { node: string }
  }
  const labels = Object.fromEntries(
    [...runtime.matchAll(/(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
  )
  t.equal(labels['org.opencontainers.image.version'], pkg.version, 'the version label is the package version')
  t.equal(labels['org.opencontainers.image.licenses'], pkg.license)
  t.equal(labels['org.opencontainers.image.base.name'], `docker.io/library/${bases[bases.length - 1]!.split('@')[0]}`)
  t.ok(labels['org.opencontainers.image.title'] && labels['org.opencontainers.image.description'])
  const major = /^node:(\d+)/.exec(bases[bases.length - 1]!)![1]!
  t.match(pkg.engines.node, new RegExp(`>=${major}|\\^${major}\\.`), "engines admits the image's Node line")
  t.match(pkg.engines.node, /\^20\.19\.0/, 'and the Node 20.19 these machines run')
})

t.test('the HEALTHCHECK command uses node:http, not global fetch (half the memory and CPU per probe)', async (t) => {
  const probe = readFileSync(join(repo, 'src/tools/healthcheck.ts'), 'utf8')
  t.match(probe, /from 'node:http'/)
  t.notMatch(probe, /\bfetch\(/)
})

t.test('the build stage copies every file npm run build reads, and runs it', async (t) => {
  const build = dockerfile.slice(0, dockerfile.indexOf('AS runtime'))
  t.match(build, /^RUN npm run build$/m, 'the build stage runs npm run build')
  const copied = [...build.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/))
  const script = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { scripts: { build: string } })
    .scripts.build
  // The files and projects the build's commands name: `-p <project>` and `node <file>`.
  const inputs = [...script.matchAll(/(?:-p|node) (\S+)/g)].map((m) => m[1]!)
  t.ok(inputs.length >= 3, `the build names its inputs: ${inputs.join(', ')}`)
  for (const input of inputs)
    t.ok(
      copied.some((c) => input === c || input.startsWith(`${c.replace(/\/$/, '')}/`)),
      `${input} is copied into the build stage`,
    )
})
