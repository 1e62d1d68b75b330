/**
 * Where the page is, kept in the URL's fragment so that links, reloads and
 * the back button work and the server serves one page: `#/` (stacks),
 * `#/f/FACTORY` (a factory's stacks), `#/s/FACTORY/STACK` (a stack),
 * `…/diff/FROM/TO` and `…/rev/REV` inside it.
 */
import { useEffect, useState } from 'preact/hooks'

export type Route =
  | { readonly page: 'stacks'; readonly factory: string | null }
  | { readonly page: 'stack'; readonly factory: string; readonly stack: string; readonly view: StackView }

export type StackView =
  | { readonly kind: 'history' }
  | { readonly kind: 'diff'; readonly from: string; readonly to: string }
  | { readonly kind: 'rev'; readonly rev: string }

/** Parses a fragment ("#/s/f/s/diff/a/b"). Unknown fragments are the stacks page. */
export function parseRoute(hash: string): Route {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        return decodeURIComponent(p)
      } catch {
        return p
      }
    })
  if (parts[0] === 'f' && parts[1] !== undefined) return { page: 'stacks', factory: parts[1] }
  if (parts[0] === 's' && parts[1] !== undefined && parts[2] !== undefined) {
    const [, factory, stack, kind, a, b] = parts
    if (kind === 'diff' && a !== undefined && b !== undefined)
      return { page: 'stack', factory, stack, view: { kind: 'diff', from: a, to: b } }
    if (kind === 'rev' && a !== undefined) return { page: 'stack', factory, stack, view: { kind: 'rev', rev: a } }
    return { page: 'stack', factory, stack, view: { kind: 'history' } }
  }
  return { page: 'stacks', factory: null }
}

const e = encodeURIComponent

/** The fragment of a route. */
export function href(route: Route): string {
  if (route.page === 'stacks') return route.factory === null ? '#/' : `#/f/${e(route.factory)}`
  const base = `#/s/${e(route.factory)}/${e(route.stack)}`
  if (route.view.kind === 'diff') return `${base}/diff/${e(route.view.from)}/${e(route.view.to)}`
  if (route.view.kind === 'rev') return `${base}/rev/${e(route.view.rev)}`
  return base
}

/** The current route, following hash changes. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash))
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash))
    addEventListener('hashchange', update)
    return () => removeEventListener('hashchange', update)
  }, [])
  return route
}

/** Goes to `route` (a history entry, like following a link). */
export function go(route: Route): void {
  location.hash = href(route)
}
