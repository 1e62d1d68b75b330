/**
 * Signals and crashes end the real process as documented: a second
 * SIGTERM during the graceful shutdown exits at once, an uncaught
 * exception is logged and exits 1.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import { join } from 'node:path'
import { SERVER_JS, startServer } from '../helpers/server-process.js'
import { waitFor } from '../helpers/wait.js'

t.test('a second SIGTERM during the graceful shutdown exits at once with 143', async (t) => {
  const server = await startServer(['--data-dir', t.testdir()])
  t.teardown(() => server.stop('SIGKILL'))
  // An upload that never finishes keeps the graceful shutdown waiting.
  const { port } = new URL(server.url)
  const socket = connect(Number(port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  await once(socket, 'connect')
  // Expect: 100-continue makes the server say when it has parsed the headers: only then is the upload in flight.
  socket.write(
    'POST /v1/factories/f1/stacks/s1/snapshots HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\nexpect: 100-continue\r\n\r\n',
  )
  let heard = ''
  socket.on('data', (chunk: Buffer) => {
    heard += chunk.toString('latin1')
  })
  await waitFor(() => heard.includes('100 Continue'), 30_000, 'the server to answer 100 Continue')
  await new Promise<void>((resolve) => socket.write('{"a"', () => resolve()))
  server.child.kill('SIGTERM')
  await waitFor(() => server.lines.some((l) => l.includes('shutting down')), 30_000, 'the server to log shutting down')
  t.equal(server.child.exitCode, null, 'the first SIGTERM waits for the upload')
  const [code] = (
    await Promise.all([once(server.child, 'exit'), Promise.resolve(server.child.kill('SIGTERM'))])
  )[0] as [number | null]
  t.equal(code, 143)
  t.ok(
    server.lines.some((l) => l.includes('second signal during shutdown')),
    'it says why it exits',
  )
})

t.test('an uncaught exception is logged and exits 1', async (t) => {
  // The preload throws from a signal handler: an exception nobody catches, in the running server.
  const dir = t.testdir({ 'crash.mjs': 'process.on("SIGUSR2", () => { throw new Error("injected crash") })\n' })
  const child = spawn(
    process.execPath,
    ['--import', join(dir, 'crash.mjs'), SERVER_JS, '--listen', '127.0.0.1:0', '--data-dir', dir],
    { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  t.teardown(() => child.kill('SIGKILL'))
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      if (stdout.includes('Server listening at')) resolve()
    })
  })
  const closed = once(child, 'close')
  child.kill('SIGUSR2')
  const [code] = (await closed) as [number | null]
  t.equal(code, 1)
  t.match(stdout, /"level":60.*"msg":"uncaught exception: exiting"/)
  t.match(stderr, /uncaught exception: injected crash/)
})
