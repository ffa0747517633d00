/**
 * @module API tokens for programs: list, create (the secret is shown once), revoke. Everyone manages
 * their own; admins may list everyone's. A user can only issue a token for a role they hold.
 */
import { useState, type FormEvent } from 'react'
import { api, withQuery } from '../api.ts'
import { ErrorMessage, Field, LoadState, Page, SecretOnce, useLoad } from '../components.tsx'
import { useI18n } from '../i18n.tsx'
import { useSignedIn } from '../session.tsx'
import { isAdmin, ROLES, type Collection, type Role, type Site, type Token } from '../types.ts'

export function Tokens() {
  const { t, dateTime } = useI18n()
  const session = useSignedIn()
  const admin = isAdmin(session)
  const [all, setAll] = useState(false)
  const tokens = useLoad((signal) => api.get<Token[]>(withQuery('/api/tokens', { all: all ? 1 : undefined }), { signal }), [all])
  const [error, setError] = useState<unknown>(null)
  const revoke = async (tok: Token) => {
    if (!window.confirm(t('tokens.revokeConfirm', { name: tok.name }))) return
    setError(null)
    try {
      await api.del(`/api/tokens/${encodeURIComponent(tok.id)}`)
      tokens.reload()
    } catch (err) {
      setError(err)
    }
  }
  const status = (tok: Token) =>
    tok.revokedAt ? t('tokens.revoked') : tok.expiresAt && new Date(tok.expiresAt).getTime() < Date.now() ? t('tokens.expired') : t('tokens.active')
  return (
    <Page title={t('tokens.title')}>
      <p>{t('tokens.intro')}</p>
      {admin && (
        <div className="field checkbox">
          <label>
            <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> {t('tokens.all')}
          </label>
        </div>
      )}
      <ErrorMessage error={error} />
      <LoadState state={tokens}>
        {(rows) =>
          rows.length === 0 ? (
            <p className="notice">{t('tokens.none')}</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('tokens.name')}</th>
                  {all && <th scope="col">{t('tokens.user')}</th>}
                  <th scope="col">{t('tokens.role')}</th>
                  <th scope="col">{t('tokens.collection')}</th>
                  <th scope="col">{t('tokens.prefix')}</th>
                  <th scope="col">{t('tokens.created')}</th>
                  <th scope="col">{t('tokens.expires')}</th>
                  <th scope="col">{t('tokens.lastUsed')}</th>
                  <th scope="col">{t('tokens.status')}</th>
                  <th scope="col">
                    <span className="visually-hidden">{t('users.actions')}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((tok) => (
                  <tr key={tok.id} className={tok.revokedAt ? 'inactive' : undefined}>
                    <th scope="row">{tok.name}</th>
                    {all && <td>{tok.username}</td>}
                    <td>{tok.role}</td>
                    <td>{tok.collection ?? <em>{t('grants.everyCollection')}</em>}</td>
                    <td>
                      <code>{tok.prefix}…</code>
                    </td>
                    <td>{dateTime(tok.createdAt)}</td>
                    <td>{tok.expiresAt ? dateTime(tok.expiresAt) : t('tokens.never')}</td>
                    <td>{tok.lastUsedAt ? dateTime(tok.lastUsedAt) : t('tokens.never')}</td>
                    <td>{status(tok)}</td>
                    <td>
                      {!tok.revokedAt && (
                        <button type="button" className="danger" onClick={() => revoke(tok)} aria-label={`${t('tokens.revoke')}: ${tok.name}`}>
                          {t('tokens.revoke')}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </LoadState>
      <CreateToken onCreated={tokens.reload} />
    </Page>
  )
}

function CreateToken({ onCreated }: { onCreated(): void }) {
  const { t } = useI18n()
  const session = useSignedIn()
  const admin = isAdmin(session)
  const roles: Role[] = admin ? [...ROLES] : [...new Set(session.grants.map((g) => g.role))]
  const collections = useLoad((signal) => api.get<Collection[]>('/api/collections', { signal }), [])
  // Only admins may list sites; an uploader picks among the sites of their own grants.
  const sites = useLoad(
    (signal) => (admin ? api.get<Site[]>('/api/sites', { signal }).then((s) => s.map((x) => x.name)) : Promise.resolve([...new Set(session.grants.flatMap((g) => (g.site ? [g.site] : [])))])),
    [admin],
  )
  const [form, setForm] = useState({ name: '', role: roles.find((r) => r !== 'admin') ?? roles[0] ?? 'researcher', collection: '', site: '', days: 90 })
  const [error, setError] = useState<unknown>(null)
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setError(null)
    setCreated(null)
    try {
      const body = { name: form.name, role: form.role, collection: form.collection || undefined, site: form.site || undefined, expiresInDays: form.days }
      const r = await api.post<{ token: string; info: Token }>('/api/tokens', body)
      setCreated({ name: r.info.name, token: r.token })
      setForm({ ...form, name: '' })
      onCreated()
    } catch (err) {
      setError(err)
    }
  }
  if (roles.length === 0) return null
  return (
    <section aria-labelledby="new-token">
      <h2 id="new-token">{t('tokens.create')}</h2>
      <form onSubmit={submit} className="inline">
        <Field label={t('tokens.name')}>{(id) => <input id={id} name="name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />}</Field>
        <Field label={t('tokens.role')}>
          {(id) => (
            <select id={id} name="role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
              {roles.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('tokens.collection')}>
          {(id) => (
            <select id={id} name="collection" value={form.collection} onChange={(e) => setForm({ ...form, collection: e.target.value })}>
              <option value="">{t('grants.everyCollection')}</option>
              {(collections.data ?? []).map((c) => (
                <option key={c.id}>{c.name}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('tokens.site')}>
          {(id) => (
            <select id={id} name="site" value={form.site} onChange={(e) => setForm({ ...form, site: e.target.value })}>
              <option value="">{t('grants.noSite')}</option>
              {(sites.data ?? []).map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('tokens.days')}>
          {(id) => <input id={id} name="expiresInDays" type="number" min={1} max={730} required value={form.days} onChange={(e) => setForm({ ...form, days: Number(e.target.value) })} />}
        </Field>
        <button type="submit">{t('tokens.createSubmit')}</button>
      </form>
      <ErrorMessage error={error} />
      {created && <SecretOnce label={t('tokens.secret', { name: created.name })} secret={created.token} />}
    </section>
  )
}
