/**
 * The sign-in box: asks for a token once per tab (a static token of the
 * tokens file, or a CI identity token), keeps it in sessionStorage, and
 * checks it against GET /v1/whoami before going on.
 */
import { useState } from 'preact/hooks'
import { setToken } from './session.js'
import { ErrorLine } from './widgets.js'

export function SignIn({ onSignedIn, refused }: { onSignedIn: () => Promise<void>; refused: boolean }) {
  const [value, setValue] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event) => {
    e.preventDefault()
    if (value.trim() === '') return
    setBusy(true)
    setError(null)
    setToken(value.trim())
    try {
      await onSignedIn()
    } catch (err) {
      setError(err) // a refused token was already forgotten (see api.ts)
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to the state console</h1>
        <p>
          This server needs a token. It stays in this browser tab only (sessionStorage) and is sent as a Bearer header,
          never as a cookie.
        </p>
        {refused && error === null && (
          <p class="error" role="alert">
            The server refused the token of this tab: sign in again.
          </p>
        )}
        <label for="token">Token</label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
          required
        />
        <ErrorLine error={error} />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy || value.trim() === ''}>
            {busy ? 'Checking…' : 'Sign in'}
          </button>
        </div>
      </form>
    </main>
  )
}
