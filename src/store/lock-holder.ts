/**
 * The lock holder record, described once: the store keeps and returns it,
 * and the API publishes the same properties as its `LockHolder` schema.
 * TypeBox is a schema library, not HTTP: the store stays free of the API.
 */
import { type Static, Type } from 'typebox'

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T, description?: string) =>
  Type.Union([schema, Type.Null()], description === undefined ? {} : { description })

/** The properties of a lock holder, as recorded in the `lock` marker. */
export const LOCK_HOLDER_PROPERTIES = {
  id: Type.String({ description: 'the lock id: its holder presents it to change the stack and to unlock' }),
  generation: Type.Integer({
    description: 'fencing token: grows at every acquisition and force-unlock of the stack',
  }),
  who: Type.String(),
  operation: Type.String(),
  info: Type.String(),
  principal: nullable(Type.String(), 'the authenticated caller that took the lock'),
  remote: nullable(Type.String(), 'the address the lock request came from'),
  created: nullable(Type.String(), 'when the lock was taken (RFC 3339); null for a marker the Go tool wrote'),
  expires: nullable(Type.String(), 'end of the lease; null when the lock has no lease'),
  pid: nullable(Type.Integer()),
  host: nullable(Type.String()),
  client: nullable(Type.Object({}, { additionalProperties: true }), 'client facts kept verbatim (Terraform LockInfo)'),
  legacy: Type.Boolean({ description: 'true for a lock taken by the unobin Go tool (only force-unlock removes it)' }),
}

const LockHolderShape = Type.Object(LOCK_HOLDER_PROPERTIES)

/** The holder of a stack's lock, as recorded in the `lock` marker. */
export type LockHolder = Readonly<Omit<Static<typeof LockHolderShape>, 'client'>> & {
  /** Client facts kept verbatim (Terraform LockInfo), or null. */
  readonly client: Readonly<Record<string, unknown>> | null
}
