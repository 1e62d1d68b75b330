/**
 * The named static tokens of the tokens file. A presented token is hashed
 * and compared with every stored hash in constant time, without stopping at
 * the first match, so the time taken says nothing about which token (or
 * how much of one) was right.
 */
import type { Identity } from './identity.js'
import type { Grant } from './policy.js'
import { digestOfToken, sameDigest } from './token-hash.js'

/** A token as configured: its name (the principal), digest and grants. */
export interface StaticToken {
  readonly name: string
  readonly digest: Buffer
  readonly grants: readonly Grant[]
}

/** Finds the identity of a presented static token. */
export class StaticTokens {
  readonly #tokens: readonly StaticToken[]

  constructor(tokens: readonly StaticToken[]) {
    this.#tokens = tokens
  }

  /** How many tokens are configured. */
  get size(): number {
    return this.#tokens.length
  }

  /** The identity of `secret`, or undefined when no token matches. */
  find(secret: string): Identity | undefined {
    const digest = digestOfToken(secret)
    let found: StaticToken | undefined
    for (const token of this.#tokens) {
      if (sameDigest(digest, token.digest) && found === undefined) found = token
    }
    return found === undefined ? undefined : { principal: found.name, kind: 'token', grants: found.grants }
  }
}
