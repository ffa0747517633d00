/**
 * @module Clinical records: a search (exam type, finding code, diagnosis, date range, site) over
 * `GET /api/records`, with the filters kept in the address so a search can be bookmarked and the
 * back button works, and keyset pages (the hub's `next` cursor, also in the address).
 */
import { useEffect, useState, type FormEvent } from 'react'
import { api, withQuery } from '../api.ts'
import { Field, LoadState, Page, useLoad } from '../components.tsx'
import { useI18n } from '../i18n.tsx'
import { Link, navigate, useLocation } from '../router.tsx'
import type { Collection } from '../types.ts'
import { EXAM_TYPES, examTypeLabel, RecordTable, type RecordPage } from './records-shared.tsx'

const PAGE = 50

interface Filters {
  collection: string
  examType: string
  code: string
  diagnosis: string
  from: string
  to: string
  site: string
}

const KEYS: (keyof Filters)[] = ['collection', 'examType', 'code', 'diagnosis', 'from', 'to', 'site']

function filtersOf(q: URLSearchParams): Filters {
  return Object.fromEntries(KEYS.map((k) => [k, q.get(k) ?? ''])) as unknown as Filters
}

export function Records() {
  const { t } = useI18n()
  const { query, href } = useLocation()
  const applied = filtersOf(query)
  const cursor = query.get('cursor') ?? ''
  const [form, setForm] = useState<Filters>(applied)
  useEffect(() => setForm(filtersOf(new URL(href, window.location.origin).searchParams)), [href])

  const collections = useLoad((signal) => api.get<Collection[]>('/api/collections', { signal }), [])
  // The finding-code box searches finding terms only; a diagnosis has its own box.
  const url = withQuery('/api/records', { ...applied, role: applied.code ? 'finding' : undefined, cursor, limit: PAGE })
  const records = useLoad((signal) => api.get<RecordPage>(url, { signal }), [url])

  const go = (f: Filters, next?: string) => navigate(withQuery('/records', { ...f, cursor: next }))
  const submit = (e: FormEvent) => {
    e.preventDefault()
    go(form)
  }
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value })

  return (
    <Page
      title={t('records.title')}
      actions={<Link to={withQuery('/records/counts', { collection: applied.collection })}>{t('records.counts.link')}</Link>}
    >
      <form onSubmit={submit} className="filters" role="search" aria-label={t('records.filters')}>
        <Field label={t('studies.collection')}>
          {(id) => (
            <select id={id} name="collection" value={form.collection} onChange={set('collection')}>
              <option value="">{t('studies.allCollections')}</option>
              {(collections.data ?? []).map((c) => (
                <option key={c.id} value={c.name}>
                  {c.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('records.examType')}>
          {(id) => (
            <select id={id} name="examType" value={form.examType} onChange={set('examType')}>
              <option value="">{t('studies.anyModality')}</option>
              {EXAM_TYPES.map((e) => (
                <option key={e} value={e}>
                  {examTypeLabel(t, e)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('records.findingCode')} hint={t('records.findingCode.hint')}>
          {(id, hint) => <input id={id} name="code" value={form.code} onChange={set('code')} aria-describedby={hint} />}
        </Field>
        <Field label={t('records.diagnosisCode')} hint={t('records.diagnosisCode.hint')}>
          {(id, hint) => <input id={id} name="diagnosis" value={form.diagnosis} onChange={set('diagnosis')} aria-describedby={hint} />}
        </Field>
        <Field label={t('records.dateFrom')}>{(id) => <input id={id} name="from" type="date" value={form.from} onChange={set('from')} />}</Field>
        <Field label={t('records.dateTo')}>{(id) => <input id={id} name="to" type="date" value={form.to} onChange={set('to')} />}</Field>
        <Field label={t('records.site')}>{(id) => <input id={id} name="site" value={form.site} onChange={set('site')} />}</Field>
        <div className="field buttons">
          <button type="submit" className="primary">
            {t('studies.search')}
          </button>
          <button type="button" onClick={() => go({ collection: applied.collection, examType: '', code: '', diagnosis: '', from: '', to: '', site: '' })}>
            {t('studies.reset')}
          </button>
        </div>
      </form>

      <LoadState state={records}>
        {(page) => (
          <>
            {page.records.length === 0 ? <p className="notice">{t('records.none')}</p> : <RecordTable rows={page.records} caption={t('records.title')} />}
            <nav className="paging" aria-label={t('studies.paging')}>
              <button type="button" disabled={!cursor} onClick={() => go(applied)}>
                ← {t('records.first')}
              </button>
              <button type="button" disabled={!page.next} onClick={() => page.next && go(applied, page.next)}>
                {t('studies.next')} →
              </button>
            </nav>
          </>
        )}
      </LoadState>
    </Page>
  )
}
