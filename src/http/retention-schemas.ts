/** The schemas of the retention routes: prune, the trash, restore and re-seal. */
import { type Static, Type } from 'typebox'
import { Rev } from './name-schemas.js'
import { ref } from './schema-ref.js'

/** Body of POST …/snapshots:prune (without rules: the server's configured policy). */
export const PruneRequest = Type.Object(
  {
    keep: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'keep the newest N revs' })),
    maxAge: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 3_153_600_000,
        description: 'keep revs written less than this many seconds ago (at most 100 years)',
      }),
    ),
    dryRun: Type.Optional(Type.Boolean({ default: false, description: 'report what would move, move nothing' })),
  },
  { additionalProperties: false },
)
/** The shared `TrashEntry` schema (registered once; routes reference it through `TrashEntry`). */
export const TrashEntrySchema = Type.Object(
  {
    rev: Rev,
    deletedAt: Type.String({ description: 'when a prune moved it to the trash' }),
    purgeAfter: Type.String({ description: 'when it may be purged (deletedAt + the trash window)' }),
  },
  { $id: 'TrashEntry', additionalProperties: false, description: 'one rev in the trash of a stack' },
)
/** One rev in a stack's trash (the shared `TrashEntry` schema). */
export const TrashEntry = ref<Static<typeof TrashEntrySchema>>('TrashEntry')
export const PruneResponse = Type.Object(
  {
    trashed: Type.Array(Type.String(), {
      description: 'revs moved (or, with dryRun, to move) to the trash, oldest first',
    }),
    kept: Type.Array(Type.String()),
    purged: Type.Array(TrashEntry, {
      description: 'trash entries past the trash window, removed for good (or to remove, with dryRun)',
    }),
    policy: Type.Object(
      { keep: Type.Union([Type.Integer(), Type.Null()]), maxAge: Type.Union([Type.Integer(), Type.Null()]) },
      { additionalProperties: false },
    ),
    dryRun: Type.Boolean(),
  },
  { additionalProperties: false, description: 'what the prune moved, kept and purged (or, with dryRun, would)' },
)
export const TrashResponse = Type.Object(
  { revs: Type.Array(TrashEntry), windowDays: Type.Number() },
  { additionalProperties: false, description: 'the trash of the stack' },
)
export const RestoreRequest = Type.Object({ rev: Rev }, { additionalProperties: false })
export const RestoreResponse = Type.Object(
  { rev: Rev, deletedAt: Type.String(), restored: Type.Boolean() },
  { additionalProperties: false, description: 'the rev is back in the history' },
)
export const ResealResponse = Type.Object(
  {
    resealed: Type.Integer({ description: 'revs re-sealed with the sealing key' }),
    skipped: Type.Integer({ description: 'revs already sealed with the sealing key' }),
    failed: Type.Array(
      Type.Object({ rev: Rev, trashed: Type.Boolean(), detail: Type.String() }, { additionalProperties: false }),
      { description: 'revs no configured key opens (left as they are)' },
    ),
    sealedWith: Type.String({ description: 'the sealing key (its source, never the key)' }),
  },
  { additionalProperties: false, description: 'what the re-seal did' },
)
