/** @module Admin: one user's grants (role × collection, and a site for uploaders); add and remove. */
import { useState, type FormEvent } from 'react'
import { api, withQuery } from '../api.ts'
import { ErrorMessage, Field, LoadState, Page, useLoad } from '../components.tsx'
import { useI18n } from '../i18n.tsx'
import { navigate, useLocation } from '../router.tsx'
import { ROLES, type Collection, type Grant, type Role, type Site, type User } from '../types.ts'

export function Grants() {
  const { t } = useI18n()
  const { query } = useLocation()
  const userId = query.get('user') ?? ''
  const users = useLoad((signal) => api.get<User[]>('/api/users', { signal }), [])
  return (
    <Page title={t('grants.title')}>
      <LoadState state={users}>
        {(list) => (
          <>
            <form className="inline" onSubmit={(e) => e.preventDefault()}>
              <Field label={t('grants.user')}>
                {(id) => (
                  <select id={id} name="user" value={userId} onChange={(e) => navigate(withQuery('/admin/grants', { user: e.target.value }), { replace: true })}>
                    <option value="">{t('grants.pickUser')}</option>
                    {list.map((u) => (
                      <option key={u.id} value={u.id}>
                        {u.username}
                        {u.displayName ? ` (${u.displayName})` : ''}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            </form>
            {userId && <UserGrants userId={userId} />}
          </>
        )}
      </LoadState>
    </Page>
  )
}

function UserGrants({ userId }: { userId: string }) {
  const { t, dateTime } = useI18n()
  const grants = useLoad((signal) => api.get<Grant[]>(withQuery('/api/grants', { user: userId }), { signal }), [userId])
  const [error, setError] = useState<unknown>(null)
  const remove = async (g: Grant) => {
    if (!window.confirm(t('grants.removeConfirm', { role: g.role, collection: g.collection ?? t('grants.everyCollection') }))) return
    setError(null)
    try {
      await api.del(`/api/grants/${encodeURIComponent(g.id)}`)
      grants.reload()
    } catch (err) {
      setError(err)
    }
  }
  return (
    <LoadState state={grants}>
      {(rows) => (
        <>
          <ErrorMessage error={error} />
          {rows.length === 0 ? (
            <p className="notice">{t('grants.none')}</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('grants.role')}</th>
                  <th scope="col">{t('grants.collection')}</th>
                  <th scope="col">{t('grants.site')}</th>
                  <th scope="col">{t('grants.created')}</th>
                  <th scope="col">
                    <span className="visually-hidden">{t('users.actions')}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((g) => (
                  <tr key={g.id}>
                    <th scope="row">{g.role}</th>
                    <td>{g.collection ?? <em>{t('grants.everyCollection')}</em>}</td>
                    <td>{g.site ?? ''}</td>
                    <td>{dateTime(g.createdAt)}</td>
                    <td>
                      <button type="button" className="danger" onClick={() => remove(g)} aria-label={`${t('grants.remove')}: ${g.role} ${g.collection ?? t('grants.everyCollection')}`}>
                        {t('grants.remove')}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <AddGrant userId={userId} onAdded={grants.reload} />
        </>
      )}
    </LoadState>
  )
}

function AddGrant({ userId, onAdded }: { userId: string; onAdded(): void }) {
  const { t } = useI18n()
  const collections = useLoad((signal) => api.get<Collection[]>('/api/collections', { signal }), [])
  const sites = useLoad((signal) => api.get<Site[]>('/api/sites', { signal }), [])
  const [role, setRole] = useState<Role>('researcher')
  const [collection, setCollection] = useState('')
  const [site, setSite] = useState('')
  const [error, setError] = useState<unknown>(null)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setError(null)
    try {
      await api.post<Grant>('/api/grants', { userId, role, collection: collection || undefined, site: site || undefined })
      onAdded()
    } catch (err) {
      setError(err)
    }
  }
  return (
    <section aria-labelledby="add-grant">
      <h2 id="add-grant">{t('grants.add')}</h2>
      <form onSubmit={submit} className="inline">
        <Field label={t('grants.role')}>
          {(id) => (
            <select id={id} name="role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('grants.collection')}>
          {(id) => (
            <select id={id} name="collection" value={collection} onChange={(e) => setCollection(e.target.value)}>
              <option value="">{t('grants.everyCollection')}</option>
              {(collections.data ?? []).map((c) => (
                <option key={c.id}>{c.name}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('grants.site')}>
          {(id) => (
            <select id={id} name="site" value={site} onChange={(e) => setSite(e.target.value)}>
              <option value="">{t('grants.noSite')}</option>
              {(sites.data ?? []).map((s) => (
                <option key={s.id}>{s.name}</option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit">{t('grants.add')}</button>
      </form>
      <ErrorMessage error={error} />
    </section>
  )
}
