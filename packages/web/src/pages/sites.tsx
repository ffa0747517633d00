/** @module Admin: sites (facilities that upload). */
import { useState, type FormEvent } from 'react'
import { api } from '../api.ts'
import { ErrorMessage, Field, LoadState, Page, useLoad } from '../components.tsx'
import { useI18n } from '../i18n.tsx'
import type { Site } from '../types.ts'

export function Sites() {
  const { t, dateTime } = useI18n()
  const sites = useLoad((signal) => api.get<Site[]>('/api/sites', { signal }), [])
  const [name, setName] = useState('')
  const [error, setError] = useState<unknown>(null)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setError(null)
    try {
      await api.post<Site>('/api/sites', { name })
      setName('')
      sites.reload()
    } catch (err) {
      setError(err)
    }
  }
  return (
    <Page title={t('sites.title')}>
      <LoadState state={sites}>
        {(rows) => (
          <>
            {rows.length === 0 ? (
              <p className="notice">{t('sites.none')}</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t('sites.name')}</th>
                    <th scope="col">{t('sites.created')}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((s) => (
                    <tr key={s.id}>
                      <th scope="row">{s.name}</th>
                      <td>{dateTime(s.createdAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <section aria-labelledby="new-site">
              <h2 id="new-site">{t('sites.create')}</h2>
              <form onSubmit={submit} className="inline">
                <Field label={t('sites.name')}>{(id) => <input id={id} name="name" required value={name} onChange={(e) => setName(e.target.value)} />}</Field>
                <button type="submit">{t('sites.createSubmit')}</button>
              </form>
              <ErrorMessage error={error} />
            </section>
          </>
        )}
      </LoadState>
    </Page>
  )
}
