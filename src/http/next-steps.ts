/**
 * What to do next, per error code. The store's errors say what happened
 * (which stack, which rev, why) and know nothing of routes, headers or
 * flags; the HTTP layer knows which of those helps, and adds it to the
 * problem's `detail` here, keyed by the error's code (and, where one code
 * has several causes, by a fact in its details).
 */
import type { ErrorCode, StateError } from '../errors.js'

type NextStep = (details: Readonly<Record<string, unknown>>) => string | undefined

const NEXT_STEPS: Partial<Record<ErrorCode, NextStep>> = {
  'rev-not-found': (d) =>
    d.place === 'trash'
      ? 'list the trash with GET …/trash (entries are purged after the trash window)'
      : 'list the revs with GET …/snapshots',
  'dangling-current': () => 'point current at a stored rev (PUT …/current) after checking the history',
  locked: () =>
    'wait for it (POST …/lock?wait=seconds), or if the holder is gone, force-unlock it (DELETE …/lock?force=true)',
  'lock-required': () => 'take the lock (POST …/lock) and send its id in the Lock-Id header',
  'factory-not-found': () => 'check the name (GET /v1/factories lists them)',
  'name-case-conflict': (d) => `use the existing name "${String(d.existing)}", spelled exactly as it is`,
  'invalid-request': (d) =>
    d.missing === 'retention-rule'
      ? 'give keep or maxAge in the request, or configure --retention-keep / --retention-max-age on the server'
      : undefined,
}

/** The error's message with the next step for its code appended (the message alone when there is none). */
export function detailWithNextStep(err: StateError): string {
  const step = NEXT_STEPS[err.code]?.(err.details)
  return step === undefined ? err.message : `${err.message}; ${step}`
}
