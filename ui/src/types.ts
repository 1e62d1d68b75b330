/**
 * The API's answers as the console reads them, named once. They are not
 * written here: `api.gen.d.ts` is generated from openapi.yaml (`npm run
 * api-types`, run by `npm test` before the console is type-checked), and
 * openapi.yaml is what the server's TypeBox schemas publish (a test keeps the
 * two equal). A schema change that breaks the console fails its type check.
 * Only the console's own view of a rev (`RevDetail`, `HistoryPage`) is
 * declared here.
 */
import type { components, operations } from './api.gen.js'

type Schemas = components['schemas']
/** The JSON body of an operation's 200 answer. */
type Ok<Op extends keyof operations> = operations[Op]['responses'] extends {
  200: { content: { 'application/json': infer Body } }
}
  ? Body
  : never

/** A lock holder (GET …/lock, and the lock of a stack summary). */
export type Holder = Schemas['LockHolder']
/** One stack of GET /v1/factories/{f}/stacks. */
export type StackSummary = Schemas['StackSummary']
/** GET /v1/factories/{f}/stacks. */
export type StacksPage = Ok<'listStacks'>
/** GET /v1/factories. */
export type FactoriesPage = Ok<'listFactories'>
/** GET …/snapshots?detail=true as the server answers it: with `detail=true` the history is always there. */
export type SnapshotsDetail = Schemas['RevList'] & { history: NonNullable<Schemas['RevList']['history']> }
/** What the server recorded about the write of a rev (`metadata` of GET …/snapshots?detail=true). */
export type RevMeta = NonNullable<NonNullable<SnapshotsDetail['history']>[number]['metadata']>
/** GET /v1/whoami. */
export type Whoami = Ok<'whoami'>
/**
 * A refused call as the console holds it: the server's RFC 9457 problem
 * answer, or as much of one as there was (`unreachable` when no answer came,
 * only a detail when the body was no problem).
 */
export type Problem = Partial<Pick<Schemas['Problem'], 'status' | 'detail' | 'holder'>> & {
  readonly code?: Schemas['Problem']['code'] | 'unreachable'
  /** current-mismatch: the rev current is now (a member the problem schema leaves open). */
  readonly current?: string | null
}
/** GET …/diff. */
export type Diff = Ok<'getDiff'>
/** One change of a field: a JSON Pointer path with the value before and after (the marker when sensitive). */
export type FieldChange = Diff['header'][number]

/** One rev as the console's history shows it. */
export interface RevDetail {
  readonly rev: string
  readonly current: boolean
  readonly meta: RevMeta | null
}

/** A page of the console's history, newest first. */
export interface HistoryPage {
  readonly revs: RevDetail[]
  readonly current: string | null
  readonly next: string | null
}
