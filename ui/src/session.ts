/**
 * The caller's credential for this browser tab: kept in sessionStorage (gone
 * when the tab closes, never shared with other tabs, never a cookie) and
 * sent as `Authorization: Bearer`. Listeners hear when the server refuses it.
 */
const KEY = 'unobin-state-token'

/** Why a sign-in is needed: the caller signed out, or the server refused the token (401). */
export type SignInReason = 'signed-out' | 'refused'
type Listener = (reason: SignInReason) => void
const listeners = new Set<Listener>()

/** The token of this tab, or null when none was given. */
export function token(): string | null {
  try {
    return sessionStorage.getItem(KEY)
  } catch {
    return null
  }
}

/** Keeps `value` as this tab's token. */
export function setToken(value: string): void {
  sessionStorage.setItem(KEY, value)
}

/** Forgets the token and tells every listener that a sign-in is needed. */
export function signOut(reason: SignInReason = 'signed-out'): void {
  sessionStorage.removeItem(KEY)
  for (const l of listeners) l(reason)
}

/** Calls `listener` whenever credentials are needed again (a 401, or sign-out). */
export function onSignInNeeded(listener: Listener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}
