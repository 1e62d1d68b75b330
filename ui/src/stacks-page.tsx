/**
 * The stacks page: the factories, and one factory's stacks in a table with
 * the current rev and its age, the rev count and the lock (holder,
 * principal, held for, lease left). The name filter and the paging are done
 * by the server (?match=, ?after=, ?limit=), so a factory of 10,000 stacks
 * costs one page of summaries per view.
 */
import { useEffect, useState } from 'preact/hooks'
import { json } from './api.js'
import { heldFor, holderName, leaseLeft } from './lock-text.js'
import { href } from './route.js'
import { revTime } from './time.js'
import type { FactoriesPage, StackSummary, StacksPage as StacksAnswer } from './types.js'
import { ErrorLine, Time, useNow } from './widgets.js'

/** Stacks per page of the table. */
const PAGE = 50

export function StacksPage({ factory }: { factory: string | null }) {
  const [factories, setFactories] = useState<FactoriesPage['factories'] | null>(null)
  const [error, setError] = useState<unknown>(null)

  useEffect(() => {
    json<FactoriesPage>('/v1/factories?limit=10000').then((page) => {
      setFactories(page.factories)
      const first = page.factories[0]
      if (factory === null && first !== undefined) location.replace(href({ page: 'stacks', factory: first.name }))
    }, setError)
  }, [])

  return (
    <main class="stacks-page">
      <nav class="factories" aria-label="Factories">
        <h2>Factories</h2>
        <ErrorLine error={error} />
        {factories !== null && factories.length === 0 && (
          <p class="muted">No stacks yet: the first write to /v1/factories/F/stacks/S creates one.</p>
        )}
        <ul>
          {factories?.map((f) => (
            <li key={f.name}>
              <a
                href={href({ page: 'stacks', factory: f.name })}
                aria-current={f.name === factory ? 'page' : undefined}
              >
                {f.name} <span class="count">{f.stacks}</span>
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {factory !== null && <StackTable key={factory} factory={factory} />}
    </main>
  )
}

function StackTable({ factory }: { factory: string }) {
  const now = useNow()
  const [filter, setFilter] = useState('')
  const [query, setQuery] = useState('')
  const [cursors, setCursors] = useState<Array<string | null>>([null])
  const [page, setPage] = useState<StacksAnswer | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [loading, setLoading] = useState(false)
  const after = cursors[cursors.length - 1] ?? null

  useEffect(() => {
    const timer = setTimeout(() => {
      setQuery(filter.trim())
      setCursors([null])
    }, 250)
    return () => clearTimeout(timer)
  }, [filter])

  useEffect(() => {
    const abort = new AbortController()
    const params = new URLSearchParams({ limit: String(PAGE) })
    if (after !== null) params.set('after', after)
    if (query !== '') params.set('match', query)
    setLoading(true)
    json<StacksAnswer>(`/v1/factories/${encodeURIComponent(factory)}/stacks?${params}`, { signal: abort.signal }).then(
      (p) => {
        setPage(p)
        setError(null)
        setLoading(false)
      },
      (err: unknown) => {
        if (abort.signal.aborted) return
        setError(err)
        setLoading(false)
      },
    )
    return () => abort.abort()
  }, [factory, query, after])

  return (
    <section class="stack-table" aria-labelledby="stacks-title">
      <div class="toolbar">
        <h1 id="stacks-title">Stacks of {factory}</h1>
        <label class="filter">
          <span>Filter by name</span>
          <input
            type="search"
            value={filter}
            onInput={(e) => setFilter(e.currentTarget.value)}
            placeholder="part of a stack name"
          />
        </label>
      </div>
      <ErrorLine error={error} />
      <table aria-busy={loading ? 'true' : 'false'}>
        <thead>
          <tr>
            <th scope="col">Stack</th>
            <th scope="col">Current rev</th>
            <th scope="col" class="num">
              Revs
            </th>
            <th scope="col">Lock</th>
            <th scope="col">Held for</th>
            <th scope="col">Lease left</th>
          </tr>
        </thead>
        <tbody>
          {page?.stacks.map((s) => (
            <StackRow key={s.name} factory={factory} s={s} now={now} />
          ))}
          {page !== null && page.stacks.length === 0 && (
            <tr>
              <td colSpan={6} class="muted">
                {query === '' ? 'No stacks.' : `No stack name contains "${query}".`}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <div class="pager">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span class="muted">Page {cursors.length}</span>
        <button
          type="button"
          disabled={page?.next == null}
          onClick={() => page?.next != null && setCursors([...cursors, page.next])}
        >
          Next page
        </button>
      </div>
    </section>
  )
}

function StackRow({ factory, s, now }: { factory: string; s: StackSummary; now: number }) {
  const target = { page: 'stack', factory, stack: s.name, view: { kind: 'history' } } as const
  return (
    <tr>
      <th scope="row">
        <a href={href(target)}>{s.name}</a>
        {s.error !== null && (
          <span class="badge bad" title="reading this stack failed">
            {s.error}
          </span>
        )}
      </th>
      <td>
        {s.current === null ? (
          <span class="muted">none</span>
        ) : (
          <>
            <code class="rev">{s.current}</code>
            <Time date={revTime(s.current)} now={now} />
          </>
        )}
      </td>
      <td class="num">{s.revs}</td>
      <td>
        {s.lock === null ? (
          <span class="badge free">free</span>
        ) : (
          <>
            <span class="badge locked">locked</span> {holderName(s.lock)}
            {s.lock.principal !== null && <span class="muted"> by {s.lock.principal}</span>}
          </>
        )}
      </td>
      <td>{s.lock === null ? '' : (heldFor(s.lock, now) ?? 'unknown')}</td>
      <td>{s.lock === null ? '' : leaseLeft(s.lock, now)}</td>
    </tr>
  )
}
