/**
 * The running server changes credentials without a restart: SIGHUP reloads
 * the tokens file, and so does a Kubernetes-style swap of the mounted
 * Secret. Real processes, real HTTP requests; every wait has a deadline.
 */
import t from 'tap'
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { newToken, tokensFileText } from '../helpers/auth.js'
import { startServer } from '../helpers/server-process.js'
import { waitFor } from '../helpers/wait.js'

const grants = [{ scope: '*/*', allow: ['read'] }]

/** The HTTP status of GET /v1/whoami with `token`. */
async function statusWith(url: string, token: string): Promise<number> {
  const res = await fetch(`${url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } })
  await res.arrayBuffer()
  return res.status
}

t.test('SIGHUP reloads the tokens file: a revoked token gets 401 and a bad file keeps the old set', async (t) => {
  const [a, b, c] = [newToken(), newToken(), newToken()]
  // The file lives outside the directory of the path the server is given, so
  // only SIGHUP (not the directory watch) can make the server see an edit.
  const dir = t.testdir({ real: { 'tokens.yaml': tokensFileText([{ name: 'alice', token: a, grants }]) }, etc: {} })
  const real = join(dir, 'real', 'tokens.yaml')
  symlinkSync(real, join(dir, 'etc', 'tokens.yaml'))
  const server = await startServer(['--data-dir', join(dir, 'data'), '--tokens-file', join(dir, 'etc', 'tokens.yaml')])
  t.teardown(() => server.stop('SIGKILL'))
  t.equal(await statusWith(server.url, a), 200)

  writeFileSync(real, tokensFileText([{ name: 'bob', token: b, grants }]))
  server.child.kill('SIGHUP')
  const reloaded = await waitFor(
    () => server.lines.find((l) => l.includes('credentials reloaded')),
    30_000,
    'the reload line',
  )
  t.match(JSON.parse(reloaded), { level: 30, trigger: 'SIGHUP', credentials: { tokens: 1 } })
  t.equal(await statusWith(server.url, a), 401, 'the revoked token is refused')
  t.equal(await statusWith(server.url, b), 200, 'the new token is accepted')

  writeFileSync(real, `tokens:\n  - name: carol\n    hash: ${c}\n    grants: [{scope: "*/*", allow: [read]}]\n`)
  server.child.kill('SIGHUP')
  const refused = await waitFor(
    () => server.lines.find((l) => l.includes('was not reloaded')),
    30_000,
    'the refusal line',
  )
  t.match(JSON.parse(refused), {
    level: 50,
    trigger: 'SIGHUP',
    reason: /tokens.yaml: tokens\[0\] "carol": hash is not a token hash/,
    credentials: { tokens: 1 },
  })
  t.notMatch(server.lines.join('\n'), c, 'the plaintext in the bad file is not logged')
  t.equal(await statusWith(server.url, b), 200, 'the set loaded before stays in force')
  t.equal(await statusWith(server.url, c), 401)
  t.equal(await server.stop('SIGTERM'), 0, 'SIGHUP did not end the process; SIGTERM stops it cleanly')
})

t.test('a mounted Secret swapped by its ..data symlink is reloaded without a signal', async (t) => {
  const [a, b] = [newToken(), newToken()]
  const dir = t.testdir({
    secret: { '..v1': { 'tokens.yaml': tokensFileText([{ name: 'alice', token: a, grants }]) } },
  })
  const secret = join(dir, 'secret')
  symlinkSync('..v1', join(secret, '..data'))
  symlinkSync('..data/tokens.yaml', join(secret, 'tokens.yaml'))
  const server = await startServer(['--data-dir', join(dir, 'data'), '--tokens-file', join(secret, 'tokens.yaml')])
  t.teardown(() => server.stop('SIGKILL'))
  t.equal(await statusWith(server.url, a), 200)
  mkdirSync(join(secret, '..v2'))
  writeFileSync(join(secret, '..v2', 'tokens.yaml'), tokensFileText([{ name: 'bob', token: b, grants }]))
  symlinkSync('..v2', join(secret, '..data_tmp'))
  renameSync(join(secret, '..data_tmp'), join(secret, '..data'))
  await waitFor(
    () => server.lines.some((l) => l.includes('credentials reloaded') && l.includes('"trigger":"file change"')),
    30_000,
    'the reload after the swap',
  )
  t.equal(await statusWith(server.url, a), 401)
  t.equal(await statusWith(server.url, b), 200)
})
