/**
 * The tokens file reloads without a restart: on request, and when its
 * directory changes (an edit, a rename over it, the `..data` symlink swap of
 * a mounted Kubernetes Secret). A bad file keeps the credentials loaded
 * before. Real files in a tap testdir; the watch is real (inotify here).
 */
import t from 'tap'
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CredentialsReloader, type ReloadLog } from '../../src/auth/credentials-reloader.js'
import { TokensFileError } from '../../src/auth/tokens-file.js'
import { newToken, tokensFileText } from '../helpers/auth.js'
import { waitFor } from '../helpers/wait.js'

/** Records what the reloader logs, as the JSON a pino line would carry. */
class RecordingLog implements ReloadLog {
  readonly lines: Array<{ level: string; facts: Record<string, unknown>; message: string }> = []
  info(facts: object, message: string): void {
    this.lines.push({ level: 'info', facts: facts as Record<string, unknown>, message })
  }
  warn(facts: object, message: string): void {
    this.lines.push({ level: 'warn', facts: facts as Record<string, unknown>, message })
  }
  error(facts: object, message: string): void {
    this.lines.push({ level: 'error', facts: facts as Record<string, unknown>, message })
  }
  text(): string {
    return this.lines.map((l) => `${l.message} ${JSON.stringify(l.facts)}`).join('\n')
  }
}

const grants = [{ scope: '*/*', allow: ['read'] }]

/** Whether `token` authenticates now (and as whom). */
async function principalOf(reloader: CredentialsReloader, token: string): Promise<string | null> {
  try {
    return (await reloader.authenticate(token)).principal
  } catch {
    return null
  }
}

t.test(
  'a reload on request swaps the credentials: a revoked token is refused from the next authentication',
  async (t) => {
    const [a, b] = [newToken(), newToken()]
    const dir = t.testdir({ 'tokens.yaml': tokensFileText([{ name: 'alice', token: a, grants }]) })
    const log = new RecordingLog()
    const reloader = CredentialsReloader.open(join(dir, 'tokens.yaml'), log)
    t.equal(await principalOf(reloader, a), 'alice')
    writeFileSync(join(dir, 'tokens.yaml'), tokensFileText([{ name: 'bob', token: b, grants }]))
    t.equal(await principalOf(reloader, a), 'alice', 'nothing changes before the reload')
    t.equal(await reloader.reload('SIGHUP'), 'reloaded')
    t.equal(await principalOf(reloader, a), null, 'the revoked token is refused')
    t.equal(await principalOf(reloader, b), 'bob')
    t.match(log.lines.at(-1), {
      level: 'info',
      facts: { trigger: 'SIGHUP', tokensFile: join(dir, 'tokens.yaml'), credentials: { tokens: 1 } },
      message: /credentials reloaded: 1 tokens/,
    })
  },
)

t.test('an invalid file keeps the credentials loaded before, and the log says why without any token', async (t) => {
  const a = newToken()
  const plaintext = newToken()
  const dir = t.testdir({ 'tokens.yaml': tokensFileText([{ name: 'alice', token: a, grants }]) })
  const file = join(dir, 'tokens.yaml')
  const log = new RecordingLog()
  const reloader = CredentialsReloader.open(file, log)
  writeFileSync(file, `tokens:\n  - name: ci\n    token: ${plaintext}\n    grants: [{scope: "*/*", allow: [read]}]\n`)
  t.equal(await reloader.reload('SIGHUP'), 'refused')
  t.equal(await principalOf(reloader, a), 'alice', 'the old token still works')
  t.equal(await principalOf(reloader, plaintext), null)
  t.match(log.lines.at(-1), {
    level: 'error',
    facts: { trigger: 'SIGHUP', tokensFile: file, credentials: { tokens: 1 } },
    message:
      /was not reloaded: .*tokens.yaml: tokens\[0\] "ci": plaintext tokens are refused.*1 tokens .* stay in force/,
  })
  t.notMatch(log.text(), plaintext, 'the plaintext is never logged')
})

t.test('a YAML error in a reloaded file is logged with its line and column', async (t) => {
  const a = newToken()
  const dir = t.testdir({ 'tokens.yaml': tokensFileText([{ name: 'alice', token: a, grants }]) })
  const file = join(dir, 'tokens.yaml')
  const log = new RecordingLog()
  const reloader = CredentialsReloader.open(file, log)
  writeFileSync(file, 'tokens:\n  - name: a\n    name: b\n')
  t.equal(await reloader.reload('SIGHUP'), 'refused')
  t.match(log.lines.at(-1)?.facts.reason, `${file}:3:5: not valid YAML or JSON`)
})

t.test('a file that disappeared keeps the credentials loaded before', async (t) => {
  const a = newToken()
  const dir = t.testdir({ 'tokens.yaml': tokensFileText([{ name: 'alice', token: a, grants }]) })
  const log = new RecordingLog()
  const reloader = CredentialsReloader.open(join(dir, 'tokens.yaml'), log)
  rmSync(join(dir, 'tokens.yaml'))
  t.equal(await reloader.reload('SIGHUP'), 'refused')
  t.equal(await principalOf(reloader, a), 'alice')
  t.match(log.lines.at(-1)?.message, /cannot read the tokens file .*ENOENT/)
})

t.test('a file that is bad at start is refused with TokensFileError', async (t) => {
  const dir = t.testdir({ 'tokens.yaml': 'tokens: []\n' })
  t.throws(() => CredentialsReloader.open(join(dir, 'tokens.yaml'), new RecordingLog()), TokensFileError)
  t.throws(() => CredentialsReloader.open(join(dir, 'missing.yaml'), new RecordingLog()), {
    name: 'TokensFileError',
    message: /missing.yaml: ENOENT/,
  })
})

t.test('a change event without a content change reloads nothing and logs nothing', async (t) => {
  const dir = t.testdir({ 'tokens.yaml': tokensFileText([{ name: 'alice', token: newToken(), grants }]) })
  const log = new RecordingLog()
  const reloader = CredentialsReloader.open(join(dir, 'tokens.yaml'), log)
  t.equal(await reloader.reload('file change'), 'unchanged')
  t.same(log.lines, [])
})

t.test('the watch reloads a file edited in place', async (t) => {
  const [a, b] = [newToken(), newToken()]
  const dir = t.testdir({ 'tokens.yaml': tokensFileText([{ name: 'alice', token: a, grants }]) })
  const log = new RecordingLog()
  const reloader = CredentialsReloader.open(join(dir, 'tokens.yaml'), log)
  t.teardown(() => reloader.close())
  reloader.watch({ debounceMs: 20 })
  writeFileSync(join(dir, 'tokens.yaml'), tokensFileText([{ name: 'bob', token: b, grants }]))
  await waitFor(async () => (await principalOf(reloader, b)) === 'bob', 20_000, 'the edited file to be loaded')
  t.equal(await principalOf(reloader, a), null)
  t.match(log.lines.at(-1), { level: 'info', facts: { trigger: 'file change' } })
})

t.test('the watch reloads a file replaced by a rename over it', async (t) => {
  const [a, b] = [newToken(), newToken()]
  const dir = t.testdir({ 'tokens.yaml': tokensFileText([{ name: 'alice', token: a, grants }]) })
  const reloader = CredentialsReloader.open(join(dir, 'tokens.yaml'), new RecordingLog())
  t.teardown(() => reloader.close())
  reloader.watch({ debounceMs: 20 })
  writeFileSync(join(dir, '.tokens.yaml.tmp'), tokensFileText([{ name: 'bob', token: b, grants }]))
  renameSync(join(dir, '.tokens.yaml.tmp'), join(dir, 'tokens.yaml'))
  await waitFor(async () => (await principalOf(reloader, b)) === 'bob', 20_000, 'the new file to be loaded')
  t.equal(await principalOf(reloader, a), null)
})

t.test('the watch follows the ..data symlink swap of a mounted Kubernetes Secret', async (t) => {
  const [a, b] = [newToken(), newToken()]
  // The layout kubelet writes: tokens.yaml -> ..data/tokens.yaml, ..data -> ..<timestamp>/
  const dir = t.testdir({
    '..2026_12_07_05_00_00.000000001': { 'tokens.yaml': tokensFileText([{ name: 'alice', token: a, grants }]) },
  })
  symlinkSync('..2026_12_07_05_00_00.000000001', join(dir, '..data'))
  symlinkSync('..data/tokens.yaml', join(dir, 'tokens.yaml'))
  const log = new RecordingLog()
  const reloader = CredentialsReloader.open(join(dir, 'tokens.yaml'), log)
  t.teardown(() => reloader.close())
  reloader.watch({ debounceMs: 20 })
  // An update: a new timestamped directory, a ..data_tmp link to it renamed over ..data, the old directory removed.
  mkdirSync(join(dir, '..2026_12_07_05_01_00.000000002'))
  writeFileSync(
    join(dir, '..2026_12_07_05_01_00.000000002', 'tokens.yaml'),
    tokensFileText([{ name: 'bob', token: b, grants }]),
  )
  symlinkSync('..2026_12_07_05_01_00.000000002', join(dir, '..data_tmp'))
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
  rmSync(join(dir, '..2026_12_07_05_00_00.000000001'), { recursive: true })
  await waitFor(async () => (await principalOf(reloader, b)) === 'bob', 20_000, 'the swapped Secret to be loaded')
  t.equal(await principalOf(reloader, a), null, 'the token of the old Secret is refused')
  t.equal(log.lines.filter((l) => l.level === 'error').length, 0, 'no half-swapped state was reported')
})

t.test('a directory that cannot be watched is polled instead', async (t) => {
  const [a, b] = [newToken(), newToken()]
  const root = t.testdir({ secret: { 'tokens.yaml': tokensFileText([{ name: 'alice', token: a, grants }]) } })
  const dir = join(root, 'secret')
  const log = new RecordingLog()
  const reloader = CredentialsReloader.open(join(dir, 'tokens.yaml'), log)
  t.teardown(() => reloader.close())
  rmSync(dir, { recursive: true })
  reloader.watch({ debounceMs: 20, pollMs: 20 })
  t.match(log.lines[0], { level: 'warn', facts: { errno: 'ENOENT' }, message: /cannot watch .* re-read every 20 ms/ })
  await waitFor(() => log.lines.some((l) => l.level === 'error'), 20_000, 'the missing file to be reported')
  mkdirSync(dir)
  writeFileSync(join(dir, 'tokens.yaml'), tokensFileText([{ name: 'bob', token: b, grants }]))
  await waitFor(async () => (await principalOf(reloader, b)) === 'bob', 20_000, 'the polled file to be loaded')
  t.equal(log.lines.filter((l) => l.level === 'error').length, 1, 'the same refusal is logged once, not every poll')
})
