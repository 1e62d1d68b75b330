/**
 * Schema compilers that compile on first use. Fastify compiles every route's
 * validators and response serializers while the app gets ready; with some 50
 * routes (most of them twice, for HEAD) that was most of the server's
 * start-up. Here each compiled function is made the first time a request
 * needs it, or earlier by `warmUp`, which the server runs after it listens,
 * one schema per turn of the event loop, so a request never waits behind
 * more than one compilation.
 */
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import type { FastifyValidationResult } from 'fastify/types/schema.js'

type Validator = FastifyValidationResult
type Serializer = (data: unknown) => string

/** The compilations not made yet; `warmUp` empties it. */
export class LazyCompilers {
  readonly #pending = new Set<() => void>()

  /** A validator that compiles with `compile` when it first runs (Fastify reads `errors` off the function). */
  validator(compile: () => Validator): Validator {
    let compiled: Validator | undefined
    const make = (): Validator => {
      this.#pending.delete(make)
      compiled ??= compile()
      return compiled
    }
    this.#pending.add(make)
    const lazy: Validator = (data) => {
      const fn = compiled ?? make()
      const result = fn(data)
      lazy.errors = fn.errors
      return result
    }
    return lazy
  }

  /**
   * Fastify's default serializer factory (fast-json-stringify, with the shared
   * schemas), each route's serializer made on first use. A GET route and its
   * HEAD twin share their response schemas and so one serializer.
   */
  readonly buildSerializer = (externalSchemas: unknown, options: unknown): ((route: RouteSchema) => Serializer) => {
    const compile = SerializerSelector()(externalSchemas, options as never)
    const made = new WeakMap<object, Serializer>()
    return (route) => {
      let compiled: Serializer | undefined
      const make = (): Serializer => {
        this.#pending.delete(make)
        compiled ??= made.get(route.schema as object)
        if (compiled === undefined) {
          compiled = compile(route)
          made.set(route.schema as object, compiled)
        }
        return compiled
      }
      this.#pending.add(make)
      return (data) => (compiled ?? make())(data)
    }
  }

  /** How many compilations are still to be made. */
  get pending(): number {
    return this.#pending.size
  }

  /** Makes every pending compilation, one per macrotask, until none is left or `signal` aborts; resolves to how many it made. */
  async warmUp(signal?: AbortSignal): Promise<number> {
    let made = 0
    for (const make of this.#pending) {
      if (signal?.aborted === true) break
      make()
      made++
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    return made
  }
}

interface RouteSchema {
  readonly schema?: unknown
  readonly method: string
  readonly url: string
  readonly httpStatus: string
}
