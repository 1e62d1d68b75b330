/**
 * The schema of a rev's history entry (`GET …/snapshots?detail=true`): the
 * rev, whether it is current, and who wrote it, as the store recorded it
 * (see `RevMeta`), or null for a rev written by another tool.
 */
import { Type } from 'typebox'
import { Rev } from './name-schemas.js'

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T, description: string) =>
  Type.Union([schema, Type.Null()], { description })

/** What the server recorded when it wrote a rev. */
export const RevMetadata = Type.Object(
  {
    principal: nullable(Type.String(), 'the authenticated caller that wrote the rev'),
    remote: nullable(Type.String(), 'the address the write came from'),
    requestId: nullable(Type.String(), 'the request id of the write (in the access log and the audit log)'),
    lock: nullable(
      Type.Object(
        {
          id: Type.String(),
          who: Type.String(),
          operation: Type.String(),
          principal: nullable(Type.String(), 'the caller that took the lock'),
        },
        { additionalProperties: false },
      ),
      'the lock the writer held, as its holder claimed it; null when the stack was not locked',
    ),
    bytes: Type.Integer({ description: 'size of the stored document' }),
    sha256: Type.String({ description: 'SHA-256 (hex) of the stored document' }),
    kind: Type.Union([Type.Literal('unobin'), Type.Literal('terraform'), Type.Literal('opaque')], {
      description: 'unobin snapshot, Terraform/OpenTofu state, or opaque (a state its client encrypted)',
    }),
    serial: nullable(Type.Integer(), 'Terraform serial; null for unobin snapshots'),
    lineage: nullable(Type.String(), 'Terraform lineage; null for unobin snapshots'),
  },
  { additionalProperties: false },
)

/** One rev of a history page. */
export const RevHistoryEntry = Type.Object(
  {
    rev: Rev,
    current: Type.Boolean(),
    metadata: nullable(
      RevMetadata,
      'null: written by another tool (the Go tool), or before the server recorded who wrote each rev',
    ),
  },
  { additionalProperties: false },
)
