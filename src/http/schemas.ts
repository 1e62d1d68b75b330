/**
 * The TypeBox schemas of the API: request parts and every response body.
 * They validate requests, serialise responses, and generate `openapi.yaml`.
 */
import { type Static, type TSchema, Type } from 'typebox'
import { ERROR_CODES } from '../errors.js'
import { LOCK_HOLDER_PROPERTIES, type LockHolder } from '../store/lock-holder.js'
import { RevHistoryEntry } from './history-schemas.js'
import { Name, Rev } from './name-schemas.js'
import { TrashEntrySchema } from './retention-schemas.js'
import { ref } from './schema-ref.js'

export { Name, Rev } from './name-schemas.js'
export {
  PruneRequest,
  PruneResponse,
  ResealResponse,
  RestoreRequest,
  RestoreResponse,
  TrashEntry,
  TrashResponse,
} from './retention-schemas.js'

export const FactoryParams = Type.Object({ factory: Name })
export const StackParams = Type.Object({ factory: Name, stack: Name })
export const RevParams = Type.Object({ factory: Name, stack: Name, rev: Rev })

const LockHolderSchema = Type.Object(
  {
    ...LOCK_HOLDER_PROPERTIES,
    // The API names the header that carries the id; the store's record does not know HTTP.
    id: Type.String({ description: 'the lock id: present it as Lock-Id on mutations and to unlock' }),
  },
  {
    $id: 'LockHolder',
    additionalProperties: false,
    description: 'who holds the lock of a stack',
  },
)
/** A lock holder as the API shows it (the shared `LockHolder` schema). */
export const Holder = ref<LockHolder>('LockHolder')

/** The id under which the Problem schema is shared (one component in the OpenAPI document). */
export const PROBLEM_ID = 'Problem'

/** The full Problem schema (published as the `Problem` component; routes reference it through `Problem`). */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.Unsafe<string>({
      type: 'string',
      enum: Object.keys(ERROR_CODES),
      description: 'stable machine code; see the README for each',
    }),
    detail: Type.String({ description: 'what happened and what to do next' }),
    instance: Type.String({ description: 'the path of the request' }),
    requestId: Type.Optional(Type.String({ description: 'the request id, as in X-Request-Id and the server log' })),
    holder: Type.Optional(Holder),
  },
  {
    $id: PROBLEM_ID,
    additionalProperties: true,
    description:
      'an error (RFC 9457); errors about a lock carry its holder, other facts (rev, current, lineage…) ride along by name',
  },
)
/** The Problem body (RFC 9457) every error answers with (the shared `Problem` schema). */
export const Problem = ref<Static<typeof ProblemSchema>>(PROBLEM_ID)

/** Body of POST …/lock. */
export const LockRequest = Type.Object(
  {
    who: Type.Optional(Type.String({ maxLength: 1024 })),
    operation: Type.Optional(Type.String({ maxLength: 1024 })),
    info: Type.Optional(Type.String({ maxLength: 4096 })),
    ttl: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 7 * 24 * 3600,
        description: 'lease in seconds; without it the lock lasts until unlocked',
      }),
    ),
  },
  { additionalProperties: false },
)

/** Body of PUT …/lock (renew). */
export const RenewRequest = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 256, description: 'the lock id (or send it as Lock-Id)' })),
    ttl: Type.Optional(Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 })),
  },
  { additionalProperties: false },
)

export const LockQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'seconds to wait for the lock (long poll), capped by the server maximum',
      }),
    ),
  },
  { additionalProperties: false },
)

export const UnlockQuery = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 256, description: 'the lock id (or send it as Lock-Id)' })),
    force: Type.Optional(
      Type.Boolean({ description: 'remove the lock whoever holds it (needs the force-unlock permission)' }),
    ),
    reason: Type.Optional(Type.String({ maxLength: 1024, description: 'why, recorded in the audit log' })),
  },
  { additionalProperties: false },
)

export const UnlockResponse = Type.Object(
  { released: Type.Union([Holder, Type.Null()]), forced: Type.Boolean() },
  {
    additionalProperties: false,
    description: 'released: the holder removed (null when a force-unlock found the stack free)',
  },
)

const LockIdHeader = Type.String({ maxLength: 256, description: 'the id of the lock you hold' })
export const LockIdHeaders = Type.Object({ 'lock-id': Type.Optional(LockIdHeader) })
/** Headers of PUT …/current: the lock id, and If-Match for a compare-and-swap. */
export const SetCurrentHeaders = Type.Object({
  'lock-id': Type.Optional(LockIdHeader),
  'if-match': Type.Optional(
    Type.String({
      description:
        'the rev you believe is current (quoted or not, an ETag works): 412 current-mismatch when current moved',
    }),
  ),
})
/** Headers of a conditional read. */
export const ConditionalReadHeaders = Type.Object({
  'if-none-match': Type.Optional(Type.String({ description: 'an ETag you hold: 304 when it still names the rev' })),
})
/** Headers of the Terraform routes. */
export const ContentMd5Headers = Type.Object({
  'content-md5': Type.Optional(
    Type.String({
      description:
        'base64 MD5 of the body, as Terraform sends it: checked when sent (400 content-md5-mismatch), never required',
    }),
  ),
})

/**
 * `schema` with response headers declared beside it: @fastify/swagger moves
 * them into the response's `headers` in the document; serialization
 * ignores them.
 */
export function withHeaders<T extends TSchema>(schema: T, headers: Record<string, TSchema>): T {
  return { ...schema, headers } as T
}

/** The Location of a written rev. */
export const NewRevLocation = Type.String({ description: 'the path of the new rev' })

/** Response headers of an answer that carries a snapshot. */
/** `?redacted=true` on a rev or on current. */
export const RedactedQuery = Type.Object(
  {
    redacted: Type.Optional(
      Type.Boolean({
        description:
          'answer the document with sensitive values replaced by "(sensitive)" (Terraform: sensitive outputs, sensitive_attributes, private data), pretty-printed; 409 opaque-state for a state its client encrypted',
      }),
    ),
  },
  { additionalProperties: false },
)

export const SnapshotHeaders = {
  ETag: Type.String({ description: 'the rev, quoted: send it back as If-None-Match to revalidate' }),
  'Unobin-Rev': Type.String({ description: 'the rev, unquoted' }),
  'Unobin-Payload-Type': Type.String({
    description: 'the kind of document stored: unobin snapshot or Terraform state',
  }),
  'Cache-Control': Type.String({ description: 'immutable for a rev; no-cache for current, which moves' }),
}

export const SetCurrentRequest = Type.Object({ rev: Rev }, { additionalProperties: false })
export const SetCurrentResponse = Type.Object(
  { rev: Rev, previous: Type.Union([Rev, Type.Null()]) },
  { additionalProperties: false, description: 'current now names the rev' },
)

export const WriteQuery = Type.Object(
  { current: Type.Optional(Type.Boolean({ description: 'also make the new rev current' })) },
  { additionalProperties: false },
)
export const WriteResponse = Type.Object(
  { rev: Rev, current: Type.Boolean({ description: 'whether the new rev is now current' }) },
  { additionalProperties: false, description: 'stored under a new rev' },
)

export const ListQuery = Type.Object(
  {
    after: Type.Optional(Rev),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 1000 })),
    order: Type.Optional(
      Type.Union([Type.Literal('asc'), Type.Literal('desc')], {
        default: 'asc',
        description: 'asc: oldest first; desc: newest first (then ?after= pages towards older revs)',
      }),
    ),
    detail: Type.Optional(
      Type.Boolean({ description: 'also answer `history`: each rev of the page with who wrote it (its metadata)' }),
    ),
  },
  { additionalProperties: false },
)
const RevListSchema = Type.Object(
  {
    revs: Type.Array(Type.String(), { description: 'in the order asked: oldest first unless ?order=desc' }),
    current: Type.Union([Type.String(), Type.Null()]),
    next: Type.Union([Type.String(), Type.Null()], {
      description: 'pass as ?after= for the next page; null on the last page',
    }),
    history: Type.Optional(
      Type.Array(RevHistoryEntry, { description: 'with ?detail=true: the revs of `revs`, in the same order' }),
    ),
  },
  { $id: 'RevList', additionalProperties: false, description: 'a page of the revs of a stack' },
)
/** A page of revs (the shared `RevList` schema). */
export const ListResponse = ref<Static<typeof RevListSchema>>('RevList')

export const DeleteQuery = Type.Object(
  {
    force: Type.Optional(
      Type.Boolean({ description: 'also delete the current rev (the stack is left without current)' }),
    ),
  },
  { additionalProperties: false },
)
export const DeleteResponse = Type.Object(
  { rev: Rev, deleted: Type.Boolean(), clearedCurrent: Type.Boolean() },
  { additionalProperties: false, description: 'the rev is gone (deleted=false when it was already absent)' },
)

export const GcRequest = Type.Object(
  {
    keep: Type.Integer({
      minimum: 0,
      maximum: 1_000_000_000,
      description: 'how many of the newest revs to keep (the current rev is always kept)',
    }),
    dryRun: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
)
export const GcResponse = Type.Object(
  { deleted: Type.Array(Type.String()), kept: Type.Array(Type.String()), dryRun: Type.Boolean() },
  { additionalProperties: false, description: 'the revs deleted and kept (or, with dryRun, that would be)' },
)

const StackSummarySchema = Type.Object(
  {
    name: Name,
    current: Type.Union([Type.String(), Type.Null()]),
    revs: Type.Integer(),
    lock: Type.Union([Holder, Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()], {
      description: 'the error code met reading this stack (e.g. unreadable-snapshot), null when healthy',
    }),
  },
  {
    $id: 'StackSummary',
    additionalProperties: false,
    description: 'a stack with its current rev, rev count and lock holder',
  },
)
/** One stack of a listing (the shared `StackSummary` schema). */
export const StackSummary = ref<Static<typeof StackSummarySchema>>('StackSummary')
export const StacksResponse = Type.Object(
  { factory: Name, stacks: Type.Array(StackSummary), next: Type.Union([Type.String(), Type.Null()]) },
  { additionalProperties: false, description: 'a page of the stacks of the factory' },
)
export const PageQuery = Type.Object(
  {
    after: Type.Optional(Name),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 1000 })),
  },
  { additionalProperties: false },
)
/** Paging of stack summaries: each costs three file reads, so pages are smaller by default. */
export const StackPageQuery = Type.Object(
  {
    after: Type.Optional(Name),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 100 })),
    match: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description:
          'only stacks whose name contains this text (case-insensitive); paging with ?after= runs over the matching names',
      }),
    ),
  },
  { additionalProperties: false },
)
export const FactoriesResponse = Type.Object(
  {
    factories: Type.Array(Type.Object({ name: Name, stacks: Type.Integer() }, { additionalProperties: false })),
    next: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false, description: 'a page of the factories' },
)

/** Marks a body schema read as raw bytes: documented, but checked by the route (byte-exact storage), not by Ajv. */
export const RAW_BODY = 'x-raw-body'

/** A snapshot body as stored (any JSON document, returned byte-exact). */
export const SnapshotDocument = Type.Object(
  {},
  { additionalProperties: true, description: 'the snapshot JSON document, byte-exact as written', [RAW_BODY]: true },
)

export const Health = Type.Object(
  { status: Type.String(), checks: Type.Optional(Type.Record(Type.String(), Type.String())) },
  { additionalProperties: false, description: 'the verdict of the probe, with each check' },
)

/** Problem responses for a list of statuses (references to the shared Problem schema). */
export function problems(...statuses: number[]): Record<number, ReturnType<typeof Type.Ref>> {
  return Object.fromEntries(statuses.map((s) => [s, Type.Ref(PROBLEM_ID)]))
}

/** A Terraform/OpenTofu state document (read raw, stored byte-exact). */
export const TerraformStateDocument = Type.Object(
  {},
  {
    additionalProperties: true,
    description: 'Terraform or OpenTofu state JSON (opaque apart from lineage and serial), byte-exact',
    [RAW_BODY]: true,
  },
)
export const TerraformQuery = Type.Object({
  ID: Type.Optional(
    Type.String({ maxLength: 256, description: 'the lock id Terraform holds (added by the client while locked)' }),
  ),
  force: Type.Optional(
    Type.Boolean({ description: 'accept a different lineage or a lower serial (operator override)' }),
  ),
})
const LockInfoSchema = Type.Object(
  {
    ID: Type.String(),
    Operation: Type.String(),
    Info: Type.String(),
    Who: Type.String(),
    Version: Type.String(),
    Created: Type.Union([Type.String(), Type.Null()], { description: 'RFC 3339, or null when unknown' }),
    Path: Type.String(),
    Generation: Type.Integer({ description: 'the fencing token of the lock (an addition of this server)' }),
    Principal: Type.Union([Type.String(), Type.Null()], {
      description: 'the authenticated caller that took the lock (an addition of this server)',
    }),
    Expires: Type.Union([Type.String(), Type.Null()], {
      description: 'end of the lease, null without one (an addition of this server)',
    }),
  },
  {
    $id: 'LockInfo',
    additionalProperties: true,
    description: "Terraform's LockInfo, as its http backend reads a holder",
  },
)
/** Terraform's LockInfo of a holder (the shared `LockInfo` schema). */
export const LockInfo = ref<Static<typeof LockInfoSchema>>('LockInfo')

export const TerraformWriteResponse = Type.Object(
  { rev: Type.Union([Type.String(), Type.Null()]), current: Type.Boolean() },
  { additionalProperties: false, description: 'stored (rev null when a delete found no state)' },
)

/**
 * The schemas published once under `#/components/schemas` and referenced
 * from routes; `buildApp` registers each with `app.addSchema` before any route.
 */
export const SHARED_SCHEMAS: readonly TSchema[] = [
  LockHolderSchema,
  ProblemSchema,
  RevListSchema,
  StackSummarySchema,
  TrashEntrySchema,
  LockInfoSchema,
]
