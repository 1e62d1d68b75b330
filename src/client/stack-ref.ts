/** `factory/stack` as the client's commands name a stack, checked with the server's own name rule. */
import { NAME_PATTERN } from '../store/names.js'
import { usageError } from './exit-codes.js'

const NAME = new RegExp(NAME_PATTERN)

/** A stack named on the command line. */
export interface StackRef {
  readonly factory: string
  readonly stack: string
}

/** Parses `factory/stack`; throws a usage error (exit 2) naming the rule otherwise. */
export function parseStackRef(text: string): StackRef {
  const parts = text.split('/')
  if (parts.length !== 2 || !NAME.test(parts[0]!) || !NAME.test(parts[1]!)) {
    throw usageError(`"${text}" is not factory/stack: each name matches ${NAME_PATTERN}`)
  }
  return { factory: parts[0]!, stack: parts[1]! }
}

/** Checks a lone factory name. */
export function parseFactory(text: string): string {
  if (!NAME.test(text)) throw usageError(`"${text}" is not a factory name: it must match ${NAME_PATTERN}`)
  return text
}

/** `factory/stack` for messages. */
export function formatStackRef(ref: StackRef): string {
  return `${ref.factory}/${ref.stack}`
}
