/**
 * @module One slide in OpenSeadragon over the hub's Deep Zoom tiles (`/slides/{id}.dzi`), with an
 * overview navigator, zoom and magnification buttons, a scale bar from the slide's MPP, and its
 * facts. Loaded on demand (app.tsx imports it lazily) so OpenSeadragon stays out of the first load.
 * A slide outside the user's collections answers 404 like a missing one, and shows as not found.
 * The annotation layer (annotations/) comes in this same lazy chunk, so the first load does not grow.
 */
import { useEffect, useId, useRef, useState } from 'react'
import OpenSeadragon from 'openseadragon'
import { api } from '../api.ts'
import { LoadState, Page, useLoad } from '../components.tsx'
import { useI18n } from '../i18n.tsx'
import { Link, useLocation } from '../router.tsx'
import { SlideAnnotations, type TaskContext } from '../annotations/slide-annotations.tsx'
import { formatBytes, scaleBar, scanObjective, type ScaleBar } from '../slide-scale.ts'
import type { SlideInfo } from '../types.ts'
import { shortId } from '../short-id.ts'

const PRESETS = [5, 10, 20, 40]

/**
 * OpenSeadragon adds an inline `<style>` (hiding the focus ring on touch screens) unless
 * `style[data-openseadragon-mobile-css]` matches; the app's CSP (`style-src 'self'`) blocks inline
 * styles and reports a violation, even for an empty HTML `<style>`. An element named "style" in a
 * namespace of our own matches that selector but is no style sheet, so nothing trips the CSP, and
 * the focus ring stays, which keyboard users need anyway.
 */
function preemptInlineStyle(): void {
  if (document.querySelector('style[data-openseadragon-mobile-css]')) return
  const placeholder = document.createElementNS('urn:kura:placeholder', 'style')
  placeholder.setAttribute('data-openseadragon-mobile-css', 'true')
  document.head.append(placeholder)
}

export function Slide({ id }: { id: string }) {
  const { t } = useI18n()
  const state = useLoad((signal) => api.get<SlideInfo>(`/slides/${encodeURIComponent(id)}`, { signal }), [id])
  // Opened from a task (`?task=…&item=…`, `&review=1` for the reviewer): annotations go into the task.
  const { query } = useLocation()
  const taskId = query.get('task')
  const itemId = query.get('item')
  const review = query.get('review') === '1'
  const task: TaskContext | null = taskId ? { taskId, itemId, review } : null
  const back = <Link to={state.data ? `/wsi?collection=${encodeURIComponent(state.data.collection)}` : '/wsi'}>← {t('slide.back')}</Link>
  return (
    <Page title={`${t('slide.title')} ${shortId(id)}`} actions={back}>
      <LoadState state={state} notFound={t('slide.notFound')}>
        {(info) => (
          <div className="slide-layout">
            <Viewer info={info} task={task} />
            <Facts info={info} />
          </div>
        )}
      </LoadState>
    </Page>
  )
}

function Viewer({ info, task }: { info: SlideInfo; task: TaskContext | null }) {
  const { t } = useI18n()
  const host = useRef<HTMLDivElement>(null)
  const barLine = useRef<HTMLSpanElement>(null)
  const [viewer, setViewer] = useState<OpenSeadragon.Viewer | null>(null)
  const [bar, setBar] = useState<ScaleBar | null>(null)
  const [mag, setMag] = useState<number | null>(null)
  const [failed, setFailed] = useState<string | null>(null)
  const keysId = useId()
  const objective = scanObjective(info.objectivePower, info.mpp)

  useEffect(() => {
    preemptInlineStyle()
    const v = OpenSeadragon({
      element: host.current!,
      tileSources: `/slides/${encodeURIComponent(info.id)}.dzi`,
      // Our own buttons (labelled, translated); OpenSeadragon's would load images from prefixUrl.
      showNavigationControl: false,
      showNavigator: true,
      navigatorPosition: 'BOTTOM_RIGHT',
      visibilityRatio: 0.5,
      // Up to 2 screen pixels per scanned pixel: enough to see the grain, not a blur.
      maxZoomPixelRatio: 2,
      gestureSettingsMouse: { clickToZoom: false },
    })
    const update = () => {
      const size = v.world.getItemAt(0)
      if (!size) return
      const imageZoom = v.viewport.viewportToImageZoom(v.viewport.getZoom(true))
      setMag(objective ? Math.round(imageZoom * objective * 10) / 10 : null)
      const next = info.mpp ? scaleBar(info.mpp.x / imageZoom) : null
      setBar((prev) => (prev && next && prev.label === next.label && Math.round(prev.px) === Math.round(next.px) ? prev : next))
    }
    v.addHandler('open', update)
    v.addHandler('animation', update)
    v.addHandler('resize', update)
    v.addHandler('open-failed', (e) => setFailed(String(e.message ?? '')))
    setViewer(v)
    return () => {
      setViewer(null)
      v.destroy()
    }
  }, [info.id, info.mpp, objective])

  // OpenSeadragon's canvas takes the keyboard (it is focusable): give it a name and describe its keys.
  useEffect(() => {
    const canvas = viewer?.canvas
    if (!canvas) return
    canvas.setAttribute('role', 'application')
    canvas.setAttribute('aria-label', t('slide.viewer'))
    canvas.setAttribute('aria-describedby', keysId)
  }, [viewer, t, keysId])

  useEffect(() => {
    if (barLine.current) barLine.current.style.width = bar ? `${Math.round(bar.px)}px` : '0'
  }, [bar])

  const zoomBy = (f: number) => {
    if (!viewer) return
    viewer.viewport.zoomBy(f)
    viewer.viewport.applyConstraints()
  }
  const zoomToMag = (m: number) => {
    if (!viewer || !objective) return
    viewer.viewport.zoomTo(viewer.viewport.imageToViewportZoom(m / objective))
    viewer.viewport.applyConstraints()
  }

  return (
    <div className="slide-stage">
      <div className="slide-tools" role="group" aria-label={t('slide.tools')}>
        <button type="button" aria-label={t('slide.zoomIn')} title={t('slide.zoomIn')} onClick={() => zoomBy(2)} disabled={!viewer}>
          +
        </button>
        <button type="button" aria-label={t('slide.zoomOut')} title={t('slide.zoomOut')} onClick={() => zoomBy(0.5)} disabled={!viewer}>
          −
        </button>
        <button type="button" onClick={() => viewer?.viewport.goHome()} disabled={!viewer}>
          {t('slide.home')}
        </button>
        {objective !== null &&
          PRESETS.filter((m) => m <= objective * 2).map((m) => (
            <button key={m} type="button" aria-label={t('slide.preset', { mag: m })} onClick={() => zoomToMag(m)} disabled={!viewer}>
              {m}×
            </button>
          ))}
        {mag !== null && (
          <span className="muted" data-testid="magnification">
            {t('slide.current', { mag })}
          </span>
        )}
      </div>
      <div className="slide-view">
        <div ref={host} className="osd" data-testid="viewer" />
        {info.mpp ? (
          <div className="scale-bar" role="img" aria-label={`${t('slide.scale')}: ${bar?.label ?? ''}`} data-testid="scale-bar">
            <span ref={barLine} className="scale-line" />
            <span className="scale-label">{bar?.label ?? ''}</span>
          </div>
        ) : (
          <div className="scale-bar muted">{t('slide.noMpp')}</div>
        )}
      </div>
      {failed !== null && (
        <p className="notice error" role="alert">
          {t('slide.openFailed', { message: failed })}
        </p>
      )}
      <p id={keysId} className="hint">
        {t('slide.keys')}
      </p>
      {viewer && <SlideAnnotations viewer={viewer} info={info} task={task} />}
    </div>
  )
}

function Facts({ info }: { info: SlideInfo }) {
  const { t, dateTime } = useI18n()
  const objective = scanObjective(info.objectivePower, info.mpp)
  const props = Object.entries(info.properties ?? {}).sort(([a], [b]) => a.localeCompare(b))
  return (
    <aside className="slide-facts" aria-labelledby="slide-facts-title">
      <h2 id="slide-facts-title">{t('slide.details')}</h2>
      <dl className="facts">
        <dt>{t('slide.id')}</dt>
        <dd>
          <code>{info.id}</code>
        </dd>
        <dt>{t('slide.collection')}</dt>
        <dd>{info.collection}</dd>
        <dt>{t('slides.format')}</dt>
        <dd>{info.format}</dd>
        <dt>{t('slides.dimensions')}</dt>
        <dd>
          {info.width.toLocaleString()} × {info.height.toLocaleString()}
        </dd>
        <dt>{t('slides.mpp')}</dt>
        <dd>{info.mpp ? `${info.mpp.x.toFixed(4)} × ${info.mpp.y.toFixed(4)}` : t('common.none')}</dd>
        <dt>{t('slides.magnification')}</dt>
        <dd>{objective ? `${objective}×` : t('common.none')}</dd>
        <dt>{t('slide.levels')}</dt>
        <dd>{info.levels.map((l) => `${l.width}×${l.height}`).join(', ')}</dd>
        <dt>{t('slides.fileSize')}</dt>
        <dd>{formatBytes(info.size)}</dd>
        <dt>{t('slides.added')}</dt>
        <dd>{dateTime(info.createdAt)}</dd>
        {info.associated.length > 0 && (
          <>
            <dt>{t('slide.associated')}</dt>
            <dd>{info.associated.map((a) => a.name).join(', ')}</dd>
          </>
        )}
        <dt>{t('slide.sha256')}</dt>
        <dd>
          <code>{info.sha256}</code>
        </dd>
      </dl>
      {props.length > 0 && (
        <details>
          <summary>
            {t('slide.properties')} ({props.length})
          </summary>
          <table className="props">
            <tbody>
              {props.map(([k, v]) => (
                <tr key={k}>
                  <th scope="row">{k}</th>
                  <td>{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </aside>
  )
}
