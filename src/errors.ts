/**
 * Every domain error of the server, by stable machine code.
 *
 * The store and the crypto layer throw `StateError` with one of these codes and
 * never think about HTTP; `src/http/problems.ts` maps each code to a status in
 * one exhaustive table (the compiler refuses a code without a status). Codes
 * are part of the public contract: scripts match on them, so never rename one.
 */
export const ERROR_CODES = {
  'invalid-name': 'a factory or stack name does not match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$',
  'invalid-rev': 'a rev is not a canonical RFC3339Nano UTC instant with an optional _N suffix',
  'invalid-snapshot': 'the snapshot document breaks a validation rule',
  'invalid-request': 'the request breaks its schema',
  'malformed-json': 'the body is not valid JSON',
  'body-too-large': 'the body exceeds the configured limit',
  'unsupported-media-type': 'the body has a content type the route does not accept',
  'content-md5-mismatch': 'the Content-MD5 header does not match the body',
  'route-not-found': 'no route matches the method and path',
  'console-not-built': 'the server runs without the console page: it was built without it',
  'asset-not-found': 'the console has no asset of that name (a page of an older build)',
  'uri-too-long': 'a path segment is longer than the server accepts',
  'name-case-conflict':
    'the data volume does not tell case apart and the factory or stack exists spelled in another case',
  'factory-not-found': 'no stack of the factory exists',
  'no-current': 'the stack has no current rev',
  'rev-not-found': 'the rev is not stored in the stack',
  'rev-is-current': 'the rev is the current one and may only be deleted with force',
  'current-mismatch': 'the If-Match precondition names another current rev',
  locked: 'the stack is locked by another holder',
  'not-locked': 'the stack is not locked',
  'lock-not-held': 'the given lock id does not hold the stack',
  'lock-lost': 'the given lock id expired or was force-unlocked',
  'lock-id-reused': 'the client-chosen lock id was granted before: a lock id is granted once',
  'lock-required': 'the server requires a held lock for every mutation',
  'wait-timeout': 'the lock stayed held for the whole wait',
  'state-conflict': 'a Terraform write changes lineage or lowers serial',
  'payload-type-mismatch': 'the stack holds another kind of document than the route serves',
  'incomparable-revs':
    'the two revs hold different kinds of documents (an unobin snapshot and a Terraform state) and cannot be diffed',
  'opaque-state': 'the state was encrypted by its client: the server cannot read into it',
  'unreadable-snapshot': 'a stored snapshot cannot be read: truncated, tampered, or sealed with another key',
  'dangling-current': 'current names a rev that is not stored',
  'unsafe-path': 'a path in the data directory is a symlink or not a directory',
  'no-space': 'the data directory has no space left',
  'storage-failure': 'the data directory refused an operation (permissions, read-only, I/O error)',
  'shutting-down': 'the server is shutting down',
  'too-many-streams': 'the server already serves as many event streams as it allows',
  'server-busy': 'the server already processes as many large bodies as it allows at once (--max-large-bodies)',
  unauthenticated: 'no valid credentials were presented',
  forbidden: 'the credentials lack the permission for this operation',
  'auth-unavailable': 'the keys to verify an identity token cannot be fetched from its issuer right now',
  'rate-limited': 'the caller sent more requests than its rate allows',
  'too-many-locks': 'the caller already holds as many locks as the server allows one caller',
  internal: 'an unexpected server fault',
} as const

/** A stable machine code of the contract. */
export type ErrorCode = keyof typeof ERROR_CODES

/**
 * An error the server can explain: `code` is stable, `message` says what
 * happened and what to do next, `details` carries structured facts (the
 * holder of a lock, the stack, the rev) that the HTTP layer may expose.
 * Messages never carry secrets or snapshot plaintext.
 */
export class StateError extends Error {
  readonly code: ErrorCode
  readonly details: Record<string, unknown>

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StateError'
    this.code = code
    this.details = details
  }
}

/** True when `err` is a StateError with the given code (or any code). */
export function isStateError(err: unknown, code?: ErrorCode): err is StateError {
  return err instanceof StateError && (code === undefined || err.code === code)
}
