/**
 * @module The application frame: who is signed in decides what renders (sign-in, forced password
 * change, or the pages), the header's navigation shows only what the user may open, and the route
 * table maps addresses to pages.
 */
import { Fragment, lazy, Suspense, useEffect, useRef, type ReactNode } from 'react'
import { NotFound } from './components.tsx'
import { useI18n, type Lang } from './i18n.tsx'
import { Link, matchPath, navigate, useLocation } from './router.tsx'
import { useSession } from './session.tsx'
import { canAnnotate, canReadAudit, canReview, isAdmin, type Session } from './types.ts'
import { Audit } from './pages/audit.tsx'
import { ChangePassword } from './pages/change-password.tsx'
import { Collections } from './pages/collections.tsx'
import { Grants } from './pages/grants.tsx'
import { SignIn } from './pages/sign-in.tsx'
import { Sites } from './pages/sites.tsx'
import { Slides } from './pages/slides.tsx'
import { Studies } from './pages/studies.tsx'
import { Study } from './pages/study.tsx'
import { Tokens } from './pages/tokens.tsx'
import { Users } from './pages/users.tsx'
import { Records } from './pages/records.tsx'
import { RecordCounts } from './pages/records-counts.tsx'
import { RecordDetail } from './pages/records-detail.tsx'

// The viewer brings OpenSeadragon (~200 kB): load it only when a slide is opened.
const Slide = lazy(() => import('./pages/slide.tsx').then((m) => ({ default: m.Slide })))
// Annotation tasks share the annotation text and styles with the viewer: loaded on demand too.
const Tasks = lazy(() => import('./pages/tasks.tsx').then((m) => ({ default: m.Tasks })))
const Task = lazy(() => import('./pages/tasks.tsx').then((m) => ({ default: m.Task })))

/**
 * Admin pages are routed for everyone: a researcher who opens one sees the hub's 403 as the
 * no-permission page (the hub decides, not the menu).
 */
const ROUTES: { path: string; render(params: Record<string, string>): ReactNode }[] = [
  { path: '/collections', render: () => <Collections /> },
  { path: '/studies', render: () => <Studies /> },
  { path: '/studies/:uid', render: (p) => <Study uid={p.uid!} /> },
  // `/wsi`, not `/slides`: the hub answers `/slides/...` with its slide API (JSON and tiles).
  { path: '/wsi', render: () => <Slides /> },
  { path: '/wsi/:id', render: (p) => <SlideLoader id={p.id!} /> },
  { path: '/tasks', render: () => <Lazy><Tasks /></Lazy> },
  { path: '/tasks/:id', render: (p) => <Lazy><Task id={p.id!} /></Lazy> },
  { path: '/records', render: () => <Records /> },
  { path: '/records/counts', render: () => <RecordCounts /> },
  { path: '/records/:id', render: (p) => <RecordDetail id={p.id!} /> },
  { path: '/tokens', render: () => <Tokens /> },
  { path: '/password', render: () => <ChangePassword forced={false} /> },
  { path: '/admin/users', render: () => <Users /> },
  { path: '/admin/grants', render: () => <Grants /> },
  { path: '/admin/sites', render: () => <Sites /> },
  { path: '/audit', render: () => <Audit /> },
]

export function App() {
  const { t } = useI18n()
  const { session } = useSession()
  const { pathname, href, query } = useLocation()

  const signedOut = session === null
  const next = query.get('next')
  const onSignIn = pathname === '/sign-in'
  useEffect(() => {
    if (signedOut && !onSignIn) navigate(`/sign-in?next=${encodeURIComponent(href)}`, { replace: true })
    if (session && onSignIn) navigate(safeNext(next), { replace: true })
    if (session && pathname === '/') navigate('/collections', { replace: true })
  }, [signedOut, onSignIn, session, pathname, href, next])

  if (session === undefined) return <p className="boot">{t('app.loading')}</p>
  if (session === null) {
    return (
      <Frame session={null}>
        <SignIn />
      </Frame>
    )
  }
  if (session.mustChangePassword) {
    return (
      <Frame session={session}>
        <ChangePassword forced />
      </Frame>
    )
  }
  let page: ReactNode = null
  for (const r of ROUTES) {
    const params = matchPath(r.path, pathname)
    if (params) {
      // `key` remounts the page on a new address, resetting its state.
      page = <Fragment key={r.path}>{r.render(params)}</Fragment>
      break
    }
  }
  return <Frame session={session}>{page ?? (pathname === '/' || onSignIn ? null : <NotFound />)}</Frame>
}

function Lazy({ children }: { children: ReactNode }) {
  const { t } = useI18n()
  return <Suspense fallback={<p aria-busy="true">{t('app.loading')}</p>}>{children}</Suspense>
}

function SlideLoader({ id }: { id: string }) {
  const { t } = useI18n()
  return (
    <Suspense fallback={<p aria-busy="true">{t('app.loading')}</p>}>
      <Slide id={id} />
    </Suspense>
  )
}

/** Only a path on this origin: `next` comes from the address bar and must not send the user elsewhere. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/sign-in') ? next : '/collections'
}

function Frame({ session, children }: { session: Session | null; children: ReactNode }) {
  const { t } = useI18n()
  const { pathname } = useLocation()
  const main = useRef<HTMLElement>(null)
  const first = useRef(true)
  // After a client-side navigation, move focus to the content so keyboard and screen-reader users start there.
  useEffect(() => {
    if (first.current) {
      first.current = false
      return
    }
    main.current?.focus()
  }, [pathname])
  return (
    <>
      <a className="skip" href="#main">
        {t('app.skip')}
      </a>
      <header className="top">
        <Link to="/collections" className="brand">
          {t('app.name')} <span lang="ja">蔵</span>
        </Link>
        {session && !session.mustChangePassword && <Nav session={session} />}
        <div className="top-right">
          <LanguageSwitch />
          {session && <UserMenu session={session} />}
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {children}
      </main>
    </>
  )
}

function Nav({ session }: { session: Session }) {
  const { t } = useI18n()
  const { pathname } = useLocation()
  const item = (to: string, label: string) => {
    const current = pathname === to || (to !== '/' && pathname.startsWith(to + '/'))
    return (
      <li>
        <Link to={to} aria-current={current ? 'page' : undefined}>
          {label}
        </Link>
      </li>
    )
  }
  return (
    <nav aria-label={t('nav.main')} className="nav">
      <ul>
        {item('/collections', t('nav.collections'))}
        {item('/studies', t('nav.studies'))}
        {item('/wsi', t('nav.slides'))}
        {item('/records', t('nav.records'))}
        {item('/tokens', t('nav.tokens'))}
        {isAdmin(session) && (
          <>
            {item('/admin/users', t('nav.users'))}
            {item('/admin/grants', t('nav.grants'))}
            {item('/admin/sites', t('nav.sites'))}
          </>
        )}
        {(canAnnotate(session) || canReview(session)) && item('/tasks', t('nav.tasks'))}
        {canReadAudit(session) && item('/audit', t('nav.audit'))}
      </ul>
    </nav>
  )
}

function LanguageSwitch() {
  const { t, lang, setLang } = useI18n()
  const options: { value: Lang; label: string }[] = [
    { value: 'ja', label: '日本語' },
    { value: 'en', label: 'English' },
  ]
  return (
    <div className="lang" role="group" aria-label={t('lang.label')}>
      {options.map((o) => (
        <button key={o.value} type="button" lang={o.value} aria-pressed={lang === o.value} onClick={() => setLang(o.value)}>
          {o.label}
        </button>
      ))}
    </div>
  )
}

function UserMenu({ session }: { session: Session }) {
  const { t } = useI18n()
  const { signOut } = useSession()
  const name = session.user.displayName || session.user.username
  return (
    <div className="user">
      <span className="who" title={t('nav.signedInAs', { name: session.user.username })}>
        {name}
      </span>
      {!session.user.oidc && !session.mustChangePassword && <Link to="/password">{t('nav.password')}</Link>}
      <button type="button" onClick={() => void signOut()}>
        {t('nav.signOut')}
      </button>
    </div>
  )
}
