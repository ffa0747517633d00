/** @module Change password; forced after signing in with a one-time password (`mustChangePassword`). */
import { useState, type FormEvent } from 'react'
import { api } from '../api.ts'
import { ErrorMessage, Field, Page } from '../components.tsx'
import { useI18n } from '../i18n.tsx'
import { useSession } from '../session.tsx'

export function ChangePassword({ forced }: { forced: boolean }) {
  const { t } = useI18n()
  const { session, refresh } = useSession()
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [confirm, setConfirm] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [done, setDone] = useState(false)
  const [busy, setBusy] = useState(false)

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setError(null)
    if (next.length < 12) return setError(new Error(t('password.tooShort')))
    if (next !== confirm) return setError(new Error(t('password.mismatch')))
    setBusy(true)
    try {
      await api.post('/api/session/password', { current, next })
      setCurrent('')
      setNext('')
      setConfirm('')
      setDone(true)
      // Forced: the address is already where the user was going; the fresh session shows that page.
      await refresh()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <Page title={t('password.title')}>
      {forced && <p className="notice warning">{t('password.forced')}</p>}
      {done && !forced && (
        <p className="notice success" role="status">
          {t('password.done')}
        </p>
      )}
      <form onSubmit={submit} className="narrow">
        {/* For password managers: which account this password belongs to. */}
        <input type="text" name="username" autoComplete="username" value={session?.user.username ?? ''} readOnly hidden />
        <Field label={t('password.current')}>
          {(id) => <input id={id} name="current" type="password" autoComplete="current-password" required autoFocus value={current} onChange={(e) => setCurrent(e.target.value)} />}
        </Field>
        <Field label={t('password.next')} hint={t('password.hint')}>
          {(id, hint) => (
            <input id={id} name="next" type="password" autoComplete="new-password" required minLength={12} aria-describedby={hint} value={next} onChange={(e) => setNext(e.target.value)} />
          )}
        </Field>
        <Field label={t('password.confirm')}>
          {(id) => <input id={id} name="confirm" type="password" autoComplete="new-password" required minLength={12} value={confirm} onChange={(e) => setConfirm(e.target.value)} />}
        </Field>
        <ErrorMessage error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {t('password.submit')}
        </button>
      </form>
    </Page>
  )
}
