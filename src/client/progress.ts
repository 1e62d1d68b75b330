/**
 * A progress bar on stderr for large transfers: shown only when stderr is a
 * TTY and the body is over 1 MB, redrawn at most ten times a second, and
 * cleared when done, so scripts and logs never see it.
 */

/** Bodies at least this large get a bar. */
export const PROGRESS_THRESHOLD = 1024 * 1024

const WIDTH = 30

/** A progress callback for one transfer (a no-op when no bar should show). */
export function progressBar(
  stderr: NodeJS.WritableStream,
  isTTY: boolean,
  label: string,
): { update: (done: number, total: number | undefined) => void; finish: () => void } {
  let shown = false
  let last = 0
  const update = (done: number, total: number | undefined): void => {
    if (!isTTY || total === undefined || total < PROGRESS_THRESHOLD) return
    const now = Date.now()
    if (done < total && now - last < 100) return
    last = now
    shown = true
    const filled = Math.round((done / total) * WIDTH)
    stderr.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${mb(done)}/${mb(total)} MB`)
  }
  const finish = (): void => {
    if (shown) stderr.write('\r\x1b[2K')
    shown = false
  }
  return { update, finish }
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1)
}
