/**
 * @module One clinical record: what was done and found (findings with site and morphology,
 * diagnoses, procedures, adverse events; the specimen of a pathology case; a radiology report),
 * each code with its meaning, and the studies it describes, linked to their images when the
 * archive holds them. A record outside the user's collections answers 404, shown as not found.
 */
import { api } from '../api.ts'
import { LoadState, Page, useLoad } from '../components.tsx'
import { useI18n, type MessageKey } from '../i18n.tsx'
import { Link } from '../router.tsx'
import { Code, CodeList, examTypeLabel, MeaningsProvider, performed, type Coded, type RecordDetail as Detail } from './records-shared.tsx'

interface Finding {
  site: Coded
  term: Coded
  classification?: Coded[]
  sizeMm?: number
  count?: number
  note?: string
}

const list = (v: unknown): Coded[] => (Array.isArray(v) ? (v as Coded[]) : [])

export function RecordDetail({ id }: { id: string }) {
  const { t } = useI18n()
  const state = useLoad((signal) => api.get<Detail>(`/api/records/${encodeURIComponent(id)}`, { signal }), [id])
  const back = <Link to="/records">← {t('records.back')}</Link>
  return (
    <Page title={state.data ? `${t(`records.kind.${state.data.kind}` as MessageKey)} ${performed(state.data.performedAt)}` : t('records.detail.title')} actions={back}>
      <LoadState state={state} notFound={t('records.notFound')}>
        {(d) => {
          const r = d.record
          const findings = Array.isArray(r.findings) ? (r.findings as Finding[]) : []
          return (
            <MeaningsProvider value={d.meanings}>
              <dl className="facts">
                <dt>{t('studies.collection')}</dt>
                <dd>{d.collection}</dd>
                <dt>{t('records.site')}</dt>
                <dd>{d.site ?? t('common.none')}</dd>
                <dt>{t('records.subject')}</dt>
                <dd>
                  <code>{d.subject}</code>
                </dd>
                <dt>{t('records.performedAt')}</dt>
                <dd>{performed(d.performedAt)}</dd>
                <dt>{t('records.examType')}</dt>
                <dd>
                  {t(`records.kind.${d.kind}` as MessageKey)}: {examTypeLabel(t, d.examType)}
                </dd>
                {typeof r.hPylori === 'string' && (
                  <>
                    <dt>{t('records.hPylori')}</dt>
                    <dd>{r.hPylori}</dd>
                  </>
                )}
                {d.supersededBy && (
                  <>
                    <dt>{t('records.superseded')}</dt>
                    <dd>
                      <Link to={`/records/${encodeURIComponent(d.supersededBy)}`}>{t('records.superseded.link')}</Link>
                    </dd>
                  </>
                )}
              </dl>

              {d.kind === 'endoscopy' && (
                <>
                  <h2>{t('records.indication')}</h2>
                  <CodeList codes={list(r.indication)} />
                  <h2>{t('records.findings')}</h2>
                  {findings.length === 0 ? (
                    <p className="muted">{t('common.none')}</p>
                  ) : (
                    <table className="findings" data-testid="record-findings">
                      <thead>
                        <tr>
                          <th scope="col">{t('records.finding.site')}</th>
                          <th scope="col">{t('records.finding.term')}</th>
                          <th scope="col">{t('records.finding.classification')}</th>
                          <th scope="col" className="num">
                            {t('records.finding.size')}
                          </th>
                        </tr>
                      </thead>
                      <tbody>
                        {findings.map((f, i) => (
                          <tr key={i}>
                            <td>
                              <Code c={f.site} />
                            </td>
                            <th scope="row">
                              <Code c={f.term} />
                            </th>
                            <td>
                              <CodeList codes={f.classification ?? []} />
                            </td>
                            <td className="num">{f.sizeMm ?? ''}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  )}
                  <h2>{t('records.diagnoses')}</h2>
                  <CodeList codes={list(r.diagnoses)} />
                  <h2>{t('records.procedures')}</h2>
                  <CodeList codes={list(r.procedures)} />
                  <h2>{t('records.adverseEvents')}</h2>
                  <CodeList codes={list(r.adverseEvents)} />
                </>
              )}
              {d.kind === 'pathology' && (
                <>
                  <h2>{t('records.specimen')}</h2>
                  <CodeList codes={[(r.specimen as { type: Coded }).type, (r.specimen as { site: Coded }).site].filter(Boolean)} />
                  <h2>{t('records.diagnoses')}</h2>
                  <CodeList codes={list(r.diagnoses)} />
                  {typeof r.group === 'string' && (
                    <p>
                      {t('records.group')}: {r.group}
                    </p>
                  )}
                </>
              )}
              {d.kind === 'radiology' && (
                <>
                  <h2>{t('records.report')}</h2>
                  {typeof r.findingsText === 'string' && <p className="report">{r.findingsText}</p>}
                  {typeof r.impression === 'string' && (
                    <p className="report">
                      <strong>{t('records.impression')}:</strong> {r.impression}
                    </p>
                  )}
                </>
              )}
              {typeof r.text === 'string' && r.text && (
                <>
                  <h2>{t('records.text')}</h2>
                  <p className="report">{r.text}</p>
                </>
              )}

              <h2>{t('records.linkedStudies')}</h2>
              {d.linkedStudies.length === 0 ? (
                <p className="muted">{t('records.linkedStudies.none')}</p>
              ) : (
                <ul data-testid="record-studies">
                  {d.linkedStudies.map((s) => (
                    <li key={s.studyInstanceUid}>
                      {s.inArchive ? (
                        <Link to={`/studies/${encodeURIComponent(s.studyInstanceUid)}`}>{s.studyDescription || s.studyInstanceUid}</Link>
                      ) : (
                        <code>{s.studyInstanceUid}</code>
                      )}{' '}
                      <small className="muted">{s.inArchive ? `${s.modalities.join(', ')} ${s.studyDate ?? ''}` : t('records.linkedStudies.pending')}</small>
                    </li>
                  ))}
                </ul>
              )}
            </MeaningsProvider>
          )
        }}
      </LoadState>
    </Page>
  )
}
