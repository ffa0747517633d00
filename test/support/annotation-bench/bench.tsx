/**
 * @module The page test/web-annotation-render.test.ts measures: OpenSeadragon over a blank
 * 50,000 × 50,000 px image with N polygons in view, drawn either by Annotorious
 * (`@annotorious/openseadragon`, PixiJS/WebGL) or by the app's own overlay (renderer.tsx, WebGL2 or
 * canvas 2D), then panned frame by frame while rAF intervals are recorded. Built by Vite in the test.
 */
import OpenSeadragon from 'openseadragon'
import { createOSDAnnotator } from '@annotorious/openseadragon'
import '@annotorious/openseadragon/annotorious-openseadragon.css'
import { createShapeRenderer } from '../../../packages/web/src/annotations/renderer.tsx'
import type { Position } from '../../../packages/web/src/types.ts'

const SIZE = 50_000
const GREY = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=='

/** N twelve-sided polygons on a square grid covering the image. */
function polygons(n: number): Position[][] {
  const side = Math.ceil(Math.sqrt(n))
  const step = SIZE / side
  const out: Position[][] = []
  for (let i = 0; i < n; i++) {
    const cx = (i % side) * step + step / 2
    const cy = Math.floor(i / side) * step + step / 2
    const ring: Position[] = []
    for (let k = 0; k < 12; k++) {
      const a = (k / 12) * Math.PI * 2
      const r = step * (0.3 + 0.1 * Math.sin(i + k))
      ring.push([cx + r * Math.cos(a), cy + r * Math.sin(a)])
    }
    ring.push(ring[0]!)
    out.push(ring)
  }
  return out
}

interface Result { mode: string; backend: string; n: number; setupMs: number; frames: number[]; renderMs: number[] }

async function run(mode: 'annotorious' | 'webgl' | 'webgl-outlines' | 'canvas2d' | 'none', n: number, frameCount: number): Promise<Result> {
  const host = document.getElementById('viewer')!
  host.style.width = '1200px'
  host.style.height = '800px'
  const viewer = OpenSeadragon({
    element: host,
    tileSources: { width: SIZE, height: SIZE, tileSize: 512, minLevel: 0, maxLevel: 17, getTileUrl: () => GREY } as any,
    showNavigationControl: false,
    animationTime: 0,
    immediateRender: true,
  })
  await new Promise<void>((r) => viewer.addOnceHandler('open', () => r()))
  const shapes = polygons(n)
  const renderMs: number[] = []
  let backend: string = mode
  const t0 = performance.now()
  if (mode === 'annotorious') {
    const anno = createOSDAnnotator(viewer, { drawingEnabled: false })
    anno.setAnnotations(
      shapes.map((ring, i) => {
        const xs = ring.map((p) => p[0])
        const ys = ring.map((p) => p[1])
        const id = `a${i}`
        return {
          id,
          bodies: [],
          target: {
            annotation: id,
            selector: { type: 'POLYGON', geometry: { bounds: { minX: Math.min(...xs), minY: Math.min(...ys), maxX: Math.max(...xs), maxY: Math.max(...ys) }, points: ring.slice(0, -1) } },
          },
        } as any
      }),
    )
  } else if (mode !== 'none') {
    // `webgl-outlines`: every outline drawn, the level of detail off (the worst case of a GPU-less machine).
    const r = createShapeRenderer(viewer.canvas as HTMLElement, mode === 'canvas2d' ? 'canvas2d' : 'webgl', { lod: mode !== 'webgl-outlines' })
    backend = r.kind
    r.setShapes(shapes.map((ring) => ({ geometry: { type: 'Polygon', coordinates: [ring] }, color: [0.1, 0.8, 0.3, 0.9] })))
    const draw = () => {
      const item = viewer.world.getItemAt(0)
      if (!item) return
      const p0 = item.imageToViewerElementCoordinates(new OpenSeadragon.Point(0, 0))
      const p1 = item.imageToViewerElementCoordinates(new OpenSeadragon.Point(SIZE, 0))
      const s = performance.now()
      r.render({ ox: p0.x, oy: p0.y, scale: (p1.x - p0.x) / SIZE })
      renderMs.push(performance.now() - s)
    }
    viewer.addHandler('update-viewport', draw)
    draw()
  }
  // Let the first frames (uploads, shader compiles) settle before timing.
  ;(window as any).benchStage = 'settling'
  await new Promise((r) => setTimeout(r, 1500))
  ;(window as any).benchStage = 'panning'
  const setupMs = performance.now() - t0
  renderMs.length = 0
  const frames: number[] = []
  await new Promise<void>((done) => {
    let last = 0
    let i = 0
    const started = performance.now()
    const step = (now: number) => {
      if (last) frames.push(now - last)
      last = now
      // Pan a little every frame, back and forth, so all shapes stay in view.
      viewer.viewport.panBy(new OpenSeadragon.Point((i % 40 < 20 ? 1 : -1) * 0.002, 0), true)
      // A frame budget and a time cap: on a loaded machine a slow renderer must not stall the test.
      if (++i > frameCount || performance.now() - started > 20_000) return done()
      requestAnimationFrame(step)
    }
    requestAnimationFrame(step)
  })
  return { mode, backend, n, setupMs, frames, renderMs }
}

;(window as any).runBench = run
;(window as any).benchReady = true
