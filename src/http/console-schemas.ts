/**
 * The TypeBox schemas of the console routes: the diff between two revs, a
 * rev's outputs, and whoami. Values inside a document are any JSON
 * (`Type.Unknown`); sensitive ones arrive already replaced by the marker.
 */
import { Type } from 'typebox'
import { PERMISSIONS, type Permission } from '../auth/permission.js'
import { SENSITIVE_MARKER } from '../diff/redaction.js'
import { Name, Rev } from './schemas.js'

const Kind = Type.Union([Type.Literal('unobin'), Type.Literal('terraform'), Type.Literal('opaque')], {
  description: 'unobin snapshot, Terraform/OpenTofu state, or opaque (encrypted by its client: not comparable)',
})

/** The facts of one side of a diff. */
export const DocumentFacts = Type.Object(
  {
    rev: Rev,
    kind: Kind,
    bytes: Type.Integer({ description: 'size of the stored document' }),
    sha256: Type.String({ description: 'SHA-256 (hex) of the stored document' }),
    serial: Type.Union([Type.Integer(), Type.Null()], { description: 'Terraform serial, null for unobin snapshots' }),
    lineage: Type.Union([Type.String(), Type.Null()], { description: 'Terraform lineage, null for unobin snapshots' }),
  },
  { additionalProperties: false },
)

const FieldChange = Type.Object(
  {
    op: Type.Union([Type.Literal('add'), Type.Literal('remove'), Type.Literal('replace')]),
    path: Type.String({
      description: 'JSON Pointer, relative to the entry or instance (from the document root in `header`)',
    }),
    old: Type.Optional(
      Type.Unknown({ description: `the value before (absent for add); "${SENSITIVE_MARKER}" when sensitive` }),
    ),
    new: Type.Optional(
      Type.Unknown({ description: `the value after (absent for remove); "${SENSITIVE_MARKER}" when sensitive` }),
    ),
    sensitive: Type.Optional(Type.Literal(true, { description: 'the values are hidden: the place is sensitive' })),
  },
  { additionalProperties: false },
)

const Action = Type.Union([Type.Literal('added'), Type.Literal('removed'), Type.Literal('changed')])

const ResourceKey = Type.Object(
  {
    module: Type.Union([Type.String(), Type.Null()]),
    mode: Type.String(),
    type: Type.String(),
    name: Type.String(),
    index: Type.Union([Type.Integer(), Type.String(), Type.Null()], { description: 'count index or for_each key' }),
    deposed: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
)

/** GET …/diff answer. */
export const DiffResponse = Type.Object(
  {
    kind: Kind,
    from: Type.Union([DocumentFacts, Type.Null()], {
      description: 'null when `to` is the first rev (everything is added)',
    }),
    to: DocumentFacts,
    comparable: Type.Boolean({ description: 'false when either side is opaque' }),
    detail: Type.Union([Type.String(), Type.Null()], { description: 'why the contents were not compared' }),
    identical: Type.Boolean({ description: 'both sides hold the same bytes' }),
    summary: Type.Object(
      {
        added: Type.Integer(),
        removed: Type.Integer(),
        changed: Type.Integer(),
        unchanged: Type.Integer(),
        outputs: Type.Integer(),
      },
      { additionalProperties: false },
    ),
    header: Type.Array(FieldChange, {
      description: "changes of the document's own fields (serial, lineage, generated-at, …)",
    }),
    entries: Type.Array(
      Type.Object(
        {
          address: Type.String({
            description: 'the unobin entry address, or the Terraform instance address (module.m.type.name[key])',
          }),
          action: Action,
          resource: Type.Optional(ResourceKey),
          changes: Type.Array(FieldChange),
          value: Type.Optional(
            Type.Unknown({
              description: 'the whole entry or instance when added (new) or removed (old), sensitive parts redacted',
            }),
          ),
        },
        { additionalProperties: false },
      ),
      { description: 'addresses that differ, sorted' },
    ),
    outputs: Type.Array(
      Type.Object(
        {
          name: Type.String(),
          action: Action,
          old: Type.Optional(Type.Unknown()),
          new: Type.Optional(Type.Unknown()),
          sensitive: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
      { description: 'outputs that differ, sorted by name' },
    ),
  },
  { additionalProperties: false },
)

export const DiffQuery = Type.Object(
  {
    from: Type.Optional(Rev),
    to: Type.Optional(Rev),
  },
  { additionalProperties: false },
)

export const OutputsQuery = Type.Object({ rev: Type.Optional(Rev) }, { additionalProperties: false })

/** GET …/outputs answer. */
export const OutputsResponse = Type.Object(
  {
    rev: Rev,
    kind: Type.Union([Type.Literal('unobin'), Type.Literal('terraform')]),
    outputs: Type.Record(
      Type.String(),
      Type.Object(
        {
          value: Type.Unknown({ description: `the value; "${SENSITIVE_MARKER}" when sensitive` }),
          sensitive: Type.Boolean(),
          type: Type.Unknown({ description: 'the Terraform type as the state records it; null for unobin' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, description: 'the outputs of the rev, sensitive values redacted' },
)

const PermissionName = Type.Unsafe<Permission>({ type: 'string', enum: [...PERMISSIONS] })

export const WhoamiQuery = Type.Object(
  {
    factory: Type.Optional(Name),
    stack: Type.Optional(Name),
  },
  { additionalProperties: false },
)

/** GET /v1/whoami answer. */
export const WhoamiResponse = Type.Object(
  {
    principal: Type.String({ description: 'recorded in lock holders, history and the audit log' }),
    kind: Type.Union([Type.Literal('token'), Type.Literal('oidc'), Type.Literal('anonymous')], {
      description: 'anonymous when the server has no credentials configured',
    }),
    authenticated: Type.Boolean({
      description: 'false when the server has no credentials configured (every caller holds every permission)',
    }),
    scope: Type.Object(
      { factory: Type.Union([Name, Type.Null()]), stack: Type.Union([Name, Type.Null()]) },
      {
        additionalProperties: false,
        description: 'where `permissions` hold: null means every one (a listing needs its grant there)',
      },
    ),
    permissions: Type.Array(PermissionName, { description: 'what the caller may do at `scope`' }),
  },
  { additionalProperties: false, description: 'the caller, and what it may do at the scope asked about' },
)
