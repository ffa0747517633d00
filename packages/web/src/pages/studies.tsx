/**
 * @module Studies: a QIDO-RS search (`/dicomweb/studies`) with filters kept in the address, so a
 * search can be bookmarked and the back button works; 50 per page with thumbnails.
 */
import { useEffect, useState, type FormEvent } from 'react'
import { api, withQuery } from '../api.ts'
import { Field, LoadState, Page, useLoad } from '../components.tsx'
import { dicomDate, num, personName, str, strs, Tag, toDicomDate, type DicomJson } from '../dicom-json.ts'
import { useI18n } from '../i18n.tsx'
import { Link, navigate, useLocation } from '../router.tsx'
import { Thumbnail } from '../thumbnail.tsx'
import type { Collection } from '../types.ts'

const PAGE = 50
const MODALITIES = ['CT', 'MR', 'CR', 'DX', 'MG', 'US', 'XA', 'NM', 'PT', 'ES', 'SM', 'OT']

interface Filters {
  collection: string
  PatientID: string
  from: string
  to: string
  modality: string
}

function filtersOf(q: URLSearchParams): Filters {
  return { collection: q.get('collection') ?? '', PatientID: q.get('PatientID') ?? '', from: q.get('from') ?? '', to: q.get('to') ?? '', modality: q.get('modality') ?? '' }
}

/** QIDO StudyDate range matching (PS3.4 C.2.2.2.5): `from-to`, `from-` or `-to`. */
function studyDateRange(from: string, to: string): string | undefined {
  if (!from && !to) return undefined
  if (from && from === to) return toDicomDate(from)
  return `${toDicomDate(from)}-${toDicomDate(to)}`
}

export function Studies() {
  const { t } = useI18n()
  const { query, href } = useLocation()
  const applied = filtersOf(query)
  const offset = Math.max(0, Number(query.get('offset')) || 0)
  const [form, setForm] = useState<Filters>(applied)
  // The address changed (back button, a collection link): show its filters in the form.
  useEffect(() => setForm(filtersOf(new URL(href, window.location.origin).searchParams)), [href])

  const collections = useLoad((signal) => api.get<Collection[]>('/api/collections', { signal }), [])
  const qido = withQuery('/dicomweb/studies', {
    collection: applied.collection,
    PatientID: applied.PatientID,
    StudyDate: studyDateRange(applied.from, applied.to),
    ModalitiesInStudy: applied.modality,
    includefield: 'StudyDescription',
    limit: PAGE,
    offset,
  })
  const studies = useLoad((signal) => api.get<DicomJson[] | undefined>(qido, { signal, accept: 'application/dicom+json' }).then((r) => r ?? []), [qido])

  const go = (f: Filters, off = 0) => navigate(withQuery('/studies', { ...f, offset: off || undefined }))
  const submit = (e: FormEvent) => {
    e.preventDefault()
    go(form)
  }
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value })

  return (
    <Page title={applied.collection ? `${t('studies.title')}: ${applied.collection}` : t('studies.title')}>
      <form onSubmit={submit} className="filters" role="search" aria-label={t('studies.filters')}>
        <Field label={t('studies.collection')}>
          {(id) => (
            <select id={id} name="collection" value={form.collection} onChange={set('collection')}>
              <option value="">{t('studies.allCollections')}</option>
              {(collections.data ?? []).map((c) => (
                <option key={c.id} value={c.name}>
                  {c.name}
                </option>
              ))}
              {form.collection && !(collections.data ?? []).some((c) => c.name === form.collection) && <option value={form.collection}>{form.collection}</option>}
            </select>
          )}
        </Field>
        <Field label={t('studies.patientId')}>{(id) => <input id={id} name="PatientID" value={form.PatientID} onChange={set('PatientID')} />}</Field>
        <Field label={t('studies.dateFrom')}>{(id) => <input id={id} name="from" type="date" value={form.from} onChange={set('from')} />}</Field>
        <Field label={t('studies.dateTo')}>{(id) => <input id={id} name="to" type="date" value={form.to} onChange={set('to')} />}</Field>
        <Field label={t('studies.modality')}>
          {(id) => (
            <select id={id} name="modality" value={form.modality} onChange={set('modality')}>
              <option value="">{t('studies.anyModality')}</option>
              {MODALITIES.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          )}
        </Field>
        <div className="field buttons">
          <button type="submit" className="primary">
            {t('studies.search')}
          </button>
          <button type="button" onClick={() => go({ collection: applied.collection, PatientID: '', from: '', to: '', modality: '' })}>
            {t('studies.reset')}
          </button>
        </div>
      </form>

      <LoadState state={studies}>
        {(rows) => (
          <>
            {rows.length === 0 ? <p className="notice">{t('studies.none')}</p> : <StudyTable rows={rows} offset={offset} />}
            <nav className="paging" aria-label={t('studies.paging')}>
              <button type="button" disabled={offset === 0} onClick={() => go(applied, Math.max(0, offset - PAGE))}>
                ← {t('studies.prev')}
              </button>
              {rows.length > 0 && <span>{t('studies.range', { from: offset + 1, to: offset + rows.length })}</span>}
              <button type="button" disabled={rows.length < PAGE} onClick={() => go(applied, offset + PAGE)}>
                {t('studies.next')} →
              </button>
            </nav>
          </>
        )}
      </LoadState>
    </Page>
  )
}

function StudyTable({ rows, offset }: { rows: DicomJson[]; offset: number }) {
  const { t, lang } = useI18n()
  return (
    <table className="studies" aria-describedby="studies-caption">
      <caption id="studies-caption" className="visually-hidden">
        {t('studies.range', { from: offset + 1, to: offset + rows.length })}
      </caption>
      <thead>
        <tr>
          <th scope="col">{t('studies.thumbnail')}</th>
          <th scope="col">{t('studies.patient')}</th>
          <th scope="col">{t('studies.date')}</th>
          <th scope="col">{t('studies.description')}</th>
          <th scope="col">{t('studies.modalities')}</th>
          <th scope="col" className="num">
            {t('studies.series')}
          </th>
          <th scope="col" className="num">
            {t('studies.instances')}
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => {
          const uid = str(r, Tag.StudyInstanceUID)
          const name = personName(r, Tag.PatientName, lang)
          return (
            <tr key={uid} data-study-uid={uid}>
              <td>
                <Thumbnail src={`/dicomweb/studies/${encodeURIComponent(uid)}/thumbnail`} />
              </td>
              <td>
                <span title={name.all}>{name.primary || t('common.none')}</span>
                <br />
                <small className="muted">{str(r, Tag.PatientID)}</small>
              </td>
              <td>{dicomDate(str(r, Tag.StudyDate))}</td>
              <th scope="row">
                <Link to={`/studies/${encodeURIComponent(uid)}`}>{str(r, Tag.StudyDescription) || uid}</Link>
              </th>
              <td>{strs(r, Tag.ModalitiesInStudy).join(', ')}</td>
              <td className="num">{num(r, Tag.NumberOfStudyRelatedSeries) ?? ''}</td>
              <td className="num">{num(r, Tag.NumberOfStudyRelatedInstances) ?? ''}</td>
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}
