/** A typed reference to a shared schema (one component of the OpenAPI document). */
import { type TUnsafe, Type } from 'typebox'

/**
 * A reference to the shared schema `id` (registered with `app.addSchema`,
 * published once under `#/components/schemas/<id>`), typed as `T` so routes
 * that answer with it keep their reply types.
 */
export function ref<T>(id: string): TUnsafe<T> {
  return Type.Unsafe<T>(Type.Ref(id))
}
