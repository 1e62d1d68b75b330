/**
 * Re-sealing one stored rev (or trash entry) with the sealing key, for key
 * rotation: the same plaintext under the same name, replaced atomically.
 */
import { join } from 'node:path'
import type { Encrypter } from '../../crypto/encrypter.js'
import { StateError, isStateError } from '../../errors.js'
import { type PiecewiseContent, readNoFollow, replaceAtomic } from '../../fs/durable.js'
import { lstatIfPresent } from '../../fs/fs-ops.js'
import type { Mutex } from '../../fs/mutex.js'
import { SLICED_BYTES, envelopeToWrite, openEnvelopeFile } from '../envelope-slices.js'
import { decodeEnvelope } from '../envelope.js'
import type { ResealOutcome } from '../store.js'
import { revFile, trashName } from './layout.js'
import type { StackDir } from './stack-dir.js'

/**
 * Reads rev `rev` (the trash entry pruned at `trashedAt`, when given), opens
 * it with any configured key, seals the same plaintext with the sealing key
 * and atomically replaces the file (temp file, fsync, rename, directory
 * fsync), so a crash leaves the old or the new envelope, both readable while
 * the old key is configured (a large rev is opened and sealed in slices,
 * never blocking the event loop for long). A rev the sealing key already
 * opens is skipped, so a rerun resumes where a killed run stopped. Runs in
 * the stack's mutex so that a rev being deleted is never brought back. Throws
 * `unreadable-snapshot` when no configured key opens the rev.
 */
export async function resealRev(
  dir: StackDir,
  encrypter: Encrypter,
  mutex: Mutex,
  rev: string,
  trashedAt: string | undefined,
): Promise<ResealOutcome> {
  const where = trashedAt === undefined ? `rev ${rev}` : `rev ${rev} in the trash`
  const parent = trashedAt === undefined ? dir.snapshots : dir.trash
  const name = trashedAt === undefined ? revFile(rev) : trashName(rev, trashedAt)
  return mutex.run(async (): Promise<ResealOutcome> => {
    const path = join(parent, name)
    let resealed: Buffer | PiecewiseContent
    try {
      // A large rev is opened and sealed in slices, as a read and a write are (a turn of the event loop each).
      const st = await lstatIfPresent(dir.fs, path)
      if (st === undefined) return 'absent'
      const sliced = st.size >= SLICED_BYTES ? await openEnvelopeFile(dir.fs, path, encrypter) : undefined
      if (sliced !== undefined) {
        if (sliced.bySealingKey) return 'skipped'
        resealed = envelopeToWrite(sliced.body, sliced.payloadType, encrypter)
      } else {
        const bytes = await readNoFollow(dir.fs, path)
        if (bytes === undefined) return 'absent'
        const envelope = decodeEnvelope(bytes)
        if (encrypter.isSealedWithSealingKey(envelope.ciphertext, envelope.encrypter)) return 'skipped'
        resealed = envelopeToWrite(
          encrypter.open(envelope.ciphertext, envelope.encrypter),
          envelope.payloadType,
          encrypter,
        )
      }
    } catch (err) {
      if (isStateError(err, 'unreadable-snapshot')) {
        throw new StateError('unreadable-snapshot', `${where} of ${dir.name} cannot be re-sealed: ${err.message}`, {
          ...dir.where(),
          rev,
          ...err.details,
        })
      }
      throw err
    }
    await replaceAtomic(dir.fs, parent, name, resealed)
    return 'resealed'
  })
}
