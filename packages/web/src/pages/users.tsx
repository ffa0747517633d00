/** @module Admin: users. Creating one shows its one-time password once; disable, enable, unlock. */
import { useState, type FormEvent } from 'react'
import { api, withQuery } from '../api.ts'
import { ErrorMessage, Field, LoadState, Page, SecretOnce, useLoad } from '../components.tsx'
import { useI18n } from '../i18n.tsx'
import { Link } from '../router.tsx'
import type { User } from '../types.ts'

export function Users() {
  const { t, dateTime } = useI18n()
  const users = useLoad((signal) => api.get<User[]>('/api/users', { signal }), [])
  const [error, setError] = useState<unknown>(null)
  const patch = async (u: User, change: Partial<Pick<User, 'disabled'>> & { unlock?: boolean }) => {
    setError(null)
    try {
      await api.patch(`/api/users/${encodeURIComponent(u.id)}`, change)
      users.reload()
    } catch (err) {
      setError(err)
    }
  }
  return (
    <Page title={t('users.title')}>
      <LoadState state={users}>
        {(rows) => (
          <>
            <ErrorMessage error={error} />
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('users.username')}</th>
                  <th scope="col">{t('users.displayName')}</th>
                  <th scope="col">{t('users.email')}</th>
                  <th scope="col">{t('users.isAdmin')}</th>
                  <th scope="col">{t('users.status')}</th>
                  <th scope="col">{t('collections.created')}</th>
                  <th scope="col">{t('users.actions')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((u) => {
                  const locked = u.lockedUntil !== null && new Date(u.lockedUntil).getTime() > Date.now()
                  return (
                    <tr key={u.id} data-username={u.username}>
                      <th scope="row">
                        {u.username}
                        {u.oidc && <small className="badge">{t('users.oidc')}</small>}
                      </th>
                      <td>{u.displayName ?? ''}</td>
                      <td>{u.email ?? ''}</td>
                      <td>{u.isAdmin ? t('common.yes') : t('common.no')}</td>
                      <td>
                        {u.disabled ? t('users.disabled') : t('users.active')}
                        {locked && (
                          <>
                            <br />
                            <small className="warn">{t('users.locked', { time: dateTime(u.lockedUntil) })}</small>
                          </>
                        )}
                      </td>
                      <td>{dateTime(u.createdAt)}</td>
                      <td className="actions">
                        <button type="button" onClick={() => patch(u, { disabled: !u.disabled })} aria-label={`${u.disabled ? t('users.enable') : t('users.disable')}: ${u.username}`}>
                          {u.disabled ? t('users.enable') : t('users.disable')}
                        </button>
                        {locked && (
                          <button type="button" onClick={() => patch(u, { unlock: true })} aria-label={`${t('users.unlock')}: ${u.username}`}>
                            {t('users.unlock')}
                          </button>
                        )}
                        <Link to={withQuery('/admin/grants', { user: u.id })} aria-label={`${t('users.grants')}: ${u.username}`}>
                          {t('users.grants')}
                        </Link>
                      </td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
            <CreateUser onCreated={users.reload} />
          </>
        )}
      </LoadState>
    </Page>
  )
}

function CreateUser({ onCreated }: { onCreated(): void }) {
  const { t } = useI18n()
  const empty = { username: '', displayName: '', email: '', isAdmin: false }
  const [form, setForm] = useState(empty)
  const [error, setError] = useState<unknown>(null)
  const [created, setCreated] = useState<{ username: string; oneTimePassword: string } | null>(null)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setError(null)
    setCreated(null)
    try {
      const body = { username: form.username, displayName: form.displayName || undefined, email: form.email || undefined, isAdmin: form.isAdmin }
      const r = await api.post<{ user: User; oneTimePassword: string }>('/api/users', body)
      setCreated({ username: r.user.username, oneTimePassword: r.oneTimePassword })
      setForm(empty)
      onCreated()
    } catch (err) {
      setError(err)
    }
  }
  return (
    <section aria-labelledby="new-user">
      <h2 id="new-user">{t('users.create')}</h2>
      <form onSubmit={submit} className="inline">
        <Field label={t('users.username')}>
          {(id) => <input id={id} name="username" required autoComplete="off" value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} />}
        </Field>
        <Field label={t('users.displayName')}>
          {(id) => <input id={id} name="displayName" value={form.displayName} onChange={(e) => setForm({ ...form, displayName: e.target.value })} />}
        </Field>
        <Field label={t('users.email')}>
          {(id) => <input id={id} name="email" type="email" value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />}
        </Field>
        <div className="field checkbox">
          <label>
            <input type="checkbox" name="isAdmin" checked={form.isAdmin} onChange={(e) => setForm({ ...form, isAdmin: e.target.checked })} /> {t('users.isAdmin')}
          </label>
        </div>
        <button type="submit">{t('users.createSubmit')}</button>
      </form>
      <ErrorMessage error={error} />
      {created && <SecretOnce label={t('users.oneTime', { name: created.username })} secret={created.oneTimePassword} />}
    </section>
  )
}
