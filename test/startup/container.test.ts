/** Container detection (injected probes) and the warning for a loopback address inside one. */
import t from 'tap'
import { type ContainerProbe, detectContainer, loopbackInContainerWarning } from '../../src/startup/container.js'

/** A machine described by its files and environment. */
function machine(files: Record<string, string>, env: NodeJS.ProcessEnv = {}): ContainerProbe {
  return { exists: (p) => p in files, read: (p) => files[p], env }
}

t.test("a container is recognised by its runtime's marks", async (t) => {
  t.equal(detectContainer(machine({ '/.dockerenv': '' })), '/.dockerenv')
  t.equal(detectContainer(machine({ '/run/.containerenv': '' })), '/run/.containerenv')
  t.equal(detectContainer(machine({}, { container: 'podman' })), 'container=podman')
  t.equal(detectContainer(machine({}, { KUBERNETES_SERVICE_HOST: '10.0.0.1' })), 'KUBERNETES_SERVICE_HOST')
  t.equal(
    detectContainer(machine({ '/proc/1/cgroup': '0::/kubepods/besteffort/pod1/abc\n' })),
    '/proc/1/cgroup (kubepods)',
  )
})

t.test('a plain host is not a container', async (t) => {
  t.equal(detectContainer(machine({ '/proc/1/cgroup': '0::/init.scope\n' })), null)
  t.equal(detectContainer(machine({})), null)
})

t.test('the warning names the address, the evidence and the fix', async (t) => {
  const text = loopbackInContainerWarning('127.0.0.1:8080', '/.dockerenv')
  t.match(text, /^listening on 127\.0\.0\.1:8080 inside a container \(\/\.dockerenv\)/)
  t.match(text, /UNOBIN_STATE_LISTEN=0\.0\.0\.0:8080/)
})
