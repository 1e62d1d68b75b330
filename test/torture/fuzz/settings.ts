/** How much the fuzz runs, the limits its apps are built with, the placeholders of generated requests, and the figures it reports. */
import { sized } from '../../helpers/torture.js'

export const RUNS = { routes: sized(400, 8000), headers: sized(300, 6000), bodies: sized(500, 10_000) }
/** Longest lock wait a request may ask for (seconds): a wait on a held lock costs this much. */
export const MAX_WAIT_SECONDS = 0.05
/** Body limit of the body world (413 above); deep and oversize bodies cross it. */
export const BODY_LIMIT = 256 * 1024
/** A world is rebuilt from its seed when its tree holds more entries than this... */
export const MAX_TREE_ENTRIES = 300
/** ...or after this many answers that changed it. */
export const MAX_CHANGES = 120
/** find-my-way's parameter limit as src/app.ts configures it (routerOptions.maxParamLength). */
export const MAX_PARAM_LENGTH = 256
/** The contract's name pattern (README, Names). */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
export const JSON_TYPE = 'application/json'
export const LINEAGE = '7b0c1e2a-0000-4000-8000-00000000f022'
export const TF_LOCK_ID = 'c0ffee00-0000-4000-8000-00000000f022'
export const GITHUB = 'https://token.actions.githubusercontent.com'
export const AUDIENCE = 'https://state.example.test'

/** Placeholders in generated bodies, headers and queries, filled from the world at run time (so counterexamples stay readable and replayable). */
export const HOLDER = '@HOLDER@'
export const REV0 = '@REV0@'
export const REV1 = '@REV1@'
export const TRASHED = '@TRASHED@'

// --- figures -----------------------------------------------------------------

export const figures = { casesFuzzed: 0, answered4xx: 0, answered2xx: 0, fsCallsChecked: 0 }
/** Answers by status and code, per property (printed as a comment, to see what the fuzz reached). */
export const answers = new Map<string, number>()
/** The properties (and end checks) that failed. */
export const failed: string[] = []
