/**
 * Start-up failures of the real process are one line on stderr naming the
 * cause and the setting, with the documented exit code; signals and crashes
 * end the process as documented.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SERVER_JS, startServer } from '../helpers/server-process.js'

const TLS = fileURLToPath(new URL('../auth/fixtures/tls/', import.meta.url))

/** Runs the server to its exit with `args` and `env`; stdin gets `input`. */
async function runToExit(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [SERVER_JS, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  child.stdin.end(input)
  const [code] = (await once(child, 'close')) as [number | null]
  return { code, stdout, stderr }
}

/** The stderr lines of a run. */
const lines = (text: string) => text.split('\n').filter((l) => l !== '')

t.test('an address in use is one line naming --listen, exit 3', async (t) => {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const port = (blocker.address() as { port: number }).port
  const run = await runToExit(['--listen', `127.0.0.1:${port}`, '--data-dir', t.testdir()])
  t.equal(run.code, 3)
  t.strictSame(lines(run.stderr), [
    `unobin-state-server: cannot start: --listen 127.0.0.1:${port}: the address is in use (EADDRINUSE): another process listens there; stop it or choose another port`,
  ])
  t.notMatch(run.stdout, /"level":60|stack/, 'no fatal line with a stack trace')
})

t.test('a TLS key that does not belong to the certificate is one line naming --tls-key, exit 2', async (t) => {
  const dir = t.testdir()
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' })
  writeFileSync(join(dir, 'other.key'), other)
  const run = await runToExit([
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    dir,
    '--tls-cert',
    join(TLS, 'cert.pem'),
    '--tls-key',
    join(dir, 'other.key'),
  ])
  t.equal(run.code, 2)
  t.equal(lines(run.stderr).length, 1)
  t.match(
    run.stderr,
    /^unobin-state-server: cannot start: --tls-key .*other\.key is not the private key of --tls-cert .*cert\.pem/,
  )
  const garbage = await runToExit(['--listen', '127.0.0.1:0', '--data-dir', dir, '--tls-cert', join(TLS, 'cert.pem')], {
    UNOBIN_STATE_TLS_KEY: join(TLS, 'cert.pem'),
  })
  t.equal(garbage.code, 2)
  t.match(
    garbage.stderr,
    /^unobin-state-server: cannot start: UNOBIN_STATE_TLS_KEY \(environment; --tls-key overrides it\) .* is not a usable PEM private key\n$/,
  )
})

t.test('an unreadable key file is one line naming --key-file, exit 2', async (t) => {
  const dir = t.testdir()
  const run = await runToExit([
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    dir,
    '--encryption',
    'key-file',
    '--key-file',
    join(dir, 'absent.key'),
  ])
  t.equal(run.code, 2)
  t.strictSame(lines(run.stderr), [
    `unobin-state-server: cannot start: --key-file: key file ${join(dir, 'absent.key')} cannot be read: ENOENT`,
  ])
})

t.test('a bad value says whether it came from the flag or the environment variable, exit 2', async (t) => {
  const flag = await runToExit(['--max-wait', 'forever'])
  t.equal(flag.code, 2)
  t.strictSame(lines(flag.stderr), [
    'unobin-state-server: cannot start: --max-wait must be a whole number from 0 to 3600, got "forever"',
  ])
  const env = await runToExit([], { UNOBIN_STATE_MAX_WAIT: 'forever' })
  t.equal(env.code, 2)
  t.strictSame(lines(env.stderr), [
    'unobin-state-server: cannot start: UNOBIN_STATE_MAX_WAIT (environment; --max-wait overrides it) must be a whole number from 0 to 3600, got "forever"',
  ])
})

t.test('a data directory that cannot be written is said loudly at start, and readiness fails', async (t) => {
  const dir = t.testdir({ 'plain-file': 'not a directory' })
  const server = await startServer(['--data-dir', join(dir, 'plain-file', 'data')])
  t.teardown(() => server.stop('SIGKILL'))
  const entries = server.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  const line = entries.find((e) => e.level === 50)
  t.match(line, { errno: 'ENOTDIR', msg: /^THE DATA DIRECTORY .* IS NOT WRITABLE \(ENOTDIR\)/ })
  t.match(
    line,
    { foldsCase: true, msg: /names are compared ignoring case/ },
    'the case-folding probe failed too: said here',
  )
  t.same(
    entries.filter((e) => e.level === 40 && /case/.test(String(e.msg))),
    [],
    'no second warning for the same cause',
  )
  t.equal((await fetch(`${server.url}/readyz`)).status, 503)
  t.equal(await server.stop('SIGTERM'), 0)
})

t.test('hash-token prints the tokens file line for a token on stdin', async (t) => {
  const run = await runToExit(['hash-token'], {}, 'abc\n')
  t.equal(run.code, 0)
  t.equal(run.stdout, 'hash: sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n')
  const empty = await runToExit(['hash-token'], {}, '')
  t.equal(empty.code, 2)
  const arg = await runToExit(['hash-token', 'secret-on-the-command-line'])
  t.equal(arg.code, 2)
  t.match(arg.stderr, /read on stdin/)
  const help = await runToExit(['hash-token', '--help'])
  t.match(help.stdout, /^Usage: unobin-state-server hash-token/)
})
