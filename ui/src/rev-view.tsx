/**
 * One rev opened: the whole document pretty-printed as GET …/snapshots/{rev}?redacted=true
 * answers it (sensitive values replaced by the server's marker, so they never
 * reach the page), and a download of the rev exactly as stored (fetched with
 * the tab's token, saved as a file).
 */
import { useEffect, useState } from 'preact/hooks'
import { call, stackPath } from './api.js'
import { pretty } from './diff-view.js'
import { href } from './route.js'
import { ErrorLine } from './widgets.js'

export function RevView({
  factory,
  stack,
  rev,
  canRead,
}: {
  factory: string
  stack: string
  rev: string
  canRead: boolean
}) {
  const path = `${stackPath(factory, stack)}/snapshots/${encodeURIComponent(rev)}`
  const [text, setText] = useState<string | null>(null)
  const [error, setError] = useState<unknown>(null)
  useEffect(() => {
    setText(null)
    setError(null)
    call(`${path}?redacted=true`).then(async (res) => setText(pretty(await res.json())), setError)
  }, [path])
  const download = async () => {
    setError(null)
    try {
      const blob = await (await call(path)).blob()
      const url = URL.createObjectURL(blob)
      const a = document.createElement('a')
      a.href = url
      a.download = `${factory}-${stack}-${rev.replace(/:/g, '')}.json`
      document.body.append(a)
      a.click()
      a.remove()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
    } catch (err) {
      setError(err)
    }
  }
  return (
    <section class="rev-view" aria-labelledby="rev-title">
      <div class="toolbar">
        <h2 id="rev-title">
          Rev <code class="rev">{rev}</code>
        </h2>
        {canRead && (
          <button type="button" onClick={download}>
            Download as stored
          </button>
        )}
        <a href={href({ page: 'stack', factory, stack, view: { kind: 'history' } })}>Back to history</a>
      </div>
      <p class="muted">
        This rev as stored, except that sensitive values are replaced by the server before they reach this page. The
        download is the whole rev exactly as stored.
      </p>
      <ErrorLine error={error} />
      {text === null && error === null && <p aria-busy="true">Loading…</p>}
      {text !== null && <pre class="document">{text}</pre>}
    </section>
  )
}
