/**
 * @module One study: its QIDO-RS summary and series with thumbnails. A study outside the user's
 * collections answers exactly like a missing one (empty result or 404), and is shown as not found.
 */
import { api, ApiError, withQuery } from '../api.ts'
import { LoadState, Page, useLoad } from '../components.tsx'
import { dicomDate, num, personName, str, strs, Tag, type DicomJson } from '../dicom-json.ts'
import { useI18n } from '../i18n.tsx'
import { Link } from '../router.tsx'
import { Thumbnail } from '../thumbnail.tsx'
import { StudyRecords } from './records-shared.tsx'

const DICOM_JSON = 'application/dicom+json'

async function loadStudy(uid: string, signal: AbortSignal): Promise<{ study: DicomJson; series: DicomJson[] }> {
  const found = await api.get<DicomJson[] | undefined>(withQuery('/dicomweb/studies', { StudyInstanceUID: uid, includefield: 'StudyDescription' }), { signal, accept: DICOM_JSON })
  const study = found?.[0]
  if (!study) throw new ApiError(404, 'NOT_FOUND', 'study not found')
  const base = `/dicomweb/studies/${encodeURIComponent(uid)}/series`
  const series = (await api.get<DicomJson[] | undefined>(withQuery(base, { includefield: 'SeriesDescription' }), { signal, accept: DICOM_JSON })) ?? []
  series.sort((a, b) => (num(a, Tag.SeriesNumber) ?? 0) - (num(b, Tag.SeriesNumber) ?? 0))
  return { study, series }
}

export function Study({ uid }: { uid: string }) {
  const { t, lang } = useI18n()
  const state = useLoad((signal) => loadStudy(uid, signal), [uid])
  const back = (
    <Link to="/studies">
      ← {t('study.back')}
    </Link>
  )
  return (
    <Page title={state.data ? str(state.data.study, Tag.StudyDescription) || t('study.title') : t('study.title')} actions={back}>
      <LoadState state={state} notFound={t('study.notFound')}>
        {({ study, series }) => {
          const name = personName(study, Tag.PatientName, lang)
          return (
            <>
              <dl className="facts">
                <dt>{t('studies.patient')}</dt>
                <dd title={name.all}>
                  {name.primary || t('common.none')} <span className="muted">({str(study, Tag.PatientID)})</span>
                </dd>
                <dt>{t('studies.date')}</dt>
                <dd>{dicomDate(str(study, Tag.StudyDate))}</dd>
                <dt>{t('studies.modalities')}</dt>
                <dd>{strs(study, Tag.ModalitiesInStudy).join(', ')}</dd>
                <dt>{t('studies.instances')}</dt>
                <dd>{num(study, Tag.NumberOfStudyRelatedInstances) ?? ''}</dd>
                <dt>{t('study.uid')}</dt>
                <dd>
                  <code>{uid}</code>
                </dd>
              </dl>
              <h2>{t('study.seriesTitle')}</h2>
              <ul className="series-grid">
                {series.map((s) => {
                  const suid = str(s, Tag.SeriesInstanceUID)
                  return (
                    <li key={suid} className="series-card" data-series-uid={suid}>
                      <Thumbnail src={`/dicomweb/studies/${encodeURIComponent(uid)}/series/${encodeURIComponent(suid)}/thumbnail`} size={128} />
                      <div>
                        <strong>
                          {t('study.seriesNumber')} {str(s, Tag.SeriesNumber)} · {str(s, Tag.Modality)}
                        </strong>
                        <br />
                        {str(s, Tag.SeriesDescription)}
                        <br />
                        <small className="muted">
                          {num(s, Tag.NumberOfSeriesRelatedInstances) ?? ''} {t('studies.instances')}
                        </small>
                      </div>
                    </li>
                  )
                })}
              </ul>
              <StudyRecords uid={uid} />
            </>
          )
        }}
      </LoadState>
    </Page>
  )
}
