/**
 * The Kubernetes manifests under deploy/ describe the image as it is: the
 * data directory, port and user the Dockerfile declares, probe routes the
 * server serves without credentials, files under the mounts that hold them,
 * and a read-only root filesystem with every path the server writes on a
 * writable mount. Changing the Dockerfile or a route without the manifests
 * fails here.
 */
import t from 'tap'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { SETTINGS } from '../src/config.js'
import { buildTestApp } from './helpers/app.js'

const repo = fileURLToPath(new URL('..', import.meta.url))
const runtime = (() => {
  const dockerfile = readFileSync(join(repo, 'Dockerfile'), 'utf8')
  return dockerfile.slice(dockerfile.indexOf('AS runtime'))
})()

/** The official node images create the user `node` with uid and gid 1000. */
const NODE_IMAGE_USERS: Record<string, number> = { node: 1000 }

/** What the runtime stage of the Dockerfile declares. */
function image(): { dataDir: string; volume: string; port: number; uid: number; workdir: string } {
  const env = /^ENV\s+((?:.*\\\n)*.*)$/m.exec(runtime)![1]!.replace(/\\\n/g, ' ')
  const user = /^USER (\S+)$/m.exec(runtime)![1]!
  return {
    dataDir: /UNOBIN_STATE_DATA_DIR=(\S+)/.exec(env)![1]!,
    volume: (JSON.parse(/^VOLUME (\[.*\])$/m.exec(runtime)![1]!) as string[])[0]!,
    port: Number(/^EXPOSE (\d+)$/m.exec(runtime)![1]),
    uid: /^\d+(:\d+)?$/.test(user) ? Number.parseInt(user, 10) : NODE_IMAGE_USERS[user]!,
    workdir: /^WORKDIR (\S+)$/m.exec(runtime)![1]!,
  }
}

// Loose shapes of the Kubernetes objects this test reads.
interface EnvVar {
  name: string
  value?: string
}
interface Mount {
  name: string
  mountPath: string
  readOnly?: boolean
  subPath?: string
}
interface Probe {
  httpGet?: { path: string; port: string | number }
  exec?: { command: string[] }
}
interface Container {
  name: string
  image: string
  env?: EnvVar[]
  ports?: Array<{ name?: string; containerPort: number }>
  startupProbe?: Probe
  readinessProbe?: Probe
  livenessProbe?: Probe
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  securityContext?: Record<string, unknown>
  volumeMounts?: Mount[]
}
interface Volume {
  name: string
  secret?: { secretName: string; items?: Array<{ key: string; path: string }> }
  persistentVolumeClaim?: { claimName: string }
  emptyDir?: object
}
interface PodSpec {
  securityContext?: Record<string, unknown>
  initContainers?: Container[]
  containers: Container[]
  volumes?: Volume[]
}
interface K8sObject {
  kind: string
  metadata: { name: string }
  spec?: {
    template?: { spec: PodSpec }
    ports?: Array<{ port: number; targetPort: string | number }>
    selector?: unknown
  }
  stringData?: Record<string, string>
}

const deployDir = join(repo, 'deploy')
const manifests = readdirSync(deployDir).filter((f) => f.endsWith('.yaml'))

/** Every object of a manifest file (fails on any YAML error or warning). */
function objectsOf(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(join(deployDir, file), 'utf8')).map((doc) => {
    if (doc.errors.length > 0 || doc.warnings.length > 0)
      throw new Error(`${file}: ${doc.errors[0] ?? doc.warnings[0]}`)
    return doc.toJS() as K8sObject
  })
}

/** The server container of a workload: the one running the server's image. */
function serverOf(spec: PodSpec): Container {
  const all = [...(spec.initContainers ?? []), ...spec.containers]
  const found = all.filter((c) => c.image.includes('unobin-state-server'))
  if (found.length !== 1) throw new Error(`expected one unobin-state-server container, found ${found.length}`)
  return found[0]!
}

/** The value of an environment variable of `c`, or the image's default. */
function envOf(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value
}

/** The mount of `c` holding `path`, if any. */
function mountOf(c: Container, path: string): Mount | undefined {
  return c.volumeMounts?.find((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`))
}

const workloads = manifests.flatMap((file) =>
  objectsOf(file)
    .filter((o) => o.kind === 'Deployment')
    .map((o) => ({ file, name: o.metadata.name, spec: o.spec!.template!.spec })),
)

t.test('every manifest parses, and there is a standalone and a sidecar workload', async (t) => {
  t.ok(manifests.includes('standalone.yaml') && manifests.includes('sidecar.yaml'), manifests.join(', '))
  for (const file of manifests) t.ok(objectsOf(file).length > 0, file)
  t.equal(workloads.length, 2)
  t.ok(existsSync(join(deployDir, 'README.md')))
})

t.test('the server containers use the image data directory, port and user, non-root and read-only', async (t) => {
  const img = image()
  t.equal(img.volume, img.dataDir, 'the Dockerfile declares its data directory as the volume')
  for (const { file, spec } of workloads) {
    const c = serverOf(spec)
    const dataDir = envOf(c, 'UNOBIN_STATE_DATA_DIR') ?? img.dataDir
    t.equal(dataDir, img.dataDir, `${file}: the data directory is the image's`)
    const data = mountOf(c, dataDir)
    t.ok(data !== undefined && data.readOnly !== true, `${file}: ${dataDir} is a writable mount`)
    const volume = spec.volumes?.find((v) => v.name === data?.name)
    t.ok(volume?.persistentVolumeClaim ?? volume?.emptyDir, `${file}: the data volume is a PVC or an emptyDir`)
    const listen = envOf(c, 'UNOBIN_STATE_LISTEN')
    t.equal(Number(listen?.split(':').at(-1)), img.port, `${file}: it listens on the image's port`)
    const api = c.ports?.find((p) => p.containerPort === img.port)
    if (listen?.startsWith('127.0.0.1:') !== true) t.ok(api, `${file}: the port is declared`)
    t.match(spec.securityContext, { runAsNonRoot: true, runAsUser: img.uid, fsGroup: img.uid }, file)
    t.match(c.securityContext, { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false }, file)
    t.ok(c.resources?.requests?.memory && c.resources?.requests?.cpu && c.resources?.limits?.memory, file)
    // Every path the server writes must be on a writable mount.
    const audit = envOf(c, 'UNOBIN_STATE_AUDIT_LOG')
    const auditPath = audit === undefined || audit === '' ? posix.join(dataDir, '.audit.jsonl') : audit
    if (audit !== 'off') {
      const mount = mountOf(c, auditPath)
      t.ok(mount !== undefined && mount.readOnly !== true, `${file}: the audit log ${auditPath} is writable`)
    }
    t.ok(mountOf(c, '/tmp'), `${file}: /tmp is a mount, so nothing needs the read-only root`)
    t.ok(
      c.volumeMounts?.every((m) => !m.mountPath.startsWith(img.workdir)),
      `${file}: nothing is mounted over the app in ${img.workdir}`,
    )
  }
})

t.test('the key file and tokens file are in the mounted Secret, without subPath so updates arrive', async (t) => {
  const secret = objectsOf('secret.example.yaml').find((o) => o.kind === 'Secret')!
  for (const { file, spec } of workloads) {
    const c = serverOf(spec)
    t.equal(envOf(c, 'UNOBIN_STATE_ENCRYPTION'), 'key-file', `${file}: the key comes from a file`)
    for (const variable of ['UNOBIN_STATE_KEY_FILE', 'UNOBIN_STATE_TOKENS_FILE']) {
      const path = envOf(c, variable)
      if (path === undefined) continue
      const mount = mountOf(c, path)
      t.ok(mount?.readOnly, `${file}: ${variable} ${path} is on a read-only mount`)
      t.equal(mount?.subPath, undefined, `${file}: ${variable} is not a subPath mount`)
      const volume = spec.volumes?.find((v) => v.name === mount?.name)
      t.equal(volume?.secret?.secretName, secret.metadata.name, `${file}: ${variable} comes from the Secret`)
      const item = volume?.secret?.items?.find((i) => posix.join(mount!.mountPath, i.path) === path)
      t.ok(item && Object.hasOwn(secret.stringData ?? {}, item.key), `${file}: ${path} is an item of the Secret`)
    }
  }
  t.ok(
    workloads.some(({ spec }) => envOf(serverOf(spec), 'UNOBIN_STATE_TOKENS_FILE') !== undefined),
    'the standalone server has a tokens file (it listens beyond loopback)',
  )
})

t.test('every probe asks a public route of the server, by HTTP or by the image probe command', async (t) => {
  const { app, routes } = await buildTestApp(t)
  const img = image()
  const healthcheck = join(repo, 'src/tools/healthcheck.ts')
  for (const { file, spec } of workloads) {
    const c = serverOf(spec)
    for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      const probe = c[kind]
      t.ok(probe, `${file}: ${kind}`)
      let path: string
      if (probe?.httpGet !== undefined) {
        path = probe.httpGet.path
        const port = probe.httpGet.port
        const number = typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort
        t.equal(number, img.port, `${file}: ${kind} probes the API port`)
        t.notOk(envOf(c, 'UNOBIN_STATE_LISTEN')?.startsWith('127.'), `${file}: an HTTP probe needs a pod address`)
      } else {
        const [node, script, arg] = probe!.exec!.command
        t.equal(node, 'node')
        t.equal(script, 'dist/src/tools/healthcheck.js', `${file}: the image's probe command`)
        t.ok(existsSync(healthcheck), 'it is built from src/tools/healthcheck.ts')
        t.ok(existsSync(join(dirname(healthcheck), '../server.ts')), 'beside the server, in dist/src')
        path = arg ?? '/healthz'
        t.match(readFileSync(healthcheck, 'utf8'), `'${path}'`, `${file}: the probe command knows ${path}`)
      }
      t.ok(
        routes.some((r) => r.method === 'GET' && r.url === path && r.permission === 'public'),
        `${file}: ${kind} ${path} is a public GET route`,
      )
      t.equal((await app.inject({ method: 'GET', url: path })).statusCode, 200, `${file}: ${path} answers 200`)
    }
    t.equal(c.livenessProbe?.httpGet?.path ?? c.livenessProbe?.exec?.command[2], '/healthz', 'liveness: /healthz')
    t.equal(c.readinessProbe?.httpGet?.path ?? c.readinessProbe?.exec?.command[2], '/readyz', 'readiness: /readyz')
  }
})

t.test('the Service and the Terraform addresses reach what the server serves', async (t) => {
  const { routes } = await buildTestApp(t)
  const img = image()
  const service = objectsOf('standalone.yaml').find((o) => o.kind === 'Service')!
  const standalone = workloads.find((w) => w.file === 'standalone.yaml')!
  const port = service.spec!.ports![0]!
  t.equal(
    serverOf(standalone.spec).ports?.find((p) => p.name === port.targetPort)?.containerPort,
    img.port,
    'the Service targets the API port',
  )
  const sidecar = workloads.find((w) => w.file === 'sidecar.yaml')!
  const listen = envOf(serverOf(sidecar.spec), 'UNOBIN_STATE_LISTEN')!
  const tool = sidecar.spec.containers.find((c) => !c.image.includes('unobin-state-server'))!
  const addresses = (tool.env ?? []).filter((e) => /^TF_HTTP_(UN)?(LOCK_)?ADDRESS$/.test(e.name))
  t.equal(addresses.length, 3)
  const method = (name: string) =>
    name === 'TF_HTTP_ADDRESS'
      ? 'GET'
      : (envOf(tool, name.replace('ADDRESS', 'METHOD')) ?? (name.includes('UNLOCK') ? 'UNLOCK' : 'LOCK'))
  for (const e of addresses) {
    const url = new URL(e.value!)
    t.equal(url.host, listen, `${e.name} is the sidecar's address`)
    const matches = routes.some(
      (r) => r.method === method(e.name) && new RegExp(`^${r.url.replace(/:\w+/g, '[^/]+')}$`).test(url.pathname),
    )
    t.ok(matches, `${e.name}: ${method(e.name)} ${url.pathname} is a route`)
  }
})

t.test('the settings the manifests set exist', async (t) => {
  const known = new Set(SETTINGS.map((s) => s.env))
  for (const { file, spec } of workloads) {
    for (const e of serverOf(spec).env ?? []) t.ok(known.has(e.name), `${file}: ${e.name} is a setting`)
  }
})
