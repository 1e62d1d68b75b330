/**
 * `unobin-state history` shows who wrote each rev (the server's history
 * metadata), and "(another tool)" for a rev the server did not write.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { runClient } from '../helpers/client-process.js'
import { startServer } from '../helpers/server-process.js'
import { makeRoot, sampleSnapshot } from '../helpers/store.js'

const base = t.testdir()
const data = join(base, 'data')
// A rev the server did not write (as the Go tool leaves one): no metadata.
const root = makeRoot(data)
const foreign = (await root.stack('hist', 'mixed').write(sampleSnapshot('go', 'mixed'), { payloadType: 'state' })).rev
root.close()
const server = await startServer(['--data-dir', data, '--encryption', 'noop'])
t.teardown(() => server.stop())
const env = { UNOBIN_STATE_URL: server.url }
const file = join(base, 'snap.json')
const body = sampleSnapshot('pushed', 'mixed')
writeFileSync(file, body)

t.test('history names the writer, kind and size of each rev, and (another tool) for a foreign one', async (t) => {
  const pushed = await runClient(t, ['--json', 'push', 'hist/mixed', file, '--current'], env)
  t.equal(pushed.code, 0, pushed.stderr)
  const rev = (JSON.parse(pushed.stdout) as { rev: string }).rev
  const table = await runClient(t, ['history', 'hist/mixed'], env)
  t.equal(table.code, 0, table.stderr)
  const lines = table.stdout.trimEnd().split('\n')
  t.match(lines[0], /^\s+REV\s+WRITTEN\s+BY\s+LOCK\s+KIND\s+SIZE$/)
  t.match(lines[1], new RegExp(`^\\s+${foreign}\\s.*\\(another tool\\)\\s+-\\s+-\\s+-$`))
  t.match(lines[2], new RegExp(`^\\*\\s+${rev}\\s.*anonymous\\s+-\\s+unobin\\s+${body.length}$`))
  const json = await runClient(t, ['--json', 'history', 'hist/mixed'], env)
  const parsed = JSON.parse(json.stdout) as { history: Array<{ rev: string; metadata: null | { kind: string } }> }
  t.same(
    parsed.history.map((e) => [e.rev, e.metadata?.kind ?? null]),
    [
      [foreign, null],
      [rev, 'unobin'],
    ],
  )
})
