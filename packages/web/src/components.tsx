/** @module Small building blocks every page uses: page frame, loading/error states, copy-once secrets. */
import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from 'react'
import { ApiError } from './api.ts'
import { useI18n } from './i18n.tsx'
import { Link } from './router.tsx'

/** A page: sets the document title and gives the page its one `<h1>`. */
export function Page({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  const { t } = useI18n()
  useEffect(() => {
    document.title = `${title} · ${t('app.name')}`
  }, [title, t])
  return (
    <>
      <div className="page-head">
        <h1>{title}</h1>
        {actions}
      </div>
      {children}
    </>
  )
}

export interface Loaded<T> {
  data: T | undefined
  error: unknown
  loading: boolean
  reload(): void
}

/** Runs `load` when `deps` change, aborting the previous request; `reload()` runs it again. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    const ac = new AbortController()
    setState((s) => ({ data: s.data, loading: true }))
    load(ac.signal).then(
      (data) => !ac.signal.aborted && setState({ data, loading: false }),
      (error) => !ac.signal.aborted && setState({ error, loading: false }),
    )
    return () => ac.abort()
    // `load` is a fresh closure each render; `deps` say when its result can change.
  }, [...deps, tick])
  const reload = useCallback(() => setTick((n) => n + 1), [])
  return { data: state.data, error: state.error, loading: state.loading, reload }
}

/** Renders the data once loaded; a 403 becomes the no-permission page, a 404 the not-found page. */
export function LoadState<T>({ state, notFound, children }: { state: Loaded<T>; notFound?: string; children: (data: T) => ReactNode }) {
  const { t } = useI18n()
  if (state.error) {
    if (state.error instanceof ApiError && state.error.status === 403) return <NoPermission />
    if (state.error instanceof ApiError && state.error.status === 404) return <NotFound message={notFound} />
    return (
      <div className="notice error" role="alert">
        <p>{t('common.error', { message: errorText(state.error) })}</p>
        <button type="button" onClick={state.reload}>
          {t('common.retry')}
        </button>
      </div>
    )
  }
  if (state.data === undefined) return <p aria-busy="true">{t('app.loading')}</p>
  return <div aria-busy={state.loading}>{children(state.data)}</div>
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** A form-level error from a failed action, announced to screen readers. */
export function ErrorMessage({ error }: { error: unknown }) {
  const { t } = useI18n()
  if (!error) return null
  if (error instanceof ApiError && error.status === 403) return <p className="notice error" role="alert">{t('common.forbidden')}</p>
  return (
    <p className="notice error" role="alert">
      {errorText(error)}
    </p>
  )
}

export function NoPermission() {
  const { t } = useI18n()
  return (
    <section className="notice warning" role="alert" aria-labelledby="no-permission-title" data-testid="no-permission">
      <h2 id="no-permission-title">{t('common.forbidden.title')}</h2>
      <p>{t('common.forbidden')}</p>
      <p>
        <Link to="/collections">{t('common.home')}</Link>
      </p>
    </section>
  )
}

export function NotFound({ message }: { message?: string }) {
  const { t } = useI18n()
  return (
    <section className="notice" role="alert" aria-labelledby="not-found-title" data-testid="not-found">
      <h2 id="not-found-title">{t('common.notFound.title')}</h2>
      <p>{message ?? t('common.notFound')}</p>
      <p>
        <Link to="/collections">{t('common.home')}</Link>
      </p>
    </section>
  )
}

/** A secret shown exactly once (one-time password, API token), with a copy button. */
export function SecretOnce({ label, secret }: { label: string; secret: string }) {
  const { t } = useI18n()
  const [copied, setCopied] = useState(false)
  const ref = useRef<HTMLElement>(null)
  useEffect(() => ref.current?.focus(), [])
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret)
      setCopied(true)
    } catch {
      // Clipboard refused (plain HTTP or permissions): select the text so Ctrl+C works.
      const range = document.createRange()
      if (ref.current) range.selectNodeContents(ref.current)
      window.getSelection()?.removeAllRanges()
      window.getSelection()?.addRange(range)
    }
  }
  return (
    <div className="notice success secret" role="status">
      <p>{label}</p>
      <p className="secret-row">
        <code ref={ref} tabIndex={-1} data-testid="secret">
          {secret}
        </code>
        <button type="button" onClick={copy}>
          {copied ? t('common.copied') : t('common.copy')}
        </button>
      </p>
    </div>
  )
}

/** A labelled form field; every input gets a visible `<label>`. */
export function Field({ label, hint, children }: { label: string; hint?: string; children: (id: string, describedBy?: string) => ReactNode }) {
  const id = useId()
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id, hint ? `${id}-hint` : undefined)}
      {hint && (
        <small id={`${id}-hint`} className="hint">
          {hint}
        </small>
      )}
    </div>
  )
}
