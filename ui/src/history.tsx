/**
 * A stack's history, newest first: when each rev was written, by which
 * principal under which lock holder, its size, kind and Terraform serial,
 * the current rev marked. Pick two revs to compare them; open, download or
 * roll back to one.
 */
import { useState } from 'preact/hooks'
import { ApiError, call, stackPath } from './api.js'
import { isMine } from './lock-panel.js'
import { holderName } from './lock-text.js'
import type { Me } from './main.js'
import { href } from './route.js'
import type { StackState } from './stack-page.js'
import { bytes, revTime } from './time.js'
import type { RevDetail } from './types.js'
import { ConfirmDialog, Time } from './widgets.js'

interface Props {
  readonly factory: string
  readonly stack: string
  readonly state: StackState
  readonly me: Me
  readonly permissions: ReadonlySet<string>
  readonly now: number
  readonly onDone: (message: string) => void
  readonly onMore: () => void
}

export function History({ factory, stack, state, me, permissions, now, onDone, onMore }: Props) {
  const [picked, setPicked] = useState<string[]>([])
  const [rollback, setRollback] = useState<string | null>(null)
  const { revs, current, next } = state.history
  const toggle = (rev: string) =>
    setPicked(picked.includes(rev) ? picked.filter((r) => r !== rev) : [...picked.slice(-1), rev])
  // Revs sort by their instant: the older of the two picked is "from".
  const pair = [...picked].sort((a, b) => revs.findIndex((r) => r.rev === b) - revs.findIndex((r) => r.rev === a))
  const base = { page: 'stack', factory, stack } as const
  return (
    <section class="history" aria-labelledby="history-title">
      <div class="toolbar">
        <h2 id="history-title">History</h2>
        <span class="muted">{picked.length === 2 ? 'Two revs picked.' : 'Pick two revs to compare them.'}</span>
        {picked.length === 2 ? (
          <a class="button primary" href={href({ ...base, view: { kind: 'diff', from: pair[0]!, to: pair[1]! } })}>
            Compare picked revs
          </a>
        ) : (
          <button type="button" class="primary" disabled>
            Compare picked revs
          </button>
        )}
      </div>
      <table>
        <thead>
          <tr>
            <th scope="col">
              <span class="sr-only">Pick</span>
            </th>
            <th scope="col">Rev</th>
            <th scope="col">Written by</th>
            <th scope="col">Lock holder</th>
            <th scope="col" class="num">
              Size
            </th>
            <th scope="col">Kind</th>
            <th scope="col" class="num">
              Serial
            </th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {revs.map((r) => (
            <Row
              key={r.rev}
              r={r}
              factory={factory}
              stack={stack}
              now={now}
              picked={picked.includes(r.rev)}
              onPick={() => toggle(r.rev)}
              canRollback={permissions.has('write') && !r.current}
              onRollback={() => setRollback(r.rev)}
            />
          ))}
          {revs.length === 0 && (
            <tr>
              <td colSpan={8} class="muted">
                No revs stored.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {next !== null && (
        <div class="pager">
          <button type="button" onClick={onMore}>
            Show older revs
          </button>
        </div>
      )}
      {rollback !== null && (
        <RollbackDialog
          factory={factory}
          stack={stack}
          rev={rollback}
          current={current}
          state={state}
          me={me}
          onClose={() => setRollback(null)}
          onDone={onDone}
        />
      )}
    </section>
  )
}

function Row({
  r,
  factory,
  stack,
  now,
  picked,
  onPick,
  canRollback,
  onRollback,
}: {
  r: RevDetail
  factory: string
  stack: string
  now: number
  picked: boolean
  onPick: () => void
  canRollback: boolean
  onRollback: () => void
}) {
  const m = r.meta
  const holder = m?.lock
  return (
    <tr class={r.current ? 'current' : undefined} aria-current={r.current ? 'true' : undefined}>
      <td>
        <input type="checkbox" checked={picked} onChange={onPick} aria-label={`Pick ${r.rev} to compare`} />
      </td>
      <td>
        <code class="rev">{r.rev}</code>
        {r.current && <span class="badge current">current</span>}
        <Time date={revTime(r.rev)} now={now} />
      </td>
      <td>
        {m === null ? (
          <span class="muted">written by another tool</span>
        ) : (
          (m.principal ?? <span class="muted">unknown</span>)
        )}
      </td>
      <td>
        {m === null ? (
          ''
        ) : holder == null ? (
          <span class="muted">no lock</span>
        ) : (
          [holder.who, holder.operation].filter((x) => x !== '').join(' · ') || 'unnamed holder'
        )}
      </td>
      <td class="num">{bytes(m?.bytes)}</td>
      <td>{m?.kind ?? ''}</td>
      <td class="num">{m?.serial ?? ''}</td>
      <td class="actions">
        <a
          href={href({ page: 'stack', factory, stack, view: { kind: 'rev', rev: r.rev } })}
          aria-label={`Open ${r.rev}`}
        >
          Open
        </a>
        {canRollback && (
          <button type="button" class="link" onClick={onRollback} aria-label={`Roll back to ${r.rev}`}>
            Roll back…
          </button>
        )}
      </td>
    </tr>
  )
}

/** The message for a refused rollback: who holds the lock, or where current moved. */
function rollbackRefusal(err: unknown, name: string, shown: string | null): Error {
  if (!(err instanceof ApiError)) return err as Error
  if (err.status === 412) {
    return new Error(
      `Current of ${name} moved since this page showed ${shown ?? 'no current rev'}${err.problem.current != null ? ` (it is now ${err.problem.current})` : ''}. Nothing was changed: look at the history again, then retry.`,
    )
  }
  if (err.status === 423) {
    const h = err.problem.holder
    return new Error(
      `${name} is locked${h !== undefined ? ` by ${holderName(h)}${h.principal !== null ? ` (${h.principal})` : ''}` : ' by someone else'}. Nothing was changed: wait for the lock to be released, or take a maintenance lock first. (${err.message})`,
    )
  }
  return err
}

function RollbackDialog({
  factory,
  stack,
  rev,
  current,
  state,
  me,
  onClose,
  onDone,
}: {
  factory: string
  stack: string
  rev: string
  current: string | null
  state: StackState
  me: Me
  onClose: () => void
  onDone: (m: string) => void
}) {
  const name = `${factory}/${stack}`
  const mine = isMine(state.lock, me) ? state.lock : null
  return (
    <ConfirmDialog
      title={`Roll back ${name}?`}
      confirmLabel="Roll back"
      danger
      onClose={onClose}
      onConfirm={async () => {
        const headers: Record<string, string> = { 'if-match': `"${current ?? ''}"` }
        if (mine !== null) headers['lock-id'] = mine.id
        try {
          await call(`${stackPath(factory, stack)}/current`, { method: 'PUT', json: { rev }, headers })
        } catch (err) {
          throw rollbackRefusal(err, name, current)
        }
        onDone(`Rolled back ${name}: current is now ${rev} (was ${current ?? 'none'}).`)
      }}
    >
      <p>
        Current of <strong>{name}</strong> moves from <code>{current ?? 'none'}</code> to <code>{rev}</code>. The next
        plan starts from that rev; no rev is deleted.
      </p>
      {state.lock !== null && mine === null && (
        <p class="warning">
          {name} is locked by {holderName(state.lock)}: the server will refuse this unless the lock is released first.
        </p>
      )}
      {mine !== null && <p class="muted">Done under your maintenance lock.</p>}
    </ConfirmDialog>
  )
}
