/**
 * @module A tiny client-side router over the History API: `useLocation`, `navigate`, `<Link>` and
 * `matchPath`. The app has a dozen flat routes; a library would be larger than the app's routing.
 */
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react'

const CHANGE = 'kura:navigate'

function subscribe(cb: () => void): () => void {
  window.addEventListener('popstate', cb)
  window.addEventListener(CHANGE, cb)
  return () => {
    window.removeEventListener('popstate', cb)
    window.removeEventListener(CHANGE, cb)
  }
}

const snapshot = () => window.location.pathname + window.location.search

export interface Location {
  pathname: string
  query: URLSearchParams
  href: string
}

export function useLocation(): Location {
  const href = useSyncExternalStore(subscribe, snapshot)
  const url = new URL(href, window.location.origin)
  return { pathname: url.pathname, query: url.searchParams, href }
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === snapshot()) return
  if (opts.replace) window.history.replaceState(null, '', to)
  else window.history.pushState(null, '', to)
  window.dispatchEvent(new Event(CHANGE))
  if (!opts.replace) window.scrollTo(0, 0)
}

/** `/studies/:uid` against `/studies/1.2.3` → `{ uid: '1.2.3' }`; null when it does not match. */
export function matchPath(pattern: string, pathname: string): Record<string, string> | null {
  const p = pattern.split('/')
  const s = pathname.replace(/\/+$/, '').split('/')
  if (pathname === '/') s.splice(1, 1, '')
  if (p.length !== s.length) return null
  const params: Record<string, string> = {}
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.startsWith(':')) {
      if (!s[i]) return null
      params[p[i]!.slice(1)] = decodeURIComponent(s[i]!)
    } else if (p[i] !== s[i]) return null
  }
  return params
}

/** An ordinary `<a>` (so middle-click and "open in new tab" work) that navigates in place on a plain click. */
export function Link({ to, onClick, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e)
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    e.preventDefault()
    navigate(to)
  }
  return <a href={to} onClick={click} {...rest} />
}
