/** The tokens file: hashes as sha256sum prints them, the README's examples, JSON and YAML, errors that name the file and the entry, plaintext refused without repeating it. */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { hashToken } from '../../src/auth/token-hash.js'
import { TokensFileError, loadTokensFile, parseTokensFile } from '../../src/auth/tokens-file.js'
import { newToken } from '../helpers/auth.js'

const HASH = hashToken('x')

/** The message of the TokensFileError that parsing `text` throws. */
function parseError(text: string): string {
  try {
    parseTokensFile(text, '/etc/unobin/tokens.yaml')
  } catch (err) {
    if (err instanceof TokensFileError) return err.message
    throw err
  }
  throw new Error('parsing succeeded')
}

t.test('a token hash is sha256: and the hex digest of the token, as sha256sum prints it', async (t) => {
  t.equal(hashToken('abc'), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})

/** The first fenced block of `lang` after `marker` in the README. */
function readmeBlock(marker: string, lang: string): string {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')
  const at = readme.indexOf(marker)
  if (at < 0) throw new Error(`README has no ${marker}`)
  return new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(readme.slice(at))![1]!
}

t.test("the README's way to hash a token gives the hash the server computes", async (t) => {
  const hashLine = readmeBlock('<!-- readme-token-hash', 'sh')
    .split('\n')
    .find((l) => l.includes('sha256sum'))!
  const token = newToken()
  const run = spawnSync('bash', ['-euo', 'pipefail', '-c', hashLine], {
    env: { PATH: process.env.PATH, TOKEN: token },
    encoding: 'utf8',
  })
  t.equal(run.status, 0, run.stderr)
  t.equal(run.stdout.trim(), hashToken(token))
})

t.test("the README's example tokens file is valid", async (t) => {
  const credentials = parseTokensFile(readmeBlock('<!-- readme-tokens-file', 'yaml'), 'README.md')
  t.strictSame(
    credentials.tokens.map((x) => x.name),
    ['alice', 'ci-cluster-deploy', 'app-pipeline'],
  )
  t.strictSame(
    credentials.issuers.map((x) => x.issuer),
    ['https://token.actions.githubusercontent.com', 'https://gitlab.com'],
  )
})

t.test('a tokens file in JSON is read like YAML', async (t) => {
  const dir = t.testdir({
    'tokens.json': JSON.stringify({ tokens: [{ name: 'ops', hash: HASH, grants: [{ scope: '*/*', allow: ['*'] }] }] }),
  })
  const credentials = loadTokensFile(join(dir, 'tokens.json'))
  t.equal(credentials.tokens.length, 1)
  t.equal(credentials.tokens[0]!.name, 'ops')
})

t.test('an unreadable tokens file is an error naming the file', async (t) => {
  const dir = t.testdir()
  t.throws(() => loadTokensFile(join(dir, 'missing.yaml')), {
    name: 'TokensFileError',
    message: new RegExp(`${dir}/missing.yaml.*ENOENT`),
  })
})

t.test('tokens file errors name the file and the entry', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    [
      'invalid YAML',
      'tokens: [\n  - name: a\n    hash: "unterminated\n',
      /^\/etc\/unobin\/tokens.yaml:2:11: not valid YAML or JSON/,
    ],
    ['a list at the top', '- a\n', /tokens.yaml: top level: must be a mapping/],
    ['an unknown top-level key', 'tokenz: []\n', /top level: unknown key "tokenz"/],
    ['no credentials', 'tokens: []\n', /defines no token and no OIDC issuer/],
    [
      'a bad hash',
      `tokens:\n  - {name: ok, hash: ${HASH}, grants: [{scope: "*/*", allow: [read]}]}\n  - {name: ci, hash: "sha256:abc", grants: [{scope: "*/*", allow: [read]}]}\n`,
      /tokens\[1\] "ci": hash is not a token hash/,
    ],
    [
      'a bad name',
      `tokens:\n  - {name: "no spaces", hash: ${HASH}, grants: [{scope: "*/*", allow: [read]}]}\n`,
      /tokens\[0\] "no spaces": name must be/,
    ],
    [
      'a reserved name',
      `tokens:\n  - {name: anonymous, hash: ${HASH}, grants: [{scope: "*/*", allow: [read]}]}\n`,
      /tokens\[0\] "anonymous": the name "anonymous" is reserved/,
    ],
    ['no grants', `tokens:\n  - {name: ci, hash: ${HASH}}\n`, /tokens\[0\] "ci" grants: at least one grant/],
    [
      'an unknown permission',
      `tokens:\n  - {name: ci, hash: ${HASH}, grants: [{scope: "*/*", allow: [reed]}]}\n`,
      /tokens\[0\] "ci" grants\[0\] allow: "reed" is not a permission/,
    ],
    [
      'a scope without a stack',
      `tokens:\n  - {name: ci, hash: ${HASH}, grants: [{scope: "f1", allow: [read]}]}\n`,
      /tokens\[0\] "ci" grants\[0\]: scope must be/,
    ],
    [
      'a grant without permissions',
      `tokens:\n  - {name: ci, hash: ${HASH}, grants: [{scope: "*/*"}]}\n`,
      /grants\[0\]: allow or deny must list permissions/,
    ],
    [
      'a duplicate name',
      `tokens:\n  - {name: ci, hash: ${HASH}, grants: [{scope: "*/*", allow: [read]}]}\n  - {name: ci, hash: ${hashToken('y')}, grants: [{scope: "*/*", allow: [read]}]}\n`,
      /tokens\[1\] "ci": the name is used by an earlier token/,
    ],
    [
      'a duplicate hash',
      `tokens:\n  - {name: a, hash: ${HASH}, grants: [{scope: "*/*", allow: [read]}]}\n  - {name: b, hash: ${HASH}, grants: [{scope: "*/*", allow: [read]}]}\n`,
      /tokens\[1\] "b": the hash is the same/,
    ],
    ['a duplicate key', `tokens:\n  - name: a\n    name: b\n`, /not valid YAML or JSON/],
    [
      'an issuer without audience',
      'oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", rules: [{match: {sub: x}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
      /oidc\[0\] \(https:\/\/i.example\): audience is required/,
    ],
    [
      'an HS256 issuer',
      'oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", audience: a, algorithms: [HS256], rules: [{match: {sub: x}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
      /oidc\[0\] \(https:\/\/i.example\): algorithm "HS256" is not allowed/,
    ],
    [
      'a plain-http JWKS',
      'oidc:\n  - {issuer: "https://i.example", jwks: "http://i.example/jwks", audience: a, rules: [{match: {sub: x}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
      /oidc\[0\] \(https:\/\/i.example\) jwks: must be an https URL/,
    ],
    [
      'a rule matching every token',
      'oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", audience: a, rules: [{match: {repository: "*"}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
      /oidc\[0\] \(https:\/\/i.example\) rules\[0\]: match only has "\*" patterns/,
    ],
    [
      'a rule without claims',
      'oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", audience: a, rules: [{match: {}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
      /rules\[0\]: match must name at least one claim/,
    ],
    [
      'an issuer without rules',
      'oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", audience: a, rules: []}\n',
      /oidc\[0\] \(https:\/\/i.example\): rules is required/,
    ],
    [
      'an out-of-range leeway',
      'oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", audience: a, leeway: 9999, rules: [{match: {sub: x}, grants: [{scope: "*/*", allow: [read]}]}]}\n',
      /oidc\[0\] \(https:\/\/i.example\) leeway: must be a whole number of seconds from 0 to 300/,
    ],
  ]
  for (const [what, text, expected] of cases) t.match(parseError(text), expected, what)
})

t.test('plaintext tokens are refused, and the refusal does not repeat them', async (t) => {
  const secret = newToken()
  const asKey = parseError(`tokens:\n  - {name: ci, token: ${secret}, grants: [{scope: "*/*", allow: [read]}]}\n`)
  t.match(asKey, /tokens\[0\] "ci": plaintext tokens are refused/)
  t.notMatch(asKey, secret)
  const asHash = parseError(`tokens:\n  - {name: ci, hash: ${secret}, grants: [{scope: "*/*", allow: [read]}]}\n`)
  t.match(asHash, /tokens\[0\] "ci": hash is not a token hash \(it looks like a plaintext token/)
  t.notMatch(asHash, secret)
  const broken = parseError(`tokens:\n  - {name: ci, hash: "${secret}\n`)
  t.notMatch(broken, secret, 'a YAML error does not quote the file')
})
