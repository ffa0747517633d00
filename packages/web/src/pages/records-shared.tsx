/**
 * @module What the clinical record pages share: the hub's record shapes (GET /api/records and
 * friends, docs/api.md), coded terms shown with their meaning, the results table, and the
 * "Clinical records" panel the study page shows beside its images.
 */
import { createContext, useContext } from 'react'
import { api } from '../api.ts'
import { LoadState, useLoad } from '../components.tsx'
import { useI18n, type MessageKey } from '../i18n.tsx'
import { Link } from '../router.tsx'

export interface Coded {
  system: string
  code: string
  meaning?: string
}

/** `GET /api/records` rows. */
export interface RecordSummary {
  id: string
  collection: string
  site: string | null
  kind: 'endoscopy' | 'pathology' | 'radiology' | 'patient'
  examType: string | null
  subject: string
  performedAt: string
  receivedAt: string
  studies: string[]
  findings: Coded[]
  diagnoses: Coded[]
  /** The shipped vocabularies' meanings of the codes, by `system|code`, in both languages. */
  meanings: Meanings
}

export type Meanings = Record<string, { en: string; ja: string }>

/** Meanings of the codes on screen: the vocabulary's, in the user's language, before the source's text. */
const MeaningsContext = createContext<Meanings>({})
export const MeaningsProvider = MeaningsContext.Provider

export interface LinkedStudy {
  studyInstanceUid: string
  inArchive: boolean
  studyDate: string | null
  studyDescription: string | null
  modalities: string[]
}

/** `GET /api/records/{id}`: the summary, the de-identified record itself and its linked studies. */
export interface RecordDetail extends RecordSummary {
  key: string
  supersededBy: string | null
  record: Record<string, unknown>
  linkedStudies: LinkedStudy[]
}

export interface RecordPage {
  records: RecordSummary[]
  next: string | null
}

export const EXAM_TYPES = ['upper-gi', 'colonoscopy', 'small-bowel', 'ercp'] as const

/** The exam type's label (endoscopy) or the modality code as it is (radiology). */
export function examTypeLabel(t: (k: MessageKey) => string, examType: string | null): string {
  if (!examType) return t('common.none')
  return (EXAM_TYPES as readonly string[]).includes(examType) ? t(`records.exam.${examType}` as MessageKey) : examType
}

/** A coded term: its meaning, with the vocabulary and code beside it for those who search by code. */
export function Code({ c }: { c: Coded }) {
  const { lang } = useI18n()
  const known = useContext(MeaningsContext)[`${c.system}|${c.code}`]
  return (
    <span className="coded" data-code={c.code}>
      {known?.[lang] || c.meaning || c.code}{' '}
      <small className="muted">
        ({c.system} {c.code})
      </small>
    </span>
  )
}

export function CodeList({ codes }: { codes: Coded[] }) {
  const { t } = useI18n()
  if (!codes.length) return <>{t('common.none')}</>
  return (
    <ul className="codes">
      {codes.map((c, i) => (
        <li key={`${c.system}|${c.code}|${i}`}>
          <Code c={c} />
        </li>
      ))}
    </ul>
  )
}

/** `2025-02-03T10:00` → `2025-02-03 10:00`: shifted local dates, shown as written (no time zone). */
export function performed(at: string): string {
  return at.replace('T', ' ')
}

export function RecordTable({ rows, caption }: { rows: RecordSummary[]; caption: string }) {
  const { t } = useI18n()
  const meanings = Object.assign({}, ...rows.map((r) => r.meanings)) as Meanings
  return (
    <MeaningsProvider value={meanings}>
      <table className="records">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t('records.performedAt')}</th>
            <th scope="col">{t('records.examType')}</th>
            <th scope="col">{t('records.subject')}</th>
            <th scope="col">{t('records.site')}</th>
            <th scope="col">{t('records.findings')}</th>
            <th scope="col">{t('records.diagnoses')}</th>
            <th scope="col" className="num">
              {t('records.studies')}
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id} data-record-id={r.id}>
              <th scope="row">
                <Link to={`/records/${encodeURIComponent(r.id)}`}>{performed(r.performedAt)}</Link>
              </th>
              <td>
                {t(`records.kind.${r.kind}` as MessageKey)}: {examTypeLabel(t, r.examType)}
              </td>
              <td>
                <code>{r.subject}</code>
              </td>
              <td>{r.site ?? t('common.none')}</td>
              <td>
                <CodeList codes={r.findings} />
              </td>
              <td>
                <CodeList codes={r.diagnoses} />
              </td>
              <td className="num">{r.studies.length}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </MeaningsProvider>
  )
}

/** The study page's panel: the clinical records that describe this study. */
export function StudyRecords({ uid }: { uid: string }) {
  const { t } = useI18n()
  const state = useLoad((signal) => api.get<RecordPage>(`/api/studies/${encodeURIComponent(uid)}/records`, { signal }), [uid])
  return (
    <section aria-labelledby="study-records-title" data-testid="study-records">
      <h2 id="study-records-title">{t('records.panel.title')}</h2>
      <LoadState state={state}>{(page) => (page.records.length ? <RecordTable rows={page.records} caption={t('records.panel.title')} /> : <p className="muted">{t('records.panel.none')}</p>)}</LoadState>
    </section>
  )
}
