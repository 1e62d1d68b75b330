/**
 * Small shared pieces of the page: a ticking clock for relative times, a
 * time shown relative and absolute, a status line, and the confirmation
 * dialog every action goes through.
 */
import type { ComponentChildren } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError } from './api.js'
import { absolute, relative } from './time.js'

/** Milliseconds since the epoch, re-rendering every `everyMs`. */
export function useNow(everyMs = 10_000): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs)
    return () => clearInterval(timer)
  }, [everyMs])
  return now
}

/** A time as "5 min ago" with the absolute UTC instant beside it. */
export function Time({ date, now }: { date: Date | null; now: number }) {
  if (date === null) return <span class="muted">unknown</span>
  return (
    <span class="time">
      <time dateTime={date.toISOString()} title={absolute(date)}>
        {relative(date, now)}
      </time>
      <span class="abs">{absolute(date)}</span>
    </span>
  )
}

/** What a failed call said, as a person should read it. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message
  return err instanceof Error ? err.message : String(err)
}

/** An error line (announced to screen readers). */
export function ErrorLine({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null
  return (
    <p class="error" role="alert">
      {errorText(error)}
    </p>
  )
}

export interface DialogProps {
  readonly title: string
  readonly confirmLabel: string
  readonly danger?: boolean
  /** False keeps the confirm button disabled (e.g. a required reason is empty). */
  readonly canConfirm?: boolean
  /** Runs the action; a thrown error is shown in the dialog, which stays open. */
  readonly onConfirm: () => Promise<void>
  readonly onClose: () => void
  readonly children: ComponentChildren
}

/** A modal confirmation (the native dialog: focus stays inside, Escape cancels). */
export function ConfirmDialog(props: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  useEffect(() => {
    const dialog = ref.current
    if (dialog !== null && !dialog.open) dialog.showModal()
    return () => dialog?.close()
  }, [])
  const submit = async (e: Event) => {
    e.preventDefault()
    if (busy || props.canConfirm === false) return
    setBusy(true)
    setError(null)
    try {
      await props.onConfirm()
      props.onClose()
    } catch (err) {
      setError(err)
      setBusy(false)
    }
  }
  return (
    <dialog
      ref={ref}
      aria-labelledby="dialog-title"
      onCancel={(e) => {
        e.preventDefault()
        props.onClose()
      }}
    >
      <form onSubmit={submit}>
        <h2 id="dialog-title">{props.title}</h2>
        {props.children}
        <ErrorLine error={error} />
        <div class="buttons">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button
            type="submit"
            class={props.danger === true ? 'danger' : 'primary'}
            disabled={busy || props.canConfirm === false}
          >
            {busy ? 'Working…' : props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  )
}
