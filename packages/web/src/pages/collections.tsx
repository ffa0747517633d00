/** @module The collections the user may see, each linking to its studies; admins can add one. */
import { useState, type FormEvent } from 'react'
import { api, withQuery } from '../api.ts'
import { ErrorMessage, Field, LoadState, Page, useLoad } from '../components.tsx'
import { useI18n } from '../i18n.tsx'
import { Link } from '../router.tsx'
import { useSignedIn } from '../session.tsx'
import { isAdmin, type Collection } from '../types.ts'

export function Collections() {
  const { t, dateTime } = useI18n()
  const session = useSignedIn()
  const list = useLoad((signal) => api.get<Collection[]>('/api/collections', { signal }), [])
  return (
    <Page title={t('collections.title')}>
      <LoadState state={list}>
        {(rows) =>
          rows.length === 0 ? (
            <p className="notice">{t('collections.none')}</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('collections.name')}</th>
                  <th scope="col" className="num">
                    {t('collections.studies')}
                  </th>
                  <th scope="col" className="num">
                    {t('collections.instances')}
                  </th>
                  <th scope="col">{t('collections.deidentified')}</th>
                  <th scope="col">{t('collections.created')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((c) => (
                  <tr key={c.id}>
                    <th scope="row">
                      <Link to={withQuery('/studies', { collection: c.name })}>{c.name}</Link>
                    </th>
                    <td className="num">{c.studies.toLocaleString()}</td>
                    <td className="num">{c.instances.toLocaleString()}</td>
                    <td>{c.deidentified ? t('collections.deidentified.yes') : t('collections.deidentified.no')}</td>
                    <td>{dateTime(c.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </LoadState>
      {isAdmin(session) && <CreateCollection onCreated={list.reload} />}
    </Page>
  )
}

function CreateCollection({ onCreated }: { onCreated(): void }) {
  const { t } = useI18n()
  const [name, setName] = useState('')
  // New collections accept only de-identified data unless the administrator says otherwise.
  const [deidentified, setDeidentified] = useState(true)
  const [error, setError] = useState<unknown>(null)
  const [created, setCreated] = useState<string | null>(null)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setError(null)
    try {
      const c = await api.post<Collection>('/api/collections', { name, deidentified })
      setCreated(c.name)
      setName('')
      onCreated()
    } catch (err) {
      setError(err)
    }
  }
  return (
    <section aria-labelledby="new-collection">
      <h2 id="new-collection">{t('collections.create')}</h2>
      <form onSubmit={submit} className="inline">
        <Field label={t('collections.name')}>
          {(id) => <input id={id} name="name" required value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <div className="field checkbox">
          <label>
            <input type="checkbox" name="deidentified" checked={deidentified} onChange={(e) => setDeidentified(e.target.checked)} />
            {t('collections.deidentifiedOnly')}
          </label>
        </div>
        <button type="submit">{t('collections.createSubmit')}</button>
      </form>
      <ErrorMessage error={error} />
      {created && (
        <p className="notice success" role="status">
          {t('collections.created.ok', { name: created })}
        </p>
      )}
    </section>
  )
}
