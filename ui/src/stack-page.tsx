/**
 * One stack: its lock and current rev, its history newest first, the diff
 * of two revs or one rev opened. What the page shows follows the server
 * live: a stream of the stack's events (…/events) makes it re-read the lock
 * and the history within moments of a change made elsewhere. Actions are
 * offered only when GET /v1/whoami says the caller may take them.
 */
import { useCallback, useEffect, useState } from 'preact/hooks'
import { ApiError, json, stackPath } from './api.js'
import { followEvents } from './events.js'
import { History } from './history.js'
import { LockPanel } from './lock-panel.js'
import type { Me } from './main.js'
import { DiffView } from './diff-view.js'
import { RevView } from './rev-view.js'
import { type StackView, href } from './route.js'
import { revTime } from './time.js'
import type { HistoryPage, Holder, SnapshotsDetail, Whoami } from './types.js'
import { ErrorLine, Time, useNow } from './widgets.js'

/** The newest `limit` revs with who wrote them (`?detail=true&order=desc`); null metadata: written by another tool. */
async function readHistory(base: string, limit: number): Promise<HistoryPage> {
  const page = await json<SnapshotsDetail>(`${base}/snapshots?detail=true&order=desc&limit=${limit}`)
  return {
    revs: page.history.map((e) => ({ rev: e.rev, current: e.current, meta: e.metadata })),
    current: page.current,
    next: page.next,
  }
}

/** Revs per page of the history. */
export const HISTORY_PAGE = 50

/** What the page knows of the stack now. */
export interface StackState {
  readonly lock: Holder | null
  readonly history: HistoryPage
}

export function StackPage({ factory, stack, view, me }: { factory: string; stack: string; view: StackView; me: Me }) {
  const base = stackPath(factory, stack)
  const now = useNow()
  const [permissions, setPermissions] = useState<ReadonlySet<string>>(new Set())
  const [state, setState] = useState<StackState | null>(null)
  const [shown, setShown] = useState(HISTORY_PAGE)
  const [error, setError] = useState<unknown>(null)
  const [live, setLive] = useState(false)
  const [notice, setNotice] = useState<string | null>(null)

  const reload = useCallback(async () => {
    try {
      const [lock, history] = await Promise.all([
        json<Holder>(`${base}/lock`).catch((err: unknown) => {
          if (err instanceof ApiError && err.code === 'not-locked') return null
          throw err
        }),
        readHistory(base, shown),
      ])
      setState({ lock, history })
      setError(null)
    } catch (err) {
      setError(err)
    }
  }, [base, shown])

  useEffect(() => {
    void reload()
  }, [reload])
  useEffect(() => {
    json<Whoami>(`/v1/whoami?factory=${encodeURIComponent(factory)}&stack=${encodeURIComponent(stack)}`).then(
      (w) => setPermissions(new Set(w.permissions)),
      setError,
    )
  }, [factory, stack])
  useEffect(
    () =>
      followEvents(`${base}/events`, {
        onEvent: (e) => {
          if (e.event !== 'hello') void reload()
        },
        onState: (open) => {
          setLive(open)
          if (open) void reload() // changes made while the stream was down
        },
      }),
    [base, reload],
  )

  const done = (message: string) => {
    setNotice(message)
    void reload()
  }
  const current = state?.history.current ?? null
  return (
    <main class="stack-page">
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="#/">Stacks</a> › <a href={href({ page: 'stacks', factory })}>{factory}</a> ›{' '}
        <span aria-current="page">{stack}</span>
      </nav>
      <div class="toolbar">
        <h1>
          {factory}/{stack}
        </h1>
        <span class={live ? 'live on' : 'live'} role="status">
          {live ? 'Live' : 'Connecting…'}
        </span>
      </div>
      <ErrorLine error={error} />
      {notice !== null && (
        <p class="notice" role="status">
          {notice}{' '}
          <button type="button" class="link" onClick={() => setNotice(null)}>
            Dismiss
          </button>
        </p>
      )}
      {state !== null && (
        <>
          <section class="summary" aria-label="Current rev">
            <h2>Current rev</h2>
            {current === null ? (
              <p class="muted">This stack has no current rev.</p>
            ) : (
              <p>
                <code class="rev">{current}</code> <Time date={revTime(current)} now={now} />
              </p>
            )}
          </section>
          <LockPanel
            factory={factory}
            stack={stack}
            lock={state.lock}
            me={me}
            permissions={permissions}
            now={now}
            onDone={done}
          />
          {view.kind === 'history' && (
            <History
              factory={factory}
              stack={stack}
              state={state}
              me={me}
              permissions={permissions}
              now={now}
              onDone={done}
              onMore={() => setShown(shown + HISTORY_PAGE)}
            />
          )}
          {view.kind === 'diff' && <DiffView factory={factory} stack={stack} from={view.from} to={view.to} />}
          {view.kind === 'rev' && (
            <RevView factory={factory} stack={stack} rev={view.rev} canRead={permissions.has('read')} />
          )}
        </>
      )}
    </main>
  )
}
