/**
 * The entry of a parse worker thread (see parse-pool.ts): receives a body
 * and a task, runs the same function the main thread would (so the answer,
 * error code and message included, is the same), and posts back the result
 * or the state error as plain data.
 */
import { parentPort } from 'node:worker_threads'
import { isStateError } from '../errors.js'
import { validateUnobinSnapshot } from '../store/unobin-snapshot.js'
import { readStateMeta } from '../terraform/state-meta.js'
import { ValueCounter, tooManyValues } from './count-values.js'
import { MAX_VALUES, type ParseReply, type ParseRequest } from './parse-pool.js'

parentPort?.on('message', (request: ParseRequest) => {
  const body = Buffer.from(request.bytes.buffer, request.bytes.byteOffset, request.bytes.byteLength)
  let reply: ParseReply
  try {
    // A parse past the heap cap would thrash the collector for minutes before failing: refuse such a document at once.
    const counter = new ValueCounter(body)
    counter.advance(body.length)
    if (counter.count > MAX_VALUES) throw tooManyValues(counter.count, MAX_VALUES)
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
