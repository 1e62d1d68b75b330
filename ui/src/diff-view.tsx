/**
 * The diff of two revs (GET …/diff): a summary, then every address that
 * differs grouped as the server sends it (added, removed, changed with its
 * changed fields, old → new), the outputs, and the document's own fields
 * (serial, lineage). Unchanged addresses are collapsed into their count.
 * Sensitive values arrive already replaced by the server's marker.
 */
import { useEffect, useState } from 'preact/hooks'
import { json, stackPath } from './api.js'
import { href } from './route.js'
import { bytes } from './time.js'
import type { Diff, FieldChange } from './types.js'
import { ErrorLine } from './widgets.js'

const SIGN = { added: '+', removed: '−', changed: '~' } as const

export function DiffView({ factory, stack, from, to }: { factory: string; stack: string; from: string; to: string }) {
  const [diff, setDiff] = useState<Diff | null>(null)
  const [error, setError] = useState<unknown>(null)
  useEffect(() => {
    setDiff(null)
    setError(null)
    const q = new URLSearchParams({ from, to })
    json<Diff>(`${stackPath(factory, stack)}/diff?${q}`).then(setDiff, setError)
  }, [factory, stack, from, to])
  const back = href({ page: 'stack', factory, stack, view: { kind: 'history' } })
  return (
    <section class="diff" aria-labelledby="diff-title">
      <div class="toolbar">
        <h2 id="diff-title">
          Diff <code class="rev">{from}</code> → <code class="rev">{to}</code>
        </h2>
        <a href={back}>Back to history</a>
      </div>
      <ErrorLine error={error} />
      {diff === null && error === null && <p aria-busy="true">Comparing…</p>}
      {diff !== null && <DiffBody diff={diff} />}
    </section>
  )
}

function DiffBody({ diff }: { diff: Diff }) {
  const s = diff.summary
  if (!diff.comparable) {
    return (
      <div class="opaque">
        <p>{diff.detail ?? 'The contents cannot be compared.'}</p>
        <p>
          {diff.from !== null && <>From: {bytes(diff.from.bytes)}. </>}To: {bytes(diff.to.bytes)}.{' '}
          {diff.identical ? 'The bytes are identical.' : 'The bytes differ.'}
        </p>
      </div>
    )
  }
  return (
    <>
      <p class="summary-line" role="status">
        {diff.identical ? 'The two revs are identical. ' : ''}
        <span class="added">{s.added} added</span>, <span class="removed">{s.removed} removed</span>,{' '}
        <span class="changed">{s.changed} changed</span>, {s.unchanged} unchanged; {s.outputs} output
        {s.outputs === 1 ? '' : 's'} changed.
        {diff.kind === 'terraform' && diff.from !== null && (
          <>
            {' '}
            Serial {diff.from.serial ?? '?'} → {diff.to.serial ?? '?'}.
          </>
        )}
      </p>
      {diff.entries.length > 0 && (
        <ul class="entries" aria-label="Changed addresses">
          {diff.entries.map((e) => (
            <li key={e.address} class={`entry ${e.action}`}>
              <details open={e.action === 'changed'}>
                <summary>
                  <span class="sign" aria-hidden="true">
                    {SIGN[e.action]}
                  </span>{' '}
                  <code>{e.address}</code> <span class="action">{e.action}</span>
                  {e.action === 'changed' && (
                    <span class="muted">
                      {' '}
                      ({e.changes.length} field{e.changes.length === 1 ? '' : 's'})
                    </span>
                  )}
                </summary>
                {e.action === 'changed' ? <Changes changes={e.changes} /> : <pre class="value">{pretty(e.value)}</pre>}
              </details>
            </li>
          ))}
        </ul>
      )}
      {s.unchanged > 0 && (
        <p class="muted collapsed">
          {s.unchanged} unchanged address{s.unchanged === 1 ? '' : 'es'} not shown.
        </p>
      )}
      {diff.outputs.length > 0 && (
        <>
          <h3>Outputs</h3>
          <table class="fields">
            <thead>
              <tr>
                <th scope="col">Output</th>
                <th scope="col">Change</th>
                <th scope="col">Before</th>
                <th scope="col">After</th>
              </tr>
            </thead>
            <tbody>
              {diff.outputs.map((o) => (
                <tr key={o.name} class={o.action}>
                  <th scope="row">
                    <code>{o.name}</code>
                    {o.sensitive && <span class="badge">sensitive</span>}
                  </th>
                  <td>{o.action}</td>
                  <td>
                    <Value v={o.old} present={'old' in o} />
                  </td>
                  <td>
                    <Value v={o.new} present={'new' in o} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {diff.header.length > 0 && (
        <>
          <h3>Document fields</h3>
          <Changes changes={diff.header} />
        </>
      )}
    </>
  )
}

function Changes({ changes }: { changes: readonly FieldChange[] }) {
  return (
    <table class="fields">
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((c) => (
          <tr key={c.path} class={c.op}>
            <th scope="row">
              <code>{c.path === '' ? '(whole value)' : c.path}</code>
              {c.sensitive === true && <span class="badge">sensitive</span>}
            </th>
            <td>
              <Value v={c.old} present={c.op !== 'add'} />
            </td>
            <td>
              <Value v={c.new} present={c.op !== 'remove'} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function Value({ v, present }: { v: unknown; present: boolean }) {
  if (!present) return <span class="muted">absent</span>
  return <code class="value">{typeof v === 'string' ? JSON.stringify(v) : pretty(v)}</code>
}

/** JSON with two-space indent (undefined as empty). */
export function pretty(v: unknown): string {
  return v === undefined ? '' : JSON.stringify(v, null, 2)
}
