/**
 * @module Draws many annotation outlines over the slide viewer: a WebGL2 overlay when the browser
 * has it, a canvas 2D one when not. Geometry goes to the GPU once (one vertex buffer of line
 * segments and one of points, in level-0 image pixels); a pan or zoom only changes a uniform, so a
 * frame costs one or two draw calls however many shapes are in view.
 *
 * Why our own and not Annotorious (`@annotorious/openseadragon` 3.8, PixiJS): chosen by measurement,
 * test/web-annotation-render.test.ts, headless Chromium 156 with software WebGL (SwiftShader, no GPU),
 * on a 2-core machine shared with other jobs (load average ~19), 12-vertex polygons in view of a
 * 1200×800 viewer, panned every frame; p50 frame interval (2026-11-27):
 *
 *   OpenSeadragon alone, no shapes ........................ 1,617 ms   (the machine's floor)
 *   this overlay, WebGL2, 100,000 polygons ................ 2,617 ms   (draw call 0.1 ms; setup 6.4 s)
 *   this overlay, WebGL2 without level of detail, 100,000 . 9,000 ms
 *   this overlay, canvas 2D, 100,000 ...................... no 30 frames within 150 s
 *   Annotorious, 100,000 .................................. no 30 frames within 150 s
 *   Annotorious, 10,000 ................................... 6,300 ms   (this overlay at 10,000: 1,900 ms)
 *
 * Absolute figures on this machine are not a workstation's (OpenSeadragon alone gets under 1 fps
 * here); the ranking is what counts: Annotorious costs ~3× this overlay's frame at a tenth of the
 * shapes and does not get through 100,000 at all. Annotorious also injects inline styles, which the
 * app's CSP (`style-src 'self'`) refuses. Drawing and editing happen on a second, small canvas
 * (layer.tsx), so only the selected or unfinished shape is redrawn as the pointer moves.
 */
import type { Geometry, Position } from '../types.ts'

export type Rgba = [number, number, number, number]

export interface RenderShape {
  geometry: Geometry
  color: Rgba
}

/** Image pixel → CSS pixel of the overlay: `x * scale + ox`. */
export interface ViewTransform { ox: number; oy: number; scale: number }

export interface ShapeRenderer {
  readonly kind: 'webgl' | 'canvas2d'
  readonly canvas: HTMLCanvasElement
  setShapes(shapes: readonly RenderShape[]): void
  render(t: ViewTransform): void
  destroy(): void
}

/** A canvas covering `host` exactly, sized in device pixels, that lets the pointer through. */
function overlayCanvas(host: HTMLElement, className: string): HTMLCanvasElement {
  const c = document.createElement('canvas')
  c.className = className
  c.style.position = 'absolute'
  c.style.inset = '0'
  c.style.width = '100%'
  c.style.height = '100%'
  c.style.pointerEvents = 'none'
  host.append(c)
  return c
}

/** Keeps the backing store at the element's size × devicePixelRatio; true when it changed. */
export function fitCanvas(c: HTMLCanvasElement): boolean {
  const dpr = window.devicePixelRatio || 1
  const w = Math.max(1, Math.round(c.clientWidth * dpr))
  const h = Math.max(1, Math.round(c.clientHeight * dpr))
  if (c.width === w && c.height === h) return false
  c.width = w
  c.height = h
  return true
}

/** A shape smaller than this on screen (CSS px) is drawn as one dot: its outline would be a smudge. */
const LOD_PX = 3

/**
 * Outlines as segment pairs (a ring closes itself) and one dot per shape, largest shapes first, so
 * that at any zoom "the shapes big enough for an outline" are a prefix of the segment buffer and
 * "the rest, as dots" a suffix of the dot buffer: the level of detail is two draw ranges, found by
 * a binary search on `sizes`, with nothing re-uploaded. Point annotations come last and are always dots.
 */
function tessellate(shapes: readonly RenderShape[]) {
  const n = shapes.length
  const size = new Float64Array(n)
  const isPoint = (s: RenderShape) => s.geometry.type === 'Point' || s.geometry.type === 'MultiPoint'
  shapes.forEach((s, i) => {
    if (isPoint(s)) return void (size[i] = -1)
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity]
    const g = s.geometry
    const rings = g.type === 'LineString' ? [g.coordinates] : g.type === 'Polygon' ? g.coordinates : g.type === 'MultiPolygon' ? g.coordinates.flat() : []
    for (const r of rings) for (const p of r) {
      if (p[0] < x0) x0 = p[0]
      if (p[0] > x1) x1 = p[0]
      if (p[1] < y0) y0 = p[1]
      if (p[1] > y1) y1 = p[1]
    }
    size[i] = Math.max(x1 - x0, y1 - y0, 0)
  })
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => size[b]! - size[a]!)
  let segs = 0
  let pts = 0
  const ringSegs = (r: Position[]) => Math.max(0, r.length - 1)
  for (const s of shapes) {
    const g = s.geometry
    if (g.type === 'Point') pts++
    else if (g.type === 'MultiPoint') pts += g.coordinates.length
    else {
      pts++
      if (g.type === 'LineString') segs += ringSegs(g.coordinates)
      else if (g.type === 'Polygon') for (const r of g.coordinates) segs += ringSegs(r)
      else for (const p of g.coordinates) for (const r of p) segs += ringSegs(r)
    }
  }
  const lines = new Float32Array(segs * 4)
  const lineColors = new Uint8Array(segs * 8)
  const points = new Float32Array(pts * 2)
  const pointColors = new Uint8Array(pts * 4)
  /** Per shape in draw order: its size, and the segment / dot counts before it. */
  const sizes = new Float64Array(n)
  const segStart = new Uint32Array(n + 1)
  const dotStart = new Uint32Array(n + 1)
  let firstPoint = n
  let li = 0
  let pi = 0
  const addLine = (r: Position[], c: Rgba) => {
    for (let i = 1; i < r.length; i++) {
      lines[li * 4] = r[i - 1]![0]
      lines[li * 4 + 1] = r[i - 1]![1]
      lines[li * 4 + 2] = r[i]![0]
      lines[li * 4 + 3] = r[i]![1]
      lineColors.set(c, li * 8)
      lineColors.set(c, li * 8 + 4)
      li++
    }
  }
  const addPoint = (x: number, y: number, c: Rgba) => {
    points[pi * 2] = x
    points[pi * 2 + 1] = y
    pointColors.set(c, pi * 4)
    pi++
  }
  order.forEach((idx, k) => {
    const s = shapes[idx]!
    const g = s.geometry
    const c = s.color.map((v) => Math.round(v * 255)) as Rgba
    sizes[k] = size[idx]!
    segStart[k] = li
    dotStart[k] = pi
    if (g.type === 'Point' || g.type === 'MultiPoint') {
      if (firstPoint === n) firstPoint = k
      if (g.type === 'Point') addPoint(g.coordinates[0], g.coordinates[1], c)
      else g.coordinates.forEach((p) => addPoint(p[0], p[1], c))
      return
    }
    const rings = g.type === 'LineString' ? [g.coordinates] : g.type === 'Polygon' ? g.coordinates : g.coordinates.flat()
    rings.forEach((r) => addLine(r, c))
    const first = rings[0]?.[0]
    if (first) addPoint(first[0], first[1], c)
  })
  segStart[n] = li
  dotStart[n] = pi
  return { lines, lineColors, points, pointColors, segs, pts, sizes, segStart, dotStart, firstPoint, n }
}

/** How many shapes (a prefix in draw order) are at least LOD_PX on screen at `scale`. */
function outlined(sizes: Float64Array, n: number, scale: number): number {
  let [lo, hi] = [0, n]
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (sizes[mid]! * scale >= LOD_PX) lo = mid + 1
    else hi = mid
  }
  return lo
}

const VERTEX = `#version 300 es
in vec2 a_pos;
in vec4 a_color;
uniform vec3 u_xform;
uniform vec2 u_size;
uniform float u_pointSize;
out vec4 v_color;
void main() {
  vec2 css = a_pos * u_xform.z + u_xform.xy;
  gl_Position = vec4(css.x / u_size.x * 2.0 - 1.0, 1.0 - css.y / u_size.y * 2.0, 0.0, 1.0);
  gl_PointSize = u_pointSize;
  v_color = a_color;
}`
const FRAGMENT = `#version 300 es
precision mediump float;
in vec4 v_color;
out vec4 outColor;
void main() { outColor = v_color; }`

class WebGlRenderer implements ShapeRenderer {
  readonly kind = 'webgl' as const
  private readonly program: WebGLProgram
  private readonly lines: { vao: WebGLVertexArrayObject; bufs: WebGLBuffer[]; count: number }
  private readonly points: { vao: WebGLVertexArrayObject; bufs: WebGLBuffer[]; count: number }
  private readonly u: { xform: WebGLUniformLocation; size: WebGLUniformLocation; pointSize: WebGLUniformLocation }
  private lod: Pick<ReturnType<typeof tessellate>, 'sizes' | 'segStart' | 'dotStart' | 'firstPoint' | 'n'> = { sizes: new Float64Array(0), segStart: new Uint32Array(1), dotStart: new Uint32Array(1), firstPoint: 0, n: 0 }

  constructor(readonly canvas: HTMLCanvasElement, private readonly gl: WebGL2RenderingContext, private readonly useLod = true) {
    const shader = (type: number, src: string) => {
      const s = gl.createShader(type)!
      gl.shaderSource(s, src)
      gl.compileShader(s)
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(`annotation shader: ${gl.getShaderInfoLog(s)}`)
      return s
    }
    const p = gl.createProgram()!
    gl.attachShader(p, shader(gl.VERTEX_SHADER, VERTEX))
    gl.attachShader(p, shader(gl.FRAGMENT_SHADER, FRAGMENT))
    gl.linkProgram(p)
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(`annotation program: ${gl.getProgramInfoLog(p)}`)
    this.program = p
    this.u = { xform: gl.getUniformLocation(p, 'u_xform')!, size: gl.getUniformLocation(p, 'u_size')!, pointSize: gl.getUniformLocation(p, 'u_pointSize')! }
    this.lines = this.batch()
    this.points = this.batch()
    gl.enable(gl.BLEND)
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA)
  }

  private batch() {
    const gl = this.gl
    const vao = gl.createVertexArray()!
    gl.bindVertexArray(vao)
    const pos = gl.createBuffer()!
    gl.bindBuffer(gl.ARRAY_BUFFER, pos)
    const aPos = gl.getAttribLocation(this.program, 'a_pos')
    gl.enableVertexAttribArray(aPos)
    gl.vertexAttribPointer(aPos, 2, gl.FLOAT, false, 0, 0)
    const col = gl.createBuffer()!
    gl.bindBuffer(gl.ARRAY_BUFFER, col)
    const aColor = gl.getAttribLocation(this.program, 'a_color')
    gl.enableVertexAttribArray(aColor)
    gl.vertexAttribPointer(aColor, 4, gl.UNSIGNED_BYTE, true, 0, 0)
    gl.bindVertexArray(null)
    return { vao, bufs: [pos, col], count: 0 }
  }

  setShapes(shapes: readonly RenderShape[]): void {
    const gl = this.gl
    const t = tessellate(shapes)
    const upload = (b: { bufs: WebGLBuffer[]; count: number }, pos: Float32Array, col: Uint8Array, count: number) => {
      gl.bindBuffer(gl.ARRAY_BUFFER, b.bufs[0]!)
      gl.bufferData(gl.ARRAY_BUFFER, pos, gl.STATIC_DRAW)
      gl.bindBuffer(gl.ARRAY_BUFFER, b.bufs[1]!)
      gl.bufferData(gl.ARRAY_BUFFER, col, gl.STATIC_DRAW)
      b.count = count
    }
    upload(this.lines, t.lines, t.lineColors, t.segs * 2)
    upload(this.points, t.points, t.pointColors, t.pts)
    this.lod = t
  }

  render(t: ViewTransform): void {
    const gl = this.gl
    fitCanvas(this.canvas)
    const dpr = window.devicePixelRatio || 1
    gl.viewport(0, 0, this.canvas.width, this.canvas.height)
    gl.clearColor(0, 0, 0, 0)
    gl.clear(gl.COLOR_BUFFER_BIT)
    gl.useProgram(this.program)
    gl.uniform3f(this.u.xform, t.ox, t.oy, t.scale)
    gl.uniform2f(this.u.size, this.canvas.width / dpr, this.canvas.height / dpr)
    const { sizes, segStart, dotStart, firstPoint, n } = this.lod
    const k = this.useLod ? Math.min(outlined(sizes, n, t.scale), firstPoint) : firstPoint
    if (segStart[k]! > 0) {
      gl.bindVertexArray(this.lines.vao)
      gl.drawArrays(gl.LINES, 0, segStart[k]! * 2)
    }
    gl.bindVertexArray(this.points.vao)
    // Shapes too small for an outline: one small dot each.
    if (dotStart[firstPoint]! > dotStart[k]!) {
      gl.uniform1f(this.u.pointSize, 2 * dpr)
      gl.drawArrays(gl.POINTS, dotStart[k]!, dotStart[firstPoint]! - dotStart[k]!)
    }
    // Point annotations: a bigger dot at every zoom.
    if (dotStart[n]! > dotStart[firstPoint]!) {
      gl.uniform1f(this.u.pointSize, 7 * dpr)
      gl.drawArrays(gl.POINTS, dotStart[firstPoint]!, dotStart[n]! - dotStart[firstPoint]!)
    }
    gl.bindVertexArray(null)
  }

  destroy(): void {
    for (const b of [this.lines, this.points]) {
      b.bufs.forEach((x) => this.gl.deleteBuffer(x))
      this.gl.deleteVertexArray(b.vao)
    }
    this.gl.deleteProgram(this.program)
    this.canvas.remove()
  }
}

/** One Path2D per colour in image pixels, stroked under the view transform: no WebGL needed. */
class Canvas2dRenderer implements ShapeRenderer {
  readonly kind = 'canvas2d' as const
  private groups: { color: string; path: Path2D; points: Position[] }[] = []
  constructor(readonly canvas: HTMLCanvasElement, private readonly ctx: CanvasRenderingContext2D) {}

  setShapes(shapes: readonly RenderShape[]): void {
    const byColor = new Map<string, { color: string; path: Path2D; points: Position[] }>()
    for (const s of shapes) {
      const key = `rgba(${s.color.slice(0, 3).map((v) => Math.round(v * 255)).join(',')},${s.color[3]})`
      let g = byColor.get(key)
      if (!g) byColor.set(key, (g = { color: key, path: new Path2D(), points: [] }))
      const ring = (r: Position[]) => r.forEach((p, i) => (i ? g!.path.lineTo(p[0], p[1]) : g!.path.moveTo(p[0], p[1])))
      const geo = s.geometry
      if (geo.type === 'Point') g.points.push(geo.coordinates)
      else if (geo.type === 'MultiPoint') g.points.push(...geo.coordinates)
      else if (geo.type === 'LineString') ring(geo.coordinates)
      else if (geo.type === 'Polygon') geo.coordinates.forEach(ring)
      else geo.coordinates.forEach((p) => p.forEach(ring))
    }
    this.groups = [...byColor.values()]
  }

  render(t: ViewTransform): void {
    fitCanvas(this.canvas)
    const dpr = window.devicePixelRatio || 1
    const ctx = this.ctx
    ctx.setTransform(1, 0, 0, 1, 0, 0)
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height)
    ctx.setTransform(dpr * t.scale, 0, 0, dpr * t.scale, dpr * t.ox, dpr * t.oy)
    ctx.lineWidth = 1 / t.scale
    for (const g of this.groups) {
      ctx.strokeStyle = g.color
      ctx.stroke(g.path)
      ctx.fillStyle = g.color
      const r = 3.5 / t.scale
      for (const p of g.points) ctx.fillRect(p[0] - r, p[1] - r, 2 * r, 2 * r)
    }
  }

  destroy(): void {
    this.canvas.remove()
  }
}

/** The WebGL2 overlay, or canvas 2D where WebGL2 is missing (or `prefer` says so, for measuring). */
export function createShapeRenderer(host: HTMLElement, prefer: 'webgl' | 'canvas2d' = 'webgl', opts: { lod?: boolean } = {}): ShapeRenderer {
  const canvas = overlayCanvas(host, 'annotation-shapes')
  if (prefer === 'webgl') {
    const gl = canvas.getContext('webgl2', { premultipliedAlpha: false, antialias: true })
    if (gl) return new WebGlRenderer(canvas, gl, opts.lod ?? true)
  }
  return new Canvas2dRenderer(canvas, canvas.getContext('2d')!)
}

export { overlayCanvas }
