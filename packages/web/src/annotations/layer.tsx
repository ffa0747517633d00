/**
 * @module The annotation layer of the slide viewer: fetches the shapes in view from the hub's
 * viewport query (debounced on pan and zoom, with `scale` so the hub simplifies when zoomed out),
 * draws them with the WebGL overlay (renderer.tsx), and lets a reader draw points, lines,
 * rectangles, ellipses and polygons, select, move and reshape them, delete them, label each from the
 * vocabulary picker, filter by label and author, show and hide layers by label, author and status,
 * and work by keyboard. In a task it saves into the task and submits the item; in review it colours
 * each reader's shapes as their own layer and records the reviewer's decisions (review.tsx).
 * Loaded only with the viewer (slide.tsx is a lazy chunk).
 */
import { useCallback, useEffect, useId, useMemo, useRef, useState, type ReactNode } from 'react'
import OpenSeadragon from 'openseadragon'
import { ErrorMessage, errorText } from '../components.tsx'
import { useSignedIn } from '../session.tsx'
import { ANNOTATION_STATUSES, canAnnotate, type Annotation, type AnnotationStatus, type CodeRef, type Geometry, type Position, type ShapeKind, type SlideInfo } from '../types.ts'
import { createAnnotation, deleteAnnotation, updateAnnotation, viewportAnnotations, type DensityGrid } from './client.ts'
import { ellipseFromBox, geometryFor, maskGeometry, moveVertex, nearestVertex, ShapeGrid, translate, vertexRings, type VertexRef } from './geometry.ts'
import { CodePicker, codeKey, colorCss, hash, hueColor, labelColor, labelText, paintSwatch, recentLabels, rememberLabel, type CodeBook } from './picker.tsx'
import { createShapeRenderer, fitCanvas, overlayCanvas, type RenderShape, type ShapeRenderer, type ViewTransform } from './renderer.tsx'
import { useAnnText } from './text.tsx'
import './annotations.css'
import { shortId } from '../short-id.ts'

export type Tool = 'select' | ShapeKind
const TOOLS: { tool: Tool; key: string; icon: string }[] = [
  { tool: 'select', key: 'v', icon: '⬚' },
  { tool: 'point', key: 'p', icon: '•' },
  { tool: 'polyline', key: 'l', icon: '╱' },
  { tool: 'rectangle', key: 'r', icon: '▭' },
  { tool: 'ellipse', key: 'e', icon: '◯' },
  { tool: 'polygon', key: 'g', icon: '⬠' },
  { tool: 'mask', key: 'b', icon: '✎' },
]
const DRAG_TOOLS = new Set<Tool>(['rectangle', 'ellipse', 'mask'])
/** Brush radius in screen pixels ([ and ] change it); the region is stored at that size in image pixels. */
const BRUSH_PX = { min: 3, initial: 12, max: 80 }

/**
 * A brush stroke (centre line, radius in image pixels) as the region it painted: rasterised on a
 * small offscreen canvas (at most ~1024 cells a side, at least 6 cells per radius), then outlined.
 */
function brushGeometry(points: Position[], r: number): Geometry | null {
  if (!points.length || !(r > 0)) return null
  const xs = points.map((p) => p[0])
  const ys = points.map((p) => p[1])
  const [x0, y0] = [Math.min(...xs) - r - 1, Math.min(...ys) - r - 1]
  const [x1, y1] = [Math.max(...xs) + r + 1, Math.max(...ys) + r + 1]
  const cell = Math.max(r / 6, (x1 - x0) / 1024, (y1 - y0) / 1024)
  const [w, h] = [Math.ceil((x1 - x0) / cell), Math.ceil((y1 - y0) / cell)]
  const c = document.createElement('canvas')
  c.width = w
  c.height = h
  const ctx = c.getContext('2d', { willReadFrequently: true })!
  ctx.lineCap = 'round'
  ctx.lineJoin = 'round'
  ctx.lineWidth = (2 * r) / cell
  const at = (p: Position): [number, number] => [(p[0] - x0) / cell, (p[1] - y0) / cell]
  ctx.beginPath()
  if (points.length === 1) {
    ctx.arc(...at(points[0]!), r / cell, 0, 2 * Math.PI)
    ctx.fill()
  } else {
    points.forEach((p, i) => (i ? ctx.lineTo(...at(p)) : ctx.moveTo(...at(p))))
    ctx.stroke()
  }
  const rgba = ctx.getImageData(0, 0, w, h).data
  const mask = new Uint8Array(w * h)
  for (let i = 0; i < mask.length; i++) mask[i] = rgba[i * 4 + 3]! > 127 ? 1 : 0
  return maskGeometry(mask, w, h, x0, y0, cell)
}
/** Debounce of the viewport query: long enough to skip the frames of a pan, short enough to feel live. */
const FETCH_DELAY_MS = 250
/** The hub's most per viewport query (it leaves out shapes under a screen pixel and says when it truncated). */
const FETCH_LIMIT = 50_000
/**
 * Zoomed out (hub's DENSITY_MIN_SCALE and beyond), more shapes than this come as the hub's density grid: 50,000
 * simplified cells are ~15 MB of JSON for marks a few screen pixels wide, the grid a few kB.
 */
const FETCH_LIMIT_ZOOMED_OUT = 10_000
const DENSITY_MIN_SCALE = 4
/** The "shapes in view" list is for keyboard and screen-reader users, not for 100,000 rows. */
const LIST_MAX = 50

export interface LayerMode {
  taskId?: string | null
  /** Review: colour by author and let `onSelect` feed the reviewer's decision panel. */
  review?: boolean
}

export interface LayerHandle {
  selected: Annotation | null
  /** The geometry of the selected shape as edited but not saved (review edits go to adjudication). */
  editedGeometry: Geometry | null
}

/** Image pixel → viewer element pixel, from the viewer's current (animated) viewport. */
export function viewTransform(viewer: OpenSeadragon.Viewer): ViewTransform | null {
  const item = viewer.world.getItemAt(0)
  if (!item) return null
  const w = item.getContentSize().x
  const p0 = item.imageToViewerElementCoordinates(new OpenSeadragon.Point(0, 0))
  const p1 = item.imageToViewerElementCoordinates(new OpenSeadragon.Point(w, 0))
  return { ox: p0.x, oy: p0.y, scale: (p1.x - p0.x) / w }
}

const toImage = (t: ViewTransform, p: { x: number; y: number }): Position => [(p.x - t.ox) / t.scale, (p.y - t.oy) / t.scale]

export function AnnotationLayer({
  viewer, info, book, mode, extra, onSelect,
}: {
  viewer: OpenSeadragon.Viewer
  info: SlideInfo
  book: CodeBook | undefined
  mode: LayerMode
  /** Panels the caller adds under the layer's own (image labels, task, review). */
  extra?: (api: { selected: Annotation | null; editedGeometry: Geometry | null; reload(): void; select(id: string | null): void }) => ReactNode
  onSelect?: (a: Annotation | null) => void
}) {
  const { t, lang } = useAnnText()
  const session = useSignedIn()
  const mayWrite = canAnnotate(session)
  const [tool, setToolState] = useState<Tool>('select')
  const [shapes, setShapes] = useState<Annotation[]>([])
  const [meta, setMeta] = useState<{ truncated: boolean; simplified: boolean }>({ truncated: false, simplified: false })
  // Zoomed out over more shapes than the hub sends: its counts per grid cell, drawn as shaded squares.
  const [density, setDensity] = useState<DensityGrid | null>(null)
  const [filter, setFilter] = useState<{ label: string; author: string; status: string }>({ label: '', author: '', status: '' })
  const [hidden, setHidden] = useState<Set<string>>(new Set())
  const [selectedId, setSelectedId] = useState<string | null>(null)
  const [edited, setEdited] = useState<Geometry | null>(null)
  const [picker, setPicker] = useState<null | { kind: 'new'; shape: ShapeKind; geometry: Geometry; ellipse?: Annotation['ellipse'] } | { kind: 'relabel'; id: string }>(null)
  const [help, setHelp] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const [notice, setNotice] = useState('')
  const [tick, setTick] = useState(0)
  const reload = useCallback(() => setTick((n) => n + 1), [])
  const fid = useId()

  // Mutable state the OpenSeadragon handlers read without re-binding on every render.
  const draft = useRef<{ points: Position[]; hover: Position | null; dragging: boolean; radius?: number }>({ points: [], hover: null, dragging: false })
  const brushPx = useRef(BRUSH_PX.initial)
  const drag = useRef<null | { kind: 'vertex'; v: VertexRef } | { kind: 'move'; from: Position; base: Geometry }>(null)
  const live = useRef({ tool, shapes, selectedId, edited, picker, hidden, density })
  live.current = { tool, shapes, selectedId, edited, picker, hidden, density }
  const renderer = useRef<ShapeRenderer | null>(null)
  const editCanvas = useRef<HTMLCanvasElement | null>(null)

  const authorName = useCallback((a: { author: string; authorName?: string }) => (a.author === session.user.id ? session.user.username : a.authorName ?? shortId(a.author)), [session])
  const colorOf = useCallback(
    (a: Annotation): [number, number, number, number] => {
      const c = mode.review ? hueColor(hash(a.author) % 360) : labelColor(a.label)
      return a.status === 'rejected' ? [c[0], c[1], c[2], 0.35] : c
    },
    [mode.review],
  )
  const visible = useCallback((a: Annotation, h: Set<string> = live.current.hidden) => !h.has(`label:${codeKey(a.label)}`) && !h.has(`author:${a.author}`) && !h.has(`status:${a.status}`), [])
  const selected = shapes.find((s) => s.id === selectedId) ?? null
  const grid = useMemo(() => new ShapeGrid(512, shapes), [shapes])

  // The overlays: WebGL for every shape, a small 2D canvas for the drawing and the selection.
  useEffect(() => {
    const host = viewer.canvas as HTMLElement
    const r = createShapeRenderer(host)
    renderer.current = r
    const edit = overlayCanvas(host, 'annotation-edit')
    editCanvas.current = edit
    return () => {
      r.destroy()
      edit.remove()
      renderer.current = null
      editCanvas.current = null
    }
  }, [viewer])

  const drawEdit = useCallback(() => {
    const c = editCanvas.current
    const tr = viewTransform(viewer)
    if (!c || !tr) return
    fitCanvas(c)
    const dpr = window.devicePixelRatio || 1
    const ctx = c.getContext('2d')!
    ctx.setTransform(1, 0, 0, 1, 0, 0)
    ctx.clearRect(0, 0, c.width, c.height)
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
    const px = (p: Position): [number, number] => [p[0] * tr.scale + tr.ox, p[1] * tr.scale + tr.oy]
    const { selectedId: sid, shapes: all, edited: ed, tool: tl, density: grid, hidden: off } = live.current
    if (grid) drawDensity(ctx, grid, tr, off)
    const sel = all.find((s) => s.id === sid)
    if (sel) {
      const g = ed ?? sel.geometry
      const col = colorCss(colorOf(sel))
      ctx.lineWidth = 2.5
      ctx.strokeStyle = col
      ctx.fillStyle = 'rgba(255,255,255,0.18)'
      const path = new Path2D()
      for (const ring of g.type === 'Polygon' ? g.coordinates : g.type === 'MultiPolygon' ? g.coordinates.flat() : g.type === 'LineString' ? [g.coordinates] : []) {
        ring.forEach((p, i) => (i ? path.lineTo(...px(p)) : path.moveTo(...px(p))))
      }
      if (g.type === 'Polygon' || g.type === 'MultiPolygon') ctx.fill(path, 'evenodd')
      ctx.stroke(path)
      ctx.fillStyle = '#fff'
      for (const ring of vertexRings(g)) {
        for (const p of ring) {
          const [x, y] = px(p)
          ctx.fillRect(x - 4, y - 4, 8, 8)
          ctx.strokeRect(x - 4, y - 4, 8, 8)
        }
      }
    }
    const d = draft.current
    if (d.points.length && tl === 'mask') {
      // The brush stroke as painted: a thick translucent line of the brush's width.
      ctx.strokeStyle = 'rgba(255,179,0,0.45)'
      ctx.lineCap = 'round'
      ctx.lineJoin = 'round'
      ctx.lineWidth = 2 * (d.radius ?? 0) * tr.scale
      const path = new Path2D()
      d.points.forEach((p, i) => (i ? path.lineTo(...px(p)) : path.moveTo(...px(p))))
      if (d.points.length === 1) path.lineTo(...px(d.points[0]!))
      ctx.stroke(path)
    } else if (d.points.length && tl !== 'select') {
      const pts = [...d.points, ...(d.hover ? [d.hover] : [])]
      ctx.strokeStyle = '#ffb300'
      ctx.lineWidth = 2
      ctx.setLineDash([6, 4])
      const g = tl === 'polygon' || tl === 'polyline' ? null : geometryFor(tl, pts)
      const path = new Path2D()
      const ring = g ? vertexRings(g)[0]! : pts
      ring.forEach((p, i) => (i ? path.lineTo(...px(p)) : path.moveTo(...px(p))))
      if (g || tl === 'polygon') path.closePath()
      ctx.stroke(path)
      ctx.setLineDash([])
      ctx.fillStyle = '#ffb300'
      for (const p of d.points) {
        const [x, y] = px(p)
        ctx.fillRect(x - 3, y - 3, 6, 6)
      }
    }
  }, [viewer, colorOf])

  const redraw = useCallback(() => {
    const tr = viewTransform(viewer)
    if (tr) renderer.current?.render(tr)
    drawEdit()
  }, [viewer, drawEdit])

  // Shapes → GPU whenever the set, the layers or the colours change (not on pan: that is a uniform).
  useEffect(() => {
    const list: RenderShape[] = []
    for (const a of shapes) if (visible(a, hidden)) list.push({ geometry: a.geometry, color: colorOf(a) })
    renderer.current?.setShapes(list)
    redraw()
  }, [shapes, hidden, colorOf, visible, redraw])
  useEffect(() => drawEdit(), [selectedId, edited, density, hidden, drawEdit])

  useEffect(() => {
    viewer.addHandler('update-viewport', redraw)
    viewer.addHandler('resize', redraw)
    return () => {
      viewer.removeHandler('update-viewport', redraw)
      viewer.removeHandler('resize', redraw)
    }
  }, [viewer, redraw])

  // The viewport query, debounced on pan and zoom; a newer query aborts the one in flight.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    let ac: AbortController | undefined
    const fetchNow = () => {
      const item = viewer.world.getItemAt(0)
      if (!item) return
      const b = viewer.viewport.viewportToImageRectangle(viewer.viewport.getBounds(true))
      // A margin of a quarter screen on each side, so a short pan does not show an empty edge.
      const [mx, my] = [b.width / 4, b.height / 4]
      const x = Math.max(0, b.x - mx)
      const y = Math.max(0, b.y - my)
      const w = Math.min(info.width, b.x + b.width + mx) - x
      const h = Math.min(info.height, b.y + b.height + my) - y
      if (w <= 0 || h <= 0) return
      // Level-0 pixels per screen pixel (what the hub simplifies by): the inverse of OpenSeadragon's image zoom.
      const scale = 1 / viewer.viewport.viewportToImageZoom(viewer.viewport.getZoom(true))
      ac?.abort()
      ac = new AbortController()
      const signal = ac.signal
      viewportAnnotations(
        info.id,
        { x, y, w, h, scale, label: filter.label || undefined, author: filter.author || undefined, status: (filter.status || undefined) as AnnotationStatus | undefined, task: mode.taskId ?? undefined, limit: scale >= DENSITY_MIN_SCALE ? FETCH_LIMIT_ZOOMED_OUT : FETCH_LIMIT },
        signal,
      ).then(
        (page) => {
          if (signal.aborted) return
          setShapes(page.annotations)
          setMeta({ truncated: page.truncated, simplified: page.simplified })
          setDensity(page.mode === 'density' && page.density ? page.density : null)
          setError(null)
        },
        (e) => !signal.aborted && setError(new Error(t('ann.loadFailed', { message: errorText(e) }))),
      )
    }
    const schedule = () => {
      clearTimeout(timer)
      timer = setTimeout(fetchNow, FETCH_DELAY_MS)
    }
    viewer.addHandler('open', schedule)
    viewer.addHandler('animation-finish', schedule)
    viewer.addHandler('resize', schedule)
    if (viewer.world.getItemAt(0)) fetchNow()
    return () => {
      clearTimeout(timer)
      ac?.abort()
      viewer.removeHandler('open', schedule)
      viewer.removeHandler('animation-finish', schedule)
      viewer.removeHandler('resize', schedule)
    }
  }, [viewer, info.id, info.width, info.height, filter, mode.taskId, tick, t])

  const select = useCallback(
    (id: string | null) => {
      setSelectedId(id)
      setEdited(null)
      onSelect?.(live.current.shapes.find((s) => s.id === id) ?? null)
    },
    [onSelect],
  )

  const cancelDraft = useCallback(() => {
    draft.current = { points: [], hover: null, dragging: false }
    drawEdit()
  }, [drawEdit])

  const setTool = useCallback(
    (next: Tool) => {
      if (next !== 'select' && !mayWrite) return
      cancelDraft()
      setToolState(next)
    },
    [mayWrite, cancelDraft],
  )

  /** A finished drawing goes to the picker: every shape needs a code before it is stored. */
  const finishDraft = useCallback(() => {
    const tl = live.current.tool
    if (tl === 'select') return
    const pts = draft.current.points
    const geometry = tl === 'mask' ? brushGeometry(pts, draft.current.radius ?? 0) : geometryFor(tl, pts)
    cancelDraft()
    if (!geometry) return
    const ellipse = tl === 'ellipse' ? ellipseFromBox(pts[0]!, pts.at(-1)!) : undefined
    setPicker({ kind: 'new', shape: tl, geometry, ellipse })
  }, [cancelDraft])

  const saveNew = useCallback(
    async (p: { shape: ShapeKind; geometry: Geometry; ellipse?: Annotation['ellipse'] }, label: CodeRef) => {
      setPicker(null)
      try {
        const a = await createAnnotation(info.id, { shape: p.shape, geometry: p.geometry, ellipse: p.ellipse, label, taskId: mode.taskId ?? undefined })
        setShapes((s) => [...s.filter((x) => x.id !== a.id), a])
        setSelectedId(a.id)
        setNotice(t('ann.saved'))
      } catch (e) {
        setError(new Error(t('ann.failed', { message: errorText(e) })))
      }
    },
    [info.id, mode.taskId, t],
  )

  const patch = useCallback(
    async (id: string, change: Parameters<typeof updateAnnotation>[1]) => {
      try {
        const a = await updateAnnotation(id, change)
        setShapes((s) => s.map((x) => (x.id === id ? a : x)))
        setEdited(null)
        setNotice(t('ann.saved'))
      } catch (e) {
        setError(new Error(t('ann.failed', { message: errorText(e) })))
        reload()
      }
    },
    [t, reload],
  )

  const remove = useCallback(
    async (id: string) => {
      try {
        await deleteAnnotation(id)
        setShapes((s) => s.filter((x) => x.id !== id))
        select(null)
      } catch (e) {
        setError(new Error(t('ann.failed', { message: errorText(e) })))
      }
    },
    [select, t],
  )

  const applyLabel = useCallback(
    (label: CodeRef) => {
      const p = live.current.picker
      if (p?.kind === 'new') void saveNew(p, label)
      else {
        const id = p?.kind === 'relabel' ? p.id : live.current.selectedId
        setPicker(null)
        if (id) void patch(id, { label })
      }
    },
    [saveNew, patch],
  )

  /** In review, geometry edits stay local: the reviewer's decision carries them (adjudication). */
  const commitGeometry = useCallback(
    (id: string, g: Geometry) => {
      if (mode.review) setEdited(g)
      else void patch(id, { geometry: g })
    },
    [mode.review, patch],
  )

  // Pointer input through OpenSeadragon's own tracker, so pan and zoom keep working between clicks.
  useEffect(() => {
    const tr = () => viewTransform(viewer)
    const mine = (a: Annotation) => mode.review || a.author === session.user.id || session.user.isAdmin
    const press = (e: OpenSeadragon.CanvasPressEvent) => {
      const t0 = tr()
      if (!t0) return
      const p = toImage(t0, e.position)
      const { tool: tl, selectedId: sid, shapes: all, edited: ed } = live.current
      if (DRAG_TOOLS.has(tl)) {
        draft.current = { points: [p], hover: p, dragging: true, radius: brushPx.current / t0.scale }
        return
      }
      if (tl !== 'select' || !sid || !mayWrite) return
      const sel = all.find((s) => s.id === sid)
      if (!sel || !mine(sel)) return
      const g = ed ?? sel.geometry
      const v = sel.shape === 'ellipse' || sel.shape === 'rectangle' ? null : nearestVertex(g, p, 6 / t0.scale)
      if (v) drag.current = { kind: 'vertex', v }
      else if (grid.pick(p, 4 / t0.scale, (a) => a.id === sid)) drag.current = { kind: 'move', from: p, base: g }
    }
    const dragH = (e: OpenSeadragon.CanvasDragEvent) => {
      const t0 = tr()
      if (!t0) return
      const p = toImage(t0, e.position)
      if (draft.current.dragging) {
        e.preventDefaultAction = true
        draft.current.hover = p
        if (live.current.tool === 'mask') draft.current.points.push(p)
        else draft.current.points = [draft.current.points[0]!, p]
        drawEdit()
        return
      }
      const d = drag.current
      const sel = live.current.shapes.find((s) => s.id === live.current.selectedId)
      if (!d || !sel) return
      e.preventDefaultAction = true
      const base = live.current.edited ?? sel.geometry
      const next = d.kind === 'vertex' ? moveVertex(base, d.v, p) : translate(d.base, p[0] - d.from[0], p[1] - d.from[1])
      live.current.edited = next
      setEdited(next)
    }
    const release = () => {
      if (draft.current.dragging) {
        draft.current.dragging = false
        if (draft.current.points.length >= 2 || live.current.tool === 'mask') finishDraft()
        else cancelDraft()
        return
      }
      const d = drag.current
      drag.current = null
      const { selectedId: sid, edited: ed } = live.current
      if (d && sid && ed) commitGeometry(sid, ed)
    }
    const click = (e: OpenSeadragon.CanvasClickEvent) => {
      if (!e.quick) return
      const t0 = tr()
      if (!t0) return
      const p = toImage(t0, e.position)
      const tl = live.current.tool
      e.preventDefaultAction = true
      if (tl === 'select') {
        const hit = grid.pick(p, 5 / t0.scale, (a) => visible(a))
        select(hit?.id ?? null)
      } else if (tl === 'point') {
        draft.current.points = [p]
        finishDraft()
      } else if (tl === 'polygon' || tl === 'polyline') {
        draft.current.points.push(p)
        drawEdit()
      }
    }
    const dbl = (e: OpenSeadragon.CanvasDoubleClickEvent) => {
      const tl = live.current.tool
      if (tl !== 'polygon' && tl !== 'polyline') return
      e.preventDefaultAction = true
      // The double-click's two clicks each added the same vertex: drop the repeat.
      const pts = draft.current.points
      if (pts.length >= 2) {
        const [a, b] = [pts.at(-1)!, pts.at(-2)!]
        if (Math.hypot(a[0] - b[0], a[1] - b[1]) * (tr()?.scale ?? 1) < 4) pts.pop()
      }
      finishDraft()
    }
    const move = (ev: PointerEvent) => {
      if (live.current.tool === 'select' || !draft.current.points.length || draft.current.dragging) return
      const t0 = tr()
      const rect = (viewer.canvas as HTMLElement).getBoundingClientRect()
      if (!t0) return
      draft.current.hover = toImage(t0, { x: ev.clientX - rect.left, y: ev.clientY - rect.top })
      drawEdit()
    }
    viewer.addHandler('canvas-press', press)
    viewer.addHandler('canvas-drag', dragH)
    viewer.addHandler('canvas-release', release)
    viewer.addHandler('canvas-click', click)
    viewer.addHandler('canvas-double-click', dbl)
    const el = viewer.canvas as HTMLElement
    el.addEventListener('pointermove', move)
    return () => {
      viewer.removeHandler('canvas-press', press)
      viewer.removeHandler('canvas-drag', dragH)
      viewer.removeHandler('canvas-release', release)
      viewer.removeHandler('canvas-click', click)
      viewer.removeHandler('canvas-double-click', dbl)
      el.removeEventListener('pointermove', move)
    }
  }, [viewer, grid, mayWrite, session, mode.review, drawEdit, finishDraft, cancelDraft, commitGeometry, select, visible])

  // Keyboard shortcuts. Captured on the window before OpenSeadragon sees them (its R rotates).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const el = e.target as HTMLElement | null
      if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))) return
      if (e.ctrlKey || e.metaKey || e.altKey || live.current.picker) return
      const k = e.key
      let handled = true
      const toolKey = TOOLS.find((x) => x.key === k.toLowerCase())
      if (toolKey && !e.shiftKey) setTool(toolKey.tool)
      else if (k === 'Escape') {
        if (draft.current.points.length) cancelDraft()
        else if (live.current.edited) setEdited(null)
        else if (live.current.tool !== 'select') setTool('select')
        else select(null)
      } else if (k === 'Enter') finishDraft()
      else if ((k === 'Delete' || k === 'Backspace') && live.current.selectedId && mayWrite && !mode.review) void remove(live.current.selectedId)
      else if (/^[1-9]$/.test(k) && live.current.selectedId && mayWrite && !mode.review) {
        const r = recentLabels()[Number(k) - 1]
        if (r) {
          rememberLabel(r)
          void patch(live.current.selectedId, { label: r })
        }
      } else if (k === '[' || k === ']') {
        brushPx.current = Math.min(BRUSH_PX.max, Math.max(BRUSH_PX.min, Math.round(brushPx.current * (k === ']' ? 1.25 : 0.8))))
      } else if (k === '?' || (k === 'h' && !e.shiftKey)) setHelp((h) => !h)
      else handled = false
      if (handled) {
        e.preventDefault()
        e.stopPropagation()
      }
    }
    // OpenSeadragon reads some keys on keypress: stop those too, for the keys handled above.
    const onPress = (e: KeyboardEvent) => {
      const el = e.target as HTMLElement | null
      if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))) return
      if (TOOLS.some((x) => x.key === e.key.toLowerCase()) || e.key === '?' || e.key === 'h') e.stopPropagation()
    }
    window.addEventListener('keydown', onKey, true)
    window.addEventListener('keypress', onPress, true)
    return () => {
      window.removeEventListener('keydown', onKey, true)
      window.removeEventListener('keypress', onPress, true)
    }
  }, [setTool, cancelDraft, finishDraft, remove, patch, select, mayWrite, mode.review])

  // The cursor says which tool is active.
  useEffect(() => {
    ;(viewer.canvas as HTMLElement).style.cursor = tool === 'select' ? '' : 'crosshair'
  }, [viewer, tool])

  const labels = useMemo(() => countBy(shapes, (a) => codeKey(a.label)), [shapes])
  const authors = useMemo(() => countBy(shapes, (a) => a.author), [shapes])
  const statuses = useMemo(() => countBy(shapes, (a) => a.status), [shapes])
  const shown = shapes.filter((a) => visible(a, hidden))
  const toggle = (key: string) => setHidden((h) => {
    const n = new Set(h)
    if (n.has(key)) n.delete(key)
    else n.add(key)
    return n
  })
  const byKey = (key: string) => shapes.find((a) => codeKey(a.label) === key)!.label
  const pickerTitle = picker?.kind === 'new' ? `${t('ann.pickLabel')} (${t(`ann.kind.${picker.shape}`)})` : t('ann.changeLabel')
  const canEditSelected = !!selected && mayWrite && (mode.review || selected.author === session.user.id || session.user.isAdmin)

  return (
    <div className="annotation-layer">
      <div className="annotation-tools" role="toolbar" aria-label={t('ann.tools')}>
        {TOOLS.map(({ tool: tl, icon }) => (
          <button
            key={tl}
            type="button"
            aria-pressed={tool === tl}
            title={t(`ann.tool.${tl}`)}
            aria-label={t(`ann.tool.${tl}`)}
            disabled={tl !== 'select' && (!mayWrite || !!mode.review)}
            onClick={() => setTool(tl)}
          >
            {icon}
          </button>
        ))}
        <button type="button" aria-expanded={help} aria-controls="annotation-help" onClick={() => setHelp((h) => !h)} title={t('ann.help')}>
          ?
        </button>
        <span className="muted" data-testid="annotation-count" role="status">
          {t('ann.inView', { shown: shown.length })}
          {meta.truncated ? ` · ${t('ann.truncated')}` : ''}
          {meta.simplified ? ` · ${t('ann.simplified')}` : ''}
          {density ? <span data-testid="annotation-density"> · {t('ann.density', { total: density.total })}</span> : ''}
        </span>
      </div>
      {help && (
        <div id="annotation-help" className="annotation-help notice" role="note">
          <strong>{t('ann.help')}</strong>
          <p>{t('ann.help.body')}</p>
        </div>
      )}
      {tool !== 'select' && (
        <p className="hint">{tool === 'mask' ? t('ann.brushing') : DRAG_TOOLS.has(tool) ? t('ann.dragging', { kind: t(`ann.kind.${tool}`) }) : t('ann.drawing', { kind: t(`ann.kind.${tool}`) })}</p>
      )}
      {notice && !error && (
        <p className="sr-only" role="status">
          {notice}
        </p>
      )}
      <ErrorMessage error={error} />
      {picker && book && <CodePicker book={book} title={pickerTitle} onPick={applyLabel} onCancel={() => setPicker(null)} />}

      {selected && (
        <section className="annotation-selected" aria-label={t('ann.selected')} data-testid="selected-annotation">
          <h3>{t('ann.selected')}</h3>
          <p>
            <Swatch color={colorOf(selected)} /> <span data-testid="selected-label">{labelText(book, selected.label, lang)}</span> · {t(`ann.kind.${selected.shape}`)} ·{' '}
            {t('ann.by', { author: authorName(selected) })} · {t(`ann.status.${selected.status}`)}
            {selected.confidence !== null && ` · ${(selected.confidence * 100).toFixed(0)}%`}
          </p>
          <div className="buttons">
            {canEditSelected && !mode.review && (
              <>
                <button type="button" onClick={() => setPicker({ kind: 'relabel', id: selected.id })}>
                  {t('ann.changeLabel')}
                </button>
                <button type="button" className="danger" onClick={() => void remove(selected.id)}>
                  {t('ann.delete')}
                </button>
              </>
            )}
            <button type="button" onClick={() => select(null)}>
              {t('ann.deselect')}
            </button>
          </div>
        </section>
      )}

      {extra?.({ selected, editedGeometry: edited, reload, select })}

      <details className="annotation-panel" open>
        <summary>{t('ann.filters')}</summary>
        <div className="filters-row">
          <div className="filter-field">
            <label htmlFor={`${fid}-label`}>{t('ann.filter.label')}</label>
            <select id={`${fid}-label`} value={filter.label} onChange={(e) => setFilter((f) => ({ ...f, label: e.target.value }))}>
              <option value="">{t('ann.filter.all')}</option>
              {(book?.codes ?? []).map((c) => (
                <option key={codeKey(c)} value={c.code}>
                  {labelText(book, c, lang)}
                </option>
              ))}
            </select>
          </div>
          <div className="filter-field">
            <label htmlFor={`${fid}-author`}>{t('ann.filter.author')}</label>
            <select id={`${fid}-author`} value={filter.author} onChange={(e) => setFilter((f) => ({ ...f, author: e.target.value }))}>
              <option value="">{t('ann.filter.all')}</option>
              <option value={session.user.id}>{session.user.username}</option>
              {[...authors.keys()].filter((a) => a !== session.user.id).map((a) => (
                <option key={a} value={a}>
                  {authorName(shapes.find((s) => s.author === a)!)}
                </option>
              ))}
            </select>
          </div>
          <div className="filter-field">
            <label htmlFor={`${fid}-status`}>{t('ann.filter.status')}</label>
            <select id={`${fid}-status`} value={filter.status} onChange={(e) => setFilter((f) => ({ ...f, status: e.target.value }))}>
              <option value="">{t('ann.filter.all')}</option>
              {ANNOTATION_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {t(`ann.status.${s}`)}
                </option>
              ))}
            </select>
          </div>
        </div>
      </details>

      <details className="annotation-panel">
        <summary>{t('ann.layers')}</summary>
        <LayerGroup title={t('ann.layers.labels')} entries={[...labels].map(([k, n]) => ({ key: `label:${k}`, text: labelText(book, byKey(k), lang), n, color: labelColor(byKey(k)) }))} hidden={hidden} toggle={toggle} />
        <LayerGroup
          title={t('ann.layers.authors')}
          entries={[...authors].map(([k, n]) => ({ key: `author:${k}`, text: authorName(shapes.find((s) => s.author === k)!), n, color: mode.review ? hueColor(hash(k) % 360) : undefined }))}
          hidden={hidden}
          toggle={toggle}
        />
        <LayerGroup title={t('ann.layers.statuses')} entries={[...statuses].map(([k, n]) => ({ key: `status:${k}`, text: t(`ann.status.${k as AnnotationStatus}`), n }))} hidden={hidden} toggle={toggle} />
      </details>

      <details className="annotation-panel">
        <summary>
          {t('ann.list')} ({shown.length})
        </summary>
        <ul className="annotation-list" data-testid="annotation-list">
          {shown.slice(0, LIST_MAX).map((a) => (
            <li key={a.id}>
              <button type="button" aria-pressed={a.id === selectedId} onClick={() => select(a.id)} data-annotation-id={a.id}>
                <Swatch color={colorOf(a)} /> {labelText(book, a.label, lang)} · {t(`ann.kind.${a.shape}`)} · {authorName(a)}
              </button>
            </li>
          ))}
        </ul>
        {shown.length > LIST_MAX && <p className="muted">{t('ann.list.more', { n: shown.length - LIST_MAX })}</p>}
      </details>
    </div>
  )
}

/**
 * The hub's density grid as shaded squares: each cell in the colour of its most frequent visible label, more opaque
 * the more shapes it holds (square root, so sparse cells still show). Hidden label layers are left out.
 */
function drawDensity(ctx: CanvasRenderingContext2D, g: DensityGrid, tr: ViewTransform, hidden: Set<string>): void {
  const byCell = new Map<string, { gx: number; gy: number; n: number; top: number; topN: number }>()
  for (let i = 0; i + 3 < g.cells.length; i += 4) {
    const [gx, gy, li, n] = [g.cells[i]!, g.cells[i + 1]!, g.cells[i + 2]!, g.cells[i + 3]!]
    if (hidden.has(`label:${codeKey(g.labels[li]!)}`)) continue
    const k = `${gx},${gy}`
    const c = byCell.get(k) ?? { gx, gy, n: 0, top: li, topN: 0 }
    c.n += n
    if (n > c.topN) Object.assign(c, { top: li, topN: n })
    byCell.set(k, c)
  }
  let max = 0
  for (const c of byCell.values()) max = Math.max(max, c.n)
  const side = g.cellSize * tr.scale
  for (const c of byCell.values()) {
    const [r, gr, b] = labelColor(g.labels[c.top]!)
    ctx.fillStyle = `rgba(${Math.round(r * 255)},${Math.round(gr * 255)},${Math.round(b * 255)},${(0.12 + 0.5 * Math.sqrt(c.n / max)).toFixed(3)})`
    ctx.fillRect(c.gx * g.cellSize * tr.scale + tr.ox, c.gy * g.cellSize * tr.scale + tr.oy, side, side)
  }
}

function countBy<T>(xs: T[], key: (x: T) => string): Map<string, number> {
  const m = new Map<string, number>()
  for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1)
  return m
}

export function Swatch({ color }: { color: [number, number, number, number] }) {
  return <span className="swatch" aria-hidden="true" data-color={colorCss(color)} ref={paintSwatch} />
}

function LayerGroup({ title, entries, hidden, toggle }: { title: string; entries: { key: string; text: string; n: number; color?: [number, number, number, number] }[]; hidden: Set<string>; toggle(key: string): void }) {
  if (entries.length === 0) return null
  return (
    <fieldset className="layer-group">
      <legend>{title}</legend>
      {entries.map((e) => (
        <label key={e.key} className="check">
          <input type="checkbox" checked={!hidden.has(e.key)} onChange={() => toggle(e.key)} />
          {e.color && <Swatch color={e.color} />} {e.text} <span className="muted">({e.n})</span>
        </label>
      ))}
    </fieldset>
  )
}
