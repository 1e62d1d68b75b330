/**
 * The request id: an incoming `X-Request-Id` is kept when it is a plausible
 * id (1–128 of letters, digits and `. _ : / + = @ -`), so a CI job id can be
 * followed from the job's log through the server log and the audit log;
 * anything else (absent, too long, spaces, control characters, several
 * headers) is replaced by a fresh UUID, so a caller cannot forge log lines
 * or bloat them.
 */
import { randomUUID } from 'node:crypto'

/** What an incoming request id must look like to be kept. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:/+=@-]{1,128}$/

/** The request id for a request whose `X-Request-Id` header is `header`. */
export function requestIdFor(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID_PATTERN.test(header) ? header : randomUUID()
}
