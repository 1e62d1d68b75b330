/**
 * The published JSON Schema of the tokens file is the one the server checks
 * with: the committed docs/tokens-file.schema.json is generated from it, a
 * file the reader accepts conforms to it, and a file refused for its shape
 * is refused by the schema too (so an editor flags it before the server does).
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Compile } from 'typebox/compile'
import { parse as parseYaml } from 'yaml'
import { hashToken } from '../../src/auth/token-hash.js'
import { TokensFileError, parseTokensFile } from '../../src/auth/tokens-file.js'
import { TOKENS_SCHEMA_PATH, TokensFileSchema, tokensFileJsonSchema } from '../../src/auth/tokens-file-schema.js'

const schema = Compile(TokensFileSchema)
const HASH = hashToken('x')
const GRANTS = '[{scope: "*/*", allow: [read]}]'
const ISSUER = 'issuer: "https://i.example", jwks: "https://i.example/jwks", audience: a'
const RULES = `rules: [{match: {sub: x}, grants: ${GRANTS}}]`

/** The TokensFileError message of parsing `text`, or null when it parses. */
function refusal(text: string, path = 'tokens.yaml'): string | null {
  try {
    parseTokensFile(text, path)
    return null
  } catch (err) {
    if (err instanceof TokensFileError) return err.message
    throw err
  }
}

t.test('the committed JSON Schema is the one generated from the TypeBox schema (npm run tokens-schema)', async (t) => {
  const committed = readFileSync(fileURLToPath(new URL(`../../${TOKENS_SCHEMA_PATH}`, import.meta.url)), 'utf8')
  t.equal(committed, tokensFileJsonSchema())
  t.equal(JSON.parse(committed).$schema, 'https://json-schema.org/draft/2020-12/schema')
})

t.test('files the server accepts conform to the schema, with the editor lines for YAML and JSON', async (t) => {
  const accepted = [
    `# yaml-language-server: $schema=https://example.com/tokens-file.schema.json\ntokens:\n  - {name: ci, hash: ${HASH}, grants: ${GRANTS}}\n`,
    JSON.stringify({
      $schema: './tokens-file.schema.json',
      tokens: [{ name: 'ci', hash: HASH, grants: [{ scope: 'f/*', allow: ['*'], deny: ['admin'] }] }],
    }),
    `oidc:\n  - {${ISSUER}, algorithms: [ES256], leeway: 0, cache: 86400, ${RULES}}\n`,
    `oidc:\n  - {${ISSUER}, rules: [{match: {ref: [refs/heads/main, "refs/tags/*"], protected: true}, grants: [{scope: "f/*", deny: [write]}]}]}\n`,
  ]
  for (const text of accepted) {
    t.equal(refusal(text), null, text)
    t.ok(schema.Check(parseYaml(text)), `schema accepts: ${text}`)
  }
})

t.test('a file refused for its shape is refused by the schema too', async (t) => {
  const shapes = [
    '- a\n',
    'tokenz: []\n',
    'tokens: []\n',
    '{}\n',
    `tokens:\n  - {name: ci, hash: "sha256:abc", grants: ${GRANTS}}\n`,
    `tokens:\n  - {name: ci, hash: ${'a'.repeat(64)}, grants: ${GRANTS}}\n`,
    `tokens:\n  - {name: ci, token: secret, hash: ${HASH}, grants: ${GRANTS}}\n`,
    `tokens:\n  - {name: "no spaces", hash: ${HASH}, grants: ${GRANTS}}\n`,
    `tokens:\n  - {name: anonymous, hash: ${HASH}, grants: ${GRANTS}}\n`,
    `tokens:\n  - {name: ci, hash: ${HASH}}\n`,
    `tokens:\n  - {name: ci, hash: ${HASH}, grants: []}\n`,
    `tokens:\n  - {name: ci, hash: ${HASH}, grants: [{scope: "*/*", allow: [reed]}]}\n`,
    `tokens:\n  - {name: ci, hash: ${HASH}, grants: [{scope: "f1", allow: [read]}]}\n`,
    `tokens:\n  - {name: ci, hash: ${HASH}, grants: [{scope: "*/*"}]}\n`,
    `tokens:\n  - {name: ci, hash: ${HASH}, grants: [{scope: "*/*", allow: [], deny: []}]}\n`,
    `tokens:\n  - {name: ci, hash: ${HASH}, description: 3, grants: ${GRANTS}}\n`,
    `oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", ${RULES}}\n`,
    `oidc:\n  - {issuer: "https://i.example", jwks: "https://i.example/jwks", audience: [], ${RULES}}\n`,
    `oidc:\n  - {issuer: "https://i.example#x", jwks: "https://i.example/jwks", audience: a, ${RULES}}\n`,
    `oidc:\n  - {${ISSUER}, algorithms: [HS256], ${RULES}}\n`,
    `oidc:\n  - {issuer: "https://i.example", jwks: "http://i.example/jwks", audience: a, ${RULES}}\n`,
    `oidc:\n  - {issuer: "https://i.example", jwks: "https://u:p@i.example/jwks", audience: a, ${RULES}}\n`,
    `oidc:\n  - {${ISSUER}, rules: [{match: {}, grants: ${GRANTS}}]}\n`,
    `oidc:\n  - {${ISSUER}, rules: []}\n`,
    `oidc:\n  - {${ISSUER}, leeway: 9999, ${RULES}}\n`,
    `oidc:\n  - {${ISSUER}, timeout: 1.5, ${RULES}}\n`,
    `oidc:\n  - {${ISSUER}, ${RULES}, extra: 1}\n`,
  ]
  for (const text of shapes) {
    t.not(refusal(text), null, `the server refuses: ${text}`)
    t.notOk(schema.Check(parseYaml(text)), `the schema refuses: ${text}`)
  }
})

t.test('YAML and JSON syntax errors keep their line and column', async (t) => {
  t.match(
    refusal('tokens: [\n  - name: a\n    hash: "unterminated\n', '/etc/unobin/tokens.yaml'),
    /^\/etc\/unobin\/tokens.yaml:2:11: not valid YAML or JSON: /,
  )
  t.match(
    refusal('tokens:\n  - name: a\n    name: b\n'),
    /^tokens.yaml:3:5: not valid YAML or JSON: Map keys must be unique/,
  )
  t.match(refusal('{"tokens": [\n  {"name": "x",, }]}\n', 'tokens.json'), /^tokens.json:2:16: not valid YAML or JSON/)
})
