/**
 * @module Clinical records per site and month (`GET /api/records/counts?by=site,month`): a table
 * with one row per site and one column per month, the basis for completeness reporting.
 */
import { api, withQuery } from '../api.ts'
import { Field, LoadState, Page, useLoad } from '../components.tsx'
import { useI18n } from '../i18n.tsx'
import { Link, navigate, useLocation } from '../router.tsx'
import type { Collection } from '../types.ts'

interface Count {
  collection: string
  site: string | null
  month: string
  count: number
}

export function RecordCounts() {
  const { t } = useI18n()
  const { query } = useLocation()
  const collection = query.get('collection') ?? ''
  const collections = useLoad((signal) => api.get<Collection[]>('/api/collections', { signal }), [])
  const url = withQuery('/api/records/counts', { collection, by: 'site,month' })
  const state = useLoad((signal) => api.get<{ counts: Count[] }>(url, { signal }), [url])
  return (
    <Page title={t('records.counts.title')} actions={<Link to={withQuery('/records', { collection })}>← {t('records.back')}</Link>}>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <Field label={t('studies.collection')}>
          {(id) => (
            <select id={id} value={collection} onChange={(e) => navigate(withQuery('/records/counts', { collection: e.target.value }))}>
              <option value="">{t('studies.allCollections')}</option>
              {(collections.data ?? []).map((c) => (
                <option key={c.id} value={c.name}>
                  {c.name}
                </option>
              ))}
            </select>
          )}
        </Field>
      </form>
      <LoadState state={state}>{({ counts }) => (counts.length ? <CountTable counts={counts} /> : <p className="notice">{t('records.none')}</p>)}</LoadState>
    </Page>
  )
}

function CountTable({ counts }: { counts: Count[] }) {
  const { t } = useI18n()
  const months = [...new Set(counts.map((c) => c.month))].sort()
  const rowKey = (c: Count) => `${c.collection}\u0000${c.site ?? ''}`
  const rows = [...new Map(counts.map((c) => [rowKey(c), c])).values()]
  const cell = new Map(counts.map((c) => [`${rowKey(c)}\u0000${c.month}`, c.count]))
  return (
    <div className="table-scroll">
      <table className="record-counts" data-testid="record-counts">
        <caption className="visually-hidden">{t('records.counts.title')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('studies.collection')}</th>
            <th scope="col">{t('records.site')}</th>
            {months.map((m) => (
              <th key={m} scope="col" className="num">
                {m}
              </th>
            ))}
            <th scope="col" className="num">
              {t('records.counts.total')}
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={rowKey(r)} data-site={r.site ?? ''}>
              <td>{r.collection}</td>
              <th scope="row">{r.site ?? t('records.counts.noSite')}</th>
              {months.map((m) => (
                <td key={m} className="num">
                  {cell.get(`${rowKey(r)}\u0000${m}`) ?? 0}
                </td>
              ))}
              <td className="num">{months.reduce((n, m) => n + (cell.get(`${rowKey(r)}\u0000${m}`) ?? 0), 0)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
