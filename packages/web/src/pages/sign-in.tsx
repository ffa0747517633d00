/** @module Sign-in: the local account form, and the identity provider's button when the hub has one. */
import { useState, type FormEvent } from 'react'
import { api, ApiError } from '../api.ts'
import { Field, LoadState, Page, useLoad } from '../components.tsx'
import { useI18n } from '../i18n.tsx'
import { useLocation } from '../router.tsx'
import { useSession } from '../session.tsx'
import type { AuthConfig } from '../types.ts'

export function SignIn() {
  const { t } = useI18n()
  const { refresh } = useSession()
  const { query } = useLocation()
  const config = useLoad((signal) => api.get<AuthConfig>('/api/auth/config', { signal, quiet401: true }), [])
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      await api.post('/api/auth/login', { username, password }, { quiet401: true })
      // The app frame sees the session and moves on to `?next=` (or the collections).
      await refresh()
    } catch (err) {
      setPassword('')
      if (err instanceof ApiError && err.code === 'INVALID_CREDENTIALS') setError(t('signIn.invalid'))
      else if (err instanceof ApiError && err.status === 423) setError(t('signIn.locked'))
      else if (err instanceof ApiError && err.status === 429) setError(t('signIn.rateLimited', { seconds: err.retryAfter ?? 60 }))
      else setError(err instanceof Error ? err.message : String(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="sign-in">
      <Page title={t('signIn.title')}>
        {query.get('expired') && !error && <p className="notice">{t('signIn.expired')}</p>}
        <LoadState state={config}>
          {(c) => (
            <>
              {c.local && (
                <form onSubmit={submit} aria-describedby={error ? 'sign-in-error' : undefined}>
                  <Field label={t('signIn.username')}>
                    {(id) => <input id={id} name="username" autoComplete="username" required autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />}
                  </Field>
                  <Field label={t('signIn.password')}>
                    {(id) => <input id={id} name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />}
                  </Field>
                  {error && (
                    <p id="sign-in-error" className="notice error" role="alert">
                      {error}
                    </p>
                  )}
                  <button type="submit" className="primary" disabled={busy}>
                    {t('signIn.submit')}
                  </button>
                </form>
              )}
              {c.local && c.oidc && <p className="or">{t('signIn.or')}</p>}
              {c.oidc && (
                <p>
                  {/* A full page load: the identity provider's pages are outside the app. */}
                  <a className="button" href="/api/auth/oidc/login">
                    {t('signIn.oidc', { name: c.oidc.name })}
                  </a>
                </p>
              )}
            </>
          )}
        </LoadState>
      </Page>
    </div>
  )
}
