/**
 * The operator console: who holds which lock, who wrote which rev, the diff
 * between any two revs, and the actions an operator takes (roll back,
 * force-unlock, maintenance lock), on one page over the server's own API.
 * Built with Preact (a 4 KB component library) into one script and one
 * stylesheet; see ui/build.mjs.
 */
import './style.css'
import { render } from 'preact'
import { useCallback, useEffect, useState } from 'preact/hooks'
import { ApiError, json } from './api.js'
import { useRoute } from './route.js'
import { onSignInNeeded, signOut } from './session.js'
import { SignIn } from './sign-in.js'
import { StackPage } from './stack-page.js'
import { StacksPage } from './stacks-page.js'
import type { Whoami } from './types.js'
import { ErrorLine } from './widgets.js'

/** The caller as GET /v1/whoami describes it. */
export interface Me {
  readonly principal: string
  /** True when the server checks credentials (a sign-out then makes sense). */
  readonly authenticated: boolean
}

function App() {
  const route = useRoute()
  const [me, setMe] = useState<Me | null>(null)
  const [signIn, setSignIn] = useState<'no' | 'ask' | 'refused'>('no')
  const [error, setError] = useState<unknown>(null)

  const check = useCallback(async () => {
    const who = await json<Whoami>('/v1/whoami')
    setMe({ principal: who.principal, authenticated: who.authenticated })
    setSignIn('no')
    setError(null)
  }, [])

  useEffect(
    () =>
      onSignInNeeded((reason) => {
        setMe(null)
        setSignIn(reason === 'refused' ? 'refused' : 'ask')
      }),
    [],
  )
  useEffect(() => {
    check().catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 401) setSignIn('ask')
      else setError(err)
    })
  }, [check])

  if (signIn !== 'no') return <SignIn onSignedIn={check} refused={signIn === 'refused'} />
  if (me === null)
    return (
      <main>
        <ErrorLine error={error} />
        {error === null && <p aria-busy="true">Loading…</p>}
      </main>
    )
  return (
    <>
      <header class="top">
        <a href="#/" class="brand">
          unobin state
        </a>
        <span class="who">
          {me.authenticated ? (
            <>
              Signed in as <strong>{me.principal}</strong>{' '}
              <button type="button" class="link" onClick={() => signOut()}>
                Sign out
              </button>
            </>
          ) : (
            <>No credentials configured: every caller has every permission</>
          )}
        </span>
      </header>
      {route.page === 'stacks' ? (
        <StacksPage factory={route.factory} />
      ) : (
        <StackPage
          key={`${route.factory}/${route.stack}`}
          factory={route.factory}
          stack={route.stack}
          view={route.view}
          me={me}
        />
      )}
    </>
  )
}

render(<App />, document.getElementById('app')!)
