/**
 * The stack's lock: who holds it (who, operation, principal, since when,
 * lease left, generation), and the lock actions the caller may take, each
 * confirmed in a dialog naming the stack: take a maintenance lock, release
 * the maintenance lock one holds, force-unlock with a required reason.
 */
import { useState } from 'preact/hooks'
import { call, stackPath } from './api.js'
import { heldFor, holderName, leaseLeft } from './lock-text.js'
import type { Me } from './main.js'
import { instant } from './time.js'
import type { Holder } from './types.js'
import { ConfirmDialog, Time } from './widgets.js'

/** The operation a maintenance lock taken from the console claims. */
export const MAINTENANCE = 'maintenance'

interface Props {
  readonly factory: string
  readonly stack: string
  readonly lock: Holder | null
  readonly me: Me
  readonly permissions: ReadonlySet<string>
  readonly now: number
  readonly onDone: (message: string) => void
}

/** True when `lock` is a maintenance lock the caller took (so it may release it by id). */
export function isMine(lock: Holder | null, me: Me): lock is Holder {
  return lock !== null && !lock.legacy && lock.principal === me.principal && lock.operation === MAINTENANCE
}

export function LockPanel({ factory, stack, lock, me, permissions, now, onDone }: Props) {
  const [dialog, setDialog] = useState<'take' | 'release' | 'force' | null>(null)
  const name = `${factory}/${stack}`
  return (
    <section class="lock" aria-labelledby="lock-title">
      <h2 id="lock-title">Lock</h2>
      {lock === null ? (
        <p>
          <span class="badge free">free</span> Nobody holds the lock of {name}.
        </p>
      ) : (
        <dl class="holder">
          <dt>Held by</dt>
          <dd>
            <span class="badge locked">locked</span> <strong>{holderName(lock)}</strong>
          </dd>
          <dt>Principal</dt>
          <dd>
            {lock.principal ?? 'unknown'}
            {lock.remote !== null && <span class="muted"> from {lock.remote}</span>}
          </dd>
          <dt>Since</dt>
          <dd>
            <Time date={instant(lock.created)} now={now} />{' '}
            {heldFor(lock, now) !== null && <span class="muted">(held for {heldFor(lock, now)})</span>}
          </dd>
          <dt>Lease left</dt>
          <dd>{leaseLeft(lock, now)}</dd>
          {lock.info !== '' && (
            <>
              <dt>Info</dt>
              <dd>{lock.info}</dd>
            </>
          )}
          <dt>Generation</dt>
          <dd>{lock.generation}</dd>
        </dl>
      )}
      <div class="buttons left">
        {lock === null && permissions.has('lock') && (
          <button type="button" onClick={() => setDialog('take')}>
            Take maintenance lock…
          </button>
        )}
        {isMine(lock, me) && permissions.has('lock') && (
          <button type="button" onClick={() => setDialog('release')}>
            Release maintenance lock…
          </button>
        )}
        {lock !== null && !isMine(lock, me) && permissions.has('force-unlock') && (
          <button type="button" class="danger" onClick={() => setDialog('force')}>
            Force-unlock…
          </button>
        )}
      </div>
      {dialog === 'take' && (
        <TakeDialog factory={factory} stack={stack} me={me} onClose={() => setDialog(null)} onDone={onDone} />
      )}
      {dialog === 'release' && lock !== null && (
        <ConfirmDialog
          title={`Release the maintenance lock of ${name}?`}
          confirmLabel="Release lock"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await call(`${stackPath(factory, stack)}/lock?id=${encodeURIComponent(lock.id)}`, { method: 'DELETE' })
            onDone(`Released the maintenance lock of ${name}.`)
          }}
        >
          <p>Others can take the lock of {name} again.</p>
        </ConfirmDialog>
      )}
      {dialog === 'force' && lock !== null && (
        <ForceDialog factory={factory} stack={stack} lock={lock} onClose={() => setDialog(null)} onDone={onDone} />
      )}
    </section>
  )
}

function TakeDialog({
  factory,
  stack,
  me,
  onClose,
  onDone,
}: {
  factory: string
  stack: string
  me: Me
  onClose: () => void
  onDone: (m: string) => void
}) {
  const [ttl, setTtl] = useState('3600')
  const [info, setInfo] = useState('')
  const name = `${factory}/${stack}`
  return (
    <ConfirmDialog
      title={`Take a maintenance lock on ${name}?`}
      confirmLabel="Take lock"
      onClose={onClose}
      onConfirm={async () => {
        const body: Record<string, unknown> = {
          who: me.principal,
          operation: MAINTENANCE,
          info: info.trim() === '' ? 'taken from the console' : info.trim(),
        }
        if (ttl !== '') body.ttl = Number(ttl)
        await call(`${stackPath(factory, stack)}/lock`, { method: 'POST', json: body })
        onDone(`You hold a maintenance lock on ${name}: pipelines wait or fail until you release it.`)
      }}
    >
      <p>While you hold it, pipelines cannot lock or write {name}.</p>
      <label for="lock-ttl">Lease</label>
      <select id="lock-ttl" value={ttl} onChange={(e) => setTtl(e.currentTarget.value)}>
        <option value="900">15 minutes</option>
        <option value="3600">1 hour</option>
        <option value="14400">4 hours</option>
        <option value="">no lease (until released)</option>
      </select>
      <label for="lock-info">Note for others (optional)</label>
      <input id="lock-info" type="text" value={info} maxLength={4096} onInput={(e) => setInfo(e.currentTarget.value)} />
    </ConfirmDialog>
  )
}

function ForceDialog({
  factory,
  stack,
  lock,
  onClose,
  onDone,
}: {
  factory: string
  stack: string
  lock: Holder
  onClose: () => void
  onDone: (m: string) => void
}) {
  const [reason, setReason] = useState('')
  const name = `${factory}/${stack}`
  return (
    <ConfirmDialog
      title={`Force-unlock ${name}?`}
      confirmLabel="Force-unlock"
      danger
      canConfirm={reason.trim() !== ''}
      onClose={onClose}
      onConfirm={async () => {
        const q = new URLSearchParams({ force: 'true', reason: reason.trim() })
        await call(`${stackPath(factory, stack)}/lock?${q}`, { method: 'DELETE' })
        onDone(`Force-unlocked ${name} (was held by ${holderName(lock)}).`)
      }}
    >
      <p>
        The holder, <strong>{holderName(lock)}</strong>
        {lock.principal !== null && <> ({lock.principal})</>}, loses the lock: its later writes are refused. Use this
        only for a lock left by a job that is gone.
      </p>
      <label for="force-reason">Reason (required, kept in the audit log)</label>
      <textarea id="force-reason" required rows={3} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
    </ConfirmDialog>
  )
}
