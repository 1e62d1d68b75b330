/**
 * The shape of the tokens file as a TypeBox schema: the one description of
 * what the file may hold. The server checks every file it loads against it
 * (after the reader in tokens-file.ts, whose messages say what to do), and
 * `npm run tokens-schema` publishes it as docs/tokens-file.schema.json for
 * editors (a test keeps the committed file equal to this). The patterns and
 * limits the reader enforces are exported from here, so the two cannot
 * disagree. What a JSON Schema cannot say (unique names and hashes, a rule
 * that matches every token of its issuer) only the reader checks.
 */
import { type TSchema, Type } from 'typebox'
import { OIDC_ALGORITHMS } from './oidc-issuer.js'
import { PERMISSIONS } from './permission.js'
import { TOKEN_HASH_PATTERN } from './token-hash.js'

/** Where the published schema lives in the repository. */
export const TOKENS_SCHEMA_PATH = 'docs/tokens-file.schema.json'

/** A token name: the principal (letters, digits, `._@-`; cannot look like an `oidc:` principal). */
export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/

/** The principal of servers without credentials: no token may take it. */
export const RESERVED_NAME = 'anonymous'

/** One side of a scope pattern: name characters and the wildcards * and ?. */
export const SCOPE_PART = /^[A-Za-z0-9._*?-]{1,128}$/

/** The whole-second settings of an OIDC issuer: default and bounds. */
export const ISSUER_SECONDS = {
  leeway: { fallback: 30, min: 0, max: 300, help: 'clock skew tolerated on exp/nbf/iat' },
  cooldown: { fallback: 30, min: 0, max: 3600, help: 'least time between two refetches of the JWKS' },
  cache: { fallback: 600, min: 1, max: 86_400, help: 'how long fetched keys are trusted' },
  timeout: { fallback: 5, min: 1, max: 60, help: 'how long a JWKS fetch may take' },
} as const

/** A JWKS URL: https, or plain http on a loopback address; never with credentials. */
const JWKS_URL = '^(https://|http://(127\\.0\\.0\\.1|localhost|\\[::1\\])([:/?#]|$))'

const permissions = Type.Array(Type.Enum([...PERMISSIONS, '*']), {
  description: `permissions: ${PERMISSIONS.join(', ')}, or "*" for all`,
})

const grant = Type.Object(
  {
    scope: Type.String({
      pattern: `^${SCOPE_PART.source.slice(1, -1)}/${SCOPE_PART.source.slice(1, -1)}$`,
      description: '<factory pattern>/<stack pattern>, with * and ? as wildcards, e.g. "cluster-deploy/prod-*"',
    }),
    allow: Type.Optional(permissions),
    deny: Type.Optional(permissions),
  },
  {
    additionalProperties: false,
    description: 'permissions on matching stacks; the most specific scope wins, and deny beats allow',
    anyOf: [
      { required: ['allow'], properties: { allow: { minItems: 1 } } },
      { required: ['deny'], properties: { deny: { minItems: 1 } } },
    ],
  },
)

const grants = Type.Array(grant, { minItems: 1 })

const token = Type.Object(
  {
    name: Type.String({
      pattern: TOKEN_NAME.source,
      not: { const: RESERVED_NAME },
      description: 'the principal: recorded in lock holders and the audit log; unique in the file',
    }),
    description: Type.Optional(Type.String()),
    hash: Type.String({
      pattern: TOKEN_HASH_PATTERN.source,
      description:
        'sha256: and the hex SHA-256 of the token (unobin-state-server hash-token prints it); never the token',
    }),
    grants,
  },
  { additionalProperties: false, description: 'a static token, stored by its hash' },
)

const claimValue = Type.Union([Type.String(), Type.Boolean(), Type.Number()])

const rule = Type.Object(
  {
    match: Type.Record(Type.String(), Type.Union([claimValue, Type.Array(claimValue, { minItems: 1 })]), {
      minProperties: 1,
      description: 'claims the identity token must carry (globs; a list matches any); name the repository or project',
    }),
    grants,
  },
  { additionalProperties: false },
)

const seconds = (name: keyof typeof ISSUER_SECONDS) => {
  const s = ISSUER_SECONDS[name]
  return Type.Optional(
    Type.Integer({ minimum: s.min, maximum: s.max, default: s.fallback, description: `${s.help} (seconds)` }),
  )
}

const issuer = Type.Object(
  {
    issuer: Type.String({
      minLength: 1,
      pattern: '^[^#]+$',
      description: 'the exact "iss" of the identity tokens, e.g. https://token.actions.githubusercontent.com',
    }),
    jwks: Type.String({
      pattern: JWKS_URL,
      not: { pattern: '^[A-Za-z]+://[^/?#]*@' },
      description: "the URL of the issuer's signing keys (https; plain http only on loopback)",
    }),
    audience: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], {
      description: 'the "aud" your CI jobs request for this server',
    }),
    algorithms: Type.Optional(
      Type.Array(Type.Enum([...OIDC_ALGORITHMS]), {
        minItems: 1,
        default: ['RS256'],
        description: 'accepted signature algorithms (asymmetric only)',
      }),
    ),
    leeway: seconds('leeway'),
    cooldown: seconds('cooldown'),
    cache: seconds('cache'),
    timeout: seconds('timeout'),
    rules: Type.Array(rule, { minItems: 1 }),
  },
  { additionalProperties: false, description: 'an OIDC issuer whose identity tokens (JWTs) authenticate CI jobs' },
)

const atLeastOne = (key: string) => ({ required: [key], properties: { [key]: { type: 'array', minItems: 1 } } })

/** The tokens file. */
export const TokensFileSchema: TSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'the URL or path of this schema, for editors' })),
    tokens: Type.Optional(Type.Union([Type.Array(token), Type.Null()])),
    oidc: Type.Optional(Type.Union([Type.Array(issuer), Type.Null()])),
  },
  {
    additionalProperties: false,
    title: 'unobin-state-server tokens file',
    description:
      'Credentials and permissions of unobin-state-server (--tokens-file), YAML or JSON. The server also refuses two tokens with the same name or hash, and a rule that matches every token of its issuer.',
    anyOf: [atLeastOne('tokens'), atLeastOne('oidc')],
  },
)

/** The published JSON Schema document (draft 2020-12), as the committed file holds it. */
export function tokensFileJsonSchema(): string {
  const doc = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    ...JSON.parse(JSON.stringify(TokensFileSchema)),
  }
  return `${JSON.stringify(doc, null, 2)}\n`
}
