/**
 * @module Slides: the whole-slide images of the user's collections (`GET /slides`), newest first,
 * with thumbnails and scan facts, and an upload form for users who may write studies. The app lives
 * at `/wsi` because `/slides` is the hub's data API (a browser GET there answers JSON, not the app).
 */
import { useEffect, useRef, useState, type FormEvent } from 'react'
import { api, ApiError, csrfHeaders, unauthenticated, withQuery } from '../api.ts'
import { errorText, Field, LoadState, Page, useLoad } from '../components.tsx'
import { useI18n } from '../i18n.tsx'
import { Link, navigate, useLocation } from '../router.tsx'
import { useSignedIn } from '../session.tsx'
import { formatBytes, scanObjective } from '../slide-scale.ts'
import { Thumbnail } from '../thumbnail.tsx'
import type { Collection, SlideInfo } from '../types.ts'
import { shortId } from '../short-id.ts'

const PAGE = 50

export const slidePath = (id: string) => `/wsi/${encodeURIComponent(id)}`

export function Slides() {
  const { t } = useI18n()
  const session = useSignedIn()
  const { query } = useLocation()
  const collection = query.get('collection') ?? ''
  const before = query.get('before') ?? ''
  const [picked, setPicked] = useState(collection)
  useEffect(() => setPicked(collection), [collection])

  const collections = useLoad((signal) => api.get<Collection[]>('/api/collections', { signal }), [])
  const url = withQuery('/slides', { collection, before, limit: PAGE })
  const slides = useLoad((signal) => api.get<SlideInfo[]>(url, { signal }), [url])
  const go = (c: string, b?: string) => navigate(withQuery('/wsi', { collection: c, before: b }))
  const submit = (e: FormEvent) => {
    e.preventDefault()
    go(picked)
  }
  const names = (collections.data ?? []).map((c) => c.name)

  return (
    <Page title={collection ? `${t('slides.title')}: ${collection}` : t('slides.title')}>
      <form onSubmit={submit} className="filters" role="search" aria-label={t('slides.filters')}>
        <Field label={t('studies.collection')}>
          {(id) => (
            <select id={id} name="collection" value={picked} onChange={(e) => setPicked(e.target.value)}>
              <option value="">{t('studies.allCollections')}</option>
              {names.map((n) => (
                <option key={n}>{n}</option>
              ))}
              {picked && !names.includes(picked) && <option>{picked}</option>}
            </select>
          )}
        </Field>
        <div className="field buttons">
          <button type="submit" className="primary">
            {t('slides.show')}
          </button>
        </div>
      </form>

      {session.permissions.includes('study:write') && <Upload collections={names} initial={collection} onStored={slides.reload} />}

      <LoadState state={slides}>
        {(rows) => (
          <>
            {rows.length === 0 ? <p className="notice">{t('slides.none')}</p> : <SlideTable rows={rows} />}
            <nav className="paging" aria-label={t('slides.paging')}>
              <button type="button" disabled={!before} onClick={() => go(collection)}>
                ⇤ {t('slides.first')}
              </button>
              <button type="button" disabled={rows.length < PAGE} onClick={() => go(collection, rows.at(-1)!.createdAt)}>
                {t('slides.next')} →
              </button>
            </nav>
          </>
        )}
      </LoadState>
    </Page>
  )
}

function SlideTable({ rows }: { rows: SlideInfo[] }) {
  const { t, dateTime } = useI18n()
  return (
    <div className="scroll">
      <table className="slides">
        <caption className="visually-hidden">{t('slides.range', { from: 1, to: rows.length })}</caption>
        <thead>
          <tr>
            <th scope="col">{t('slides.thumbnail')}</th>
            <th scope="col">{t('slides.slide')}</th>
            <th scope="col">{t('studies.collection')}</th>
            <th scope="col">{t('slides.format')}</th>
            <th scope="col" className="num">
              {t('slides.dimensions')}
            </th>
            <th scope="col" className="num">
              {t('slides.mpp')}
            </th>
            <th scope="col" className="num">
              {t('slides.magnification')}
            </th>
            <th scope="col" className="num">
              {t('slides.fileSize')}
            </th>
            <th scope="col">{t('slides.added')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((s) => {
            const objective = scanObjective(s.objectivePower, s.mpp)
            return (
              <tr key={s.id} data-slide-id={s.id}>
                <td>
                  <Thumbnail src={`/slides/${encodeURIComponent(s.id)}/thumbnail`} size={96} />
                </td>
                <th scope="row">
                  <Link to={slidePath(s.id)}>
                    <code>{shortId(s.id)}</code>
                  </Link>
                </th>
                <td>{s.collection}</td>
                <td>{s.format}</td>
                <td className="num">
                  {s.width.toLocaleString()} × {s.height.toLocaleString()}
                </td>
                <td className="num">{s.mpp ? s.mpp.x.toFixed(3) : t('common.none')}</td>
                <td className="num">{objective ? `${objective}×` : t('common.none')}</td>
                <td className="num">{formatBytes(s.size)}</td>
                <td>{dateTime(s.createdAt)}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

type UploadState =
  | { phase: 'idle' }
  | { phase: 'sending'; loaded: number; total: number }
  | { phase: 'processing' }
  | { phase: 'done'; slide: SlideInfo; duplicate: boolean }
  | { phase: 'failed'; message: string }

/**
 * A raw-body upload (`POST /slides?collection=`) through XMLHttpRequest, because fetch reports no
 * upload progress and slides run to gigabytes.
 */
function Upload({ collections, initial, onStored }: { collections: string[]; initial: string; onStored(): void }) {
  const { t } = useI18n()
  const [collection, setCollection] = useState(initial)
  const [file, setFile] = useState<File | null>(null)
  const [state, setState] = useState<UploadState>({ phase: 'idle' })
  const xhr = useRef<XMLHttpRequest | null>(null)
  useEffect(() => () => xhr.current?.abort(), [])
  const target = collection || collections[0] || ''

  const submit = (e: FormEvent) => {
    e.preventDefault()
    if (!file) return setState({ phase: 'failed', message: t('upload.needFile') })
    const req = new XMLHttpRequest()
    xhr.current = req
    req.open('POST', withQuery('/slides', { collection: target }))
    req.setRequestHeader('content-type', 'application/octet-stream')
    req.setRequestHeader('accept', 'application/json')
    for (const [k, v] of Object.entries(csrfHeaders())) req.setRequestHeader(k, v)
    req.upload.onprogress = (ev) => setState({ phase: 'sending', loaded: ev.loaded, total: ev.lengthComputable ? ev.total : file.size })
    req.upload.onload = () => setState({ phase: 'processing' })
    req.onerror = () => setState({ phase: 'failed', message: t('upload.network') })
    req.onabort = () => setState({ phase: 'idle' })
    req.onload = () => {
      let body: { code?: string; message?: string } & Partial<SlideInfo> = {}
      try {
        body = JSON.parse(req.responseText)
      } catch {
        // A proxy's HTML error page: the status line below says enough.
      }
      if (req.status === 200 || req.status === 201) {
        setState({ phase: 'done', slide: body as SlideInfo, duplicate: req.status === 200 })
        onStored()
        return
      }
      const err = new ApiError(req.status, body.code ?? `HTTP_${req.status}`, body.message ?? `${req.status} ${req.statusText}`)
      if (req.status === 401 && err.code === 'UNAUTHENTICATED') unauthenticated()
      setState({ phase: 'failed', message: req.status === 403 ? t('common.forbidden') : errorText(err) })
    }
    setState({ phase: 'sending', loaded: 0, total: file.size })
    req.send(file)
  }

  const busy = state.phase === 'sending' || state.phase === 'processing'
  return (
    <section className="upload" aria-labelledby="upload-title">
      <h2 id="upload-title">{t('upload.title')}</h2>
      <form onSubmit={submit} className="inline">
        <Field label={t('upload.collection')}>
          {(id) => (
            <select id={id} name="upload-collection" value={target} onChange={(e) => setCollection(e.target.value)} disabled={busy}>
              {collections.map((n) => (
                <option key={n}>{n}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t('upload.file')}>
          {(id) => <input id={id} name="slide-file" type="file" accept=".svs,.ndpi,.tif,.tiff,.dcm" disabled={busy} onChange={(e) => setFile(e.target.files?.[0] ?? null)} />}
        </Field>
        <div className="field buttons">
          <button type="submit" className="primary" disabled={busy || !target}>
            {t('upload.submit')}
          </button>
          {state.phase === 'sending' && (
            <button type="button" onClick={() => xhr.current?.abort()}>
              {t('upload.cancel')}
            </button>
          )}
        </div>
      </form>
      <UploadStatus state={state} />
    </section>
  )
}

function UploadStatus({ state }: { state: UploadState }) {
  const { t } = useI18n()
  if (state.phase === 'sending') {
    const percent = state.total ? Math.floor((state.loaded / state.total) * 100) : 0
    const label = t('upload.progress', { percent })
    return (
      <p className="upload-progress">
        <progress max={state.total || 1} value={state.loaded} aria-label={label} />
        <span>{label}</span>
      </p>
    )
  }
  if (state.phase === 'processing') return <p role="status" aria-busy="true">{t('upload.processing')}</p>
  if (state.phase === 'done') {
    return (
      <p className="notice success" role="status" data-testid="upload-done">
        {t(state.duplicate ? 'upload.duplicate' : 'upload.stored')} <Link to={slidePath(state.slide.id)}>{t('upload.open')}</Link>
      </p>
    )
  }
  if (state.phase === 'failed') {
    return (
      <p className="notice error" role="alert">
        {t('upload.failed', { message: state.message })}
      </p>
    )
  }
  return null
}
