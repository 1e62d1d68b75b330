/**
 * The API's answers as the console reads them (the server's schemas in
 * src/http/schemas.ts are the source of truth; openapi.yaml publishes them).
 */

/** A lock holder (GET …/lock, and the lock of a stack summary). */
export interface Holder {
  readonly id: string
  readonly generation: number
  readonly who: string
  readonly operation: string
  readonly info: string
  readonly principal: string | null
  readonly remote: string | null
  readonly created: string | null
  readonly expires: string | null
  readonly pid: number | null
  readonly host: string | null
  readonly legacy: boolean
}

/** One stack of GET /v1/factories/{f}/stacks. */
export interface StackSummary {
  readonly name: string
  readonly current: string | null
  readonly revs: number
  readonly lock: Holder | null
  readonly error: string | null
}

export interface StacksPage {
  readonly factory: string
  readonly stacks: StackSummary[]
  readonly next: string | null
}

export interface FactoriesPage {
  readonly factories: Array<{ readonly name: string; readonly stacks: number }>
  readonly next: string | null
}

/** What the server recorded about the write of a rev (`metadata` of GET …/snapshots?detail=true). */
export interface RevMeta {
  readonly principal: string | null
  readonly remote: string | null
  readonly requestId: string | null
  /** The lock the writer held, or null when the stack was not locked. */
  readonly lock: {
    readonly id: string
    readonly who: string
    readonly operation: string
    readonly principal: string | null
  } | null
  readonly bytes: number
  readonly sha256: string
  readonly kind: 'unobin' | 'terraform' | 'opaque'
  readonly serial: number | null
  readonly lineage: string | null
}

/** GET …/snapshots?detail=true as the server answers it. */
export interface SnapshotsDetail {
  readonly revs: string[]
  readonly current: string | null
  readonly next: string | null
  readonly history: Array<{ readonly rev: string; readonly current: boolean; readonly metadata: RevMeta | null }>
}

/** One rev of GET …/snapshots?detail=true. */
export interface RevDetail {
  readonly rev: string
  readonly current: boolean
  readonly meta: RevMeta | null
}

export interface HistoryPage {
  readonly revs: RevDetail[]
  readonly current: string | null
  readonly next: string | null
}

/** GET /v1/whoami. */
export interface Whoami {
  readonly principal: string
  /** Whether credentials are configured (false: every caller is anonymous with every permission). */
  readonly authenticated: boolean
  /** The permissions held on the factory/stack asked about. */
  readonly permissions: readonly string[]
}

/** An RFC 9457 problem answer. */
export interface Problem {
  readonly code?: string
  readonly detail?: string
  readonly status?: number
  readonly holder?: Holder
  readonly current?: string | null
}

/** One change of a field: a JSON Pointer path with the value before and after (the marker when sensitive). */
export interface FieldChange {
  readonly op: 'add' | 'remove' | 'replace'
  readonly path: string
  readonly old?: unknown
  readonly new?: unknown
  readonly sensitive?: true
}

/** The facts of one side of a diff. */
export interface DocumentFacts {
  readonly rev: string
  readonly kind: 'unobin' | 'terraform' | 'opaque'
  readonly bytes: number
  readonly sha256: string
  readonly serial: number | null
  readonly lineage: string | null
}

/** GET …/diff. */
export interface Diff {
  readonly kind: 'unobin' | 'terraform' | 'opaque'
  readonly from: DocumentFacts | null
  readonly to: DocumentFacts
  readonly comparable: boolean
  readonly detail: string | null
  readonly identical: boolean
  readonly summary: {
    readonly added: number
    readonly removed: number
    readonly changed: number
    readonly unchanged: number
    readonly outputs: number
  }
  readonly header: readonly FieldChange[]
  readonly entries: ReadonlyArray<{
    readonly address: string
    readonly action: 'added' | 'removed' | 'changed'
    readonly changes: readonly FieldChange[]
    readonly value?: unknown
  }>
  readonly outputs: ReadonlyArray<{
    readonly name: string
    readonly action: 'added' | 'removed' | 'changed'
    readonly old?: unknown
    readonly new?: unknown
    readonly sensitive: boolean
  }>
}
