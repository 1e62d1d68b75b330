/**
 * The running server wires --audit-reads and --audit-fsync: a download by
 * a real HTTP client is an audit line, and it is in the file when SIGTERM's
 * graceful shutdown has ended (the shutdown fsyncs what the interval has
 * not yet). Real process, real files.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { terraformState } from '../helpers/auth.js'
import { startServer } from '../helpers/server-process.js'

t.test('a download is an audit line, on disk once the graceful shutdown has ended', async (t) => {
  const dir = t.testdir()
  const audit = join(dir, 'audit.jsonl')
  // An fsync interval longer than the test: only the shutdown can flush it.
  const server = await startServer(['--data-dir', join(dir, 'data'), '--audit-log', audit, '--audit-fsync', '1h'], {
    UNOBIN_STATE_AUDIT_READS: 'true',
  })
  t.teardown(() => server.stop('SIGKILL'))
  const stack = `${server.url}/v1/factories/f1/stacks/s1`
  const write = await fetch(`${stack}/terraform`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: terraformState(1),
  })
  t.equal(write.status, 200, await write.text())
  const read = await fetch(`${stack}/current`, { headers: { 'x-request-id': 'job-7' } })
  await read.arrayBuffer()
  t.equal(read.status, 200)
  t.equal(await server.stop('SIGTERM'), 0)
  const events = readFileSync(audit, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match(
    events.map((e) => e.action),
    ['terraform.write', 'snapshot.read'],
  )
  t.match(events[1], {
    action: 'snapshot.read',
    principal: 'anonymous',
    factory: 'f1',
    stack: 's1',
    rev: read.headers.get('unobin-rev'),
    remote: '127.0.0.1',
    requestId: 'job-7',
  })
})
