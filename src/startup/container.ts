/**
 * Whether the process runs in a container, to warn at start when it listens
 * on loopback there: the image's default (127.0.0.1:8080) serves the other
 * containers of a pod, but a plain `docker run -p 8080:8080` reaches
 * nothing, and a user meets that before reading the docs.
 */
import { existsSync, readFileSync } from 'node:fs'

/** What the detection reads; injected in tests. */
export interface ContainerProbe {
  exists(path: string): boolean
  read(path: string): string | undefined
  readonly env: NodeJS.ProcessEnv
}

/** The real machine. */
export const SYSTEM_PROBE: ContainerProbe = {
  exists: (path) => existsSync(path),
  read: (path) => {
    try {
      return readFileSync(path, 'utf8')
    } catch {
      return undefined
    }
  },
  env: process.env,
}

/**
 * The evidence that this is a container, or null: Docker's `/.dockerenv`,
 * Podman's `/run/.containerenv`, the `container` variable (systemd's
 * convention, set by Podman, LXC and systemd-nspawn), Kubernetes' service
 * variables, or a container runtime in PID 1's cgroup.
 */
export function detectContainer(probe: ContainerProbe = SYSTEM_PROBE): string | null {
  if (probe.exists('/.dockerenv')) return '/.dockerenv'
  if (probe.exists('/run/.containerenv')) return '/run/.containerenv'
  if ((probe.env.container ?? '') !== '') return `container=${probe.env.container}`
  if ((probe.env.KUBERNETES_SERVICE_HOST ?? '') !== '') return 'KUBERNETES_SERVICE_HOST'
  const cgroup = probe.read('/proc/1/cgroup') ?? ''
  const runtime = /\b(docker|kubepods|containerd|libpod|lxc)\b/.exec(cgroup)
  return runtime === null ? null : `/proc/1/cgroup (${runtime[1]})`
}

/** The start-up warning for a loopback address inside a container. */
export function loopbackInContainerWarning(address: string, evidence: string): string {
  return `listening on ${address} inside a container (${evidence}): only this container (and its pod) can connect; a published port (docker run -p) reaches nothing. To serve other hosts, set UNOBIN_STATE_LISTEN=0.0.0.0:8080 with --tokens-file (or --allow-unauthenticated on a trusted network)`
}
