/**
 * The entry of a parse worker thread (see parse-pool.ts): receives a body
 * and a task, runs the same function the main thread would (so the answer,
 * error code and message included, is the same), and posts back the result
 * or the state error as plain data.
 */
import { parentPort } from 'node:worker_threads'
import { StateError, isStateError } from '../errors.js'
import { validateUnobinSnapshot } from '../store/unobin-snapshot.js'
import { readStateMeta } from '../terraform/state-meta.js'
import { MAX_VALUES, type ParseReply, type ParseRequest } from './parse-pool.js'

/**
 * About how many JSON values `bytes` holds: the structural characters
 * outside strings (each `{`, `[`, `,` and `:` starts a value or a member).
 * One pass over the bytes, no allocation: cheap next to the parse it guards.
 */
function countValues(bytes: Buffer): number {
  let count = 1
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!
    if (inString) {
      if (c === 0x5c)
        i++ // a backslash escapes the next byte
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b || c === 0x2c || c === 0x3a) count++
  }
  return count
}

parentPort?.on('message', (request: ParseRequest) => {
  const body = Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength)
  let reply: ParseReply
  try {
    // A parse past the heap cap would thrash the collector for minutes before failing: refuse such a document at once.
    const values = countValues(body)
    if (values > MAX_VALUES)
      throw new StateError(
        'body-too-large',
        `the document holds about ${values} JSON values, more than the server parses at once (${MAX_VALUES}): send a smaller document`,
        { values, maxValues: MAX_VALUES },
      )
    if (request.task === 'unobin-snapshot') {
      validateUnobinSnapshot(body)
      reply = { id: request.id, result: null }
    } else {
      reply = { id: request.id, result: readStateMeta(body) }
    }
  } catch (err) {
    reply = isStateError(err)
      ? { id: request.id, error: { code: err.code, message: err.message, details: err.details } }
      : {
          id: request.id,
          error: { code: null, message: err instanceof Error ? err.message : String(err), details: {} },
        }
  }
  parentPort?.postMessage(reply)
})
