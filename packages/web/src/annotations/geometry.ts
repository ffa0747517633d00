/**
 * @module Shape arithmetic for the annotation layer, in level-0 image pixels: building the GeoJSON
 * the hub stores for each drawn kind (a rectangle and an ellipse are stored as polygons that keep
 * their kind), hit-testing a click against shapes, moving shapes and vertices, and a uniform grid
 * that finds candidates near a point among 100,000 shapes without scanning them all. Pure functions,
 * so the Node tests check them without a browser.
 */
import type { Annotation, Geometry, Position, ShapeKind } from '../types.ts'

export type Bounds = [number, number, number, number]

/** Segments on an ellipse's outline: smooth at any zoom a reader annotates at, small to store. */
const ELLIPSE_SEGMENTS = 64

export function boundsOf(g: Geometry): Bounds {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity
  for (const p of positionsOf(g)) {
    if (p[0] < minX) minX = p[0]
    if (p[0] > maxX) maxX = p[0]
    if (p[1] < minY) minY = p[1]
    if (p[1] > maxY) maxY = p[1]
  }
  return [minX, minY, maxX, maxY]
}

/** Every vertex, rings' closing repeats included. */
export function positionsOf(g: Geometry): Position[] {
  switch (g.type) {
    case 'Point': return [g.coordinates]
    case 'MultiPoint': case 'LineString': return g.coordinates
    case 'Polygon': return g.coordinates.flat()
    case 'MultiPolygon': return g.coordinates.flat(2)
  }
}

/** Closes a ring (first vertex repeated last), as GeoJSON wants. */
export function closeRing(ring: Position[]): Position[] {
  if (ring.length === 0) return ring
  const [a, b] = [ring[0]!, ring.at(-1)!]
  return a[0] === b[0] && a[1] === b[1] ? ring : [...ring, [a[0], a[1]]]
}

export function rectangle(a: Position, b: Position): Geometry {
  const [x0, x1] = [Math.min(a[0], b[0]), Math.max(a[0], b[0])]
  const [y0, y1] = [Math.min(a[1], b[1]), Math.max(a[1], b[1])]
  return { type: 'Polygon', coordinates: [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]] }
}

export interface EllipseParams { cx: number; cy: number; rx: number; ry: number; rotation: number }

/** The ellipse inscribed in the box from `a` to `b` (drag from corner to corner). */
export function ellipseFromBox(a: Position, b: Position): EllipseParams {
  return { cx: (a[0] + b[0]) / 2, cy: (a[1] + b[1]) / 2, rx: Math.abs(b[0] - a[0]) / 2, ry: Math.abs(b[1] - a[1]) / 2, rotation: 0 }
}

export function ellipsePolygon(e: EllipseParams): Geometry {
  const ring: Position[] = []
  const [c, s] = [Math.cos(e.rotation), Math.sin(e.rotation)]
  for (let i = 0; i < ELLIPSE_SEGMENTS; i++) {
    const t = (i / ELLIPSE_SEGMENTS) * 2 * Math.PI
    const [x, y] = [e.rx * Math.cos(t), e.ry * Math.sin(t)]
    ring.push([round(e.cx + x * c - y * s), round(e.cy + x * s + y * c)])
  }
  return { type: 'Polygon', coordinates: [closeRing(ring)] }
}

/** Sub-pixel digits are noise at level 0 and cost bytes on 100,000 shapes: keep two. */
const round = (v: number) => Math.round(v * 100) / 100

/** The geometry a finished drawing stores, from the clicked/dragged points of each kind. */
export function geometryFor(kind: ShapeKind, points: Position[]): Geometry | null {
  switch (kind) {
    case 'point': return points.length >= 1 ? { type: 'Point', coordinates: points[0]! } : null
    case 'polyline': return points.length >= 2 ? { type: 'LineString', coordinates: points } : null
    case 'rectangle': return points.length >= 2 && !degenerate(points[0]!, points.at(-1)!) ? rectangle(points[0]!, points.at(-1)!) : null
    case 'ellipse': return points.length >= 2 && !degenerate(points[0]!, points.at(-1)!) ? ellipsePolygon(ellipseFromBox(points[0]!, points.at(-1)!)) : null
    case 'polygon': case 'mask': return points.length >= 3 ? { type: 'Polygon', coordinates: [closeRing(points)] } : null
  }
}

const degenerate = (a: Position, b: Position) => a[0] === b[0] || a[1] === b[1]

export function translate(g: Geometry, dx: number, dy: number): Geometry {
  const m = (p: Position): Position => [round(p[0] + dx), round(p[1] + dy)]
  switch (g.type) {
    case 'Point': return { type: 'Point', coordinates: m(g.coordinates) }
    case 'MultiPoint': return { type: 'MultiPoint', coordinates: g.coordinates.map(m) }
    case 'LineString': return { type: 'LineString', coordinates: g.coordinates.map(m) }
    case 'Polygon': return { type: 'Polygon', coordinates: g.coordinates.map((r) => r.map(m)) }
    case 'MultiPolygon': return { type: 'MultiPolygon', coordinates: g.coordinates.map((poly) => poly.map((r) => r.map(m))) }
  }
}

/** A vertex's address in a geometry: ring (or polygon·ring for MultiPolygon flattened) and index. */
export interface VertexRef { ring: number; index: number }

/** The editable vertices, ring by ring, without the closing repeat. */
export function vertexRings(g: Geometry): Position[][] {
  switch (g.type) {
    case 'Point': return [[g.coordinates]]
    case 'MultiPoint': case 'LineString': return [g.coordinates]
    case 'Polygon': return g.coordinates.map((r) => r.slice(0, -1))
    case 'MultiPolygon': return g.coordinates.flatMap((poly) => poly.map((r) => r.slice(0, -1)))
  }
}

/** Moves one vertex; a ring's first vertex moves its closing repeat with it. */
export function moveVertex(g: Geometry, v: VertexRef, to: Position): Geometry {
  const p: Position = [round(to[0]), round(to[1])]
  const setRing = (ring: Position[]): Position[] => {
    const open = ring.slice(0, -1)
    open[v.index] = p
    return closeRing(open)
  }
  switch (g.type) {
    case 'Point': return { type: 'Point', coordinates: p }
    case 'MultiPoint': case 'LineString': return { type: g.type, coordinates: g.coordinates.map((q, i) => (i === v.index ? p : q)) } as Geometry
    case 'Polygon': return { type: 'Polygon', coordinates: g.coordinates.map((r, i) => (i === v.ring ? setRing(r) : r)) }
    case 'MultiPolygon': {
      let k = 0
      return { type: 'MultiPolygon', coordinates: g.coordinates.map((poly) => poly.map((r) => (k++ === v.ring ? setRing(r) : r))) }
    }
  }
}

/** The vertex within `tolerance` pixels of `p`, if any (nearest wins). */
export function nearestVertex(g: Geometry, p: Position, tolerance: number): VertexRef | null {
  let best: VertexRef | null = null
  let bestD = tolerance * tolerance
  vertexRings(g).forEach((ring, r) =>
    ring.forEach((q, i) => {
      const d = (q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2
      if (d <= bestD) [best, bestD] = [{ ring: r, index: i }, d]
    }),
  )
  return best
}

function pointInRing(p: Position, ring: Position[]): boolean {
  let inside = false
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!
    const [xj, yj] = ring[j]!
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside
  }
  return inside
}

function segmentDistance2(p: Position, a: Position, b: Position): number {
  const [dx, dy] = [b[0] - a[0], b[1] - a[1]]
  const len = dx * dx + dy * dy
  const t = len === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len))
  return (p[0] - a[0] - t * dx) ** 2 + (p[1] - a[1] - t * dy) ** 2
}

function nearLine(p: Position, line: Position[], tol: number): boolean {
  for (let i = 1; i < line.length; i++) if (segmentDistance2(p, line[i - 1]!, line[i]!) <= tol * tol) return true
  return false
}

/** Inside a polygon (not in a hole), or within `tolerance` pixels of a point or line. */
export function hits(g: Geometry, p: Position, tolerance: number): boolean {
  switch (g.type) {
    case 'Point': return (g.coordinates[0] - p[0]) ** 2 + (g.coordinates[1] - p[1]) ** 2 <= tolerance * tolerance
    case 'MultiPoint': return g.coordinates.some((q) => (q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2 <= tolerance * tolerance)
    case 'LineString': return nearLine(p, g.coordinates, tolerance)
    case 'Polygon': return polygonHit(g.coordinates, p, tolerance)
    case 'MultiPolygon': return g.coordinates.some((poly) => polygonHit(poly, p, tolerance))
  }
}

function polygonHit(rings: Position[][], p: Position, tol: number): boolean {
  if (rings.some((r) => nearLine(p, r, tol))) return true
  return pointInRing(p, rings[0] ?? []) && !rings.slice(1).some((h) => pointInRing(p, h))
}

/**
 * Buckets shapes by the grid cells their bounds cover, so a click looks at a handful of shapes.
 * Rebuilt whenever the loaded set changes (O(n), ~20 ms for 100,000 shapes).
 */
export class ShapeGrid {
  private readonly cells = new Map<string, Annotation[]>()
  constructor(private readonly cell: number, shapes: Iterable<Annotation>) {
    for (const a of shapes) {
      const [x0, y0, x1, y1] = boundsOf(a.geometry)
      const [cx0, cy0, cx1, cy1] = [Math.floor(x0 / cell), Math.floor(y0 / cell), Math.floor(x1 / cell), Math.floor(y1 / cell)]
      // A shape wider than 64 cells goes in one overflow bucket rather than thousands of cells.
      if ((cx1 - cx0 + 1) * (cy1 - cy0 + 1) > 64) {
        this.bucket('*').push(a)
        continue
      }
      for (let cx = cx0; cx <= cx1; cx++) for (let cy = cy0; cy <= cy1; cy++) this.bucket(`${cx},${cy}`).push(a)
    }
  }
  private bucket(key: string): Annotation[] {
    let b = this.cells.get(key)
    if (!b) this.cells.set(key, (b = []))
    return b
  }
  /** The topmost (last drawn) shape under `p`, smallest first when shapes nest. */
  pick(p: Position, tolerance: number, visible: (a: Annotation) => boolean): Annotation | null {
    const near = [...(this.cells.get(`${Math.floor(p[0] / this.cell)},${Math.floor(p[1] / this.cell)}`) ?? []), ...(this.cells.get('*') ?? [])]
    const hit = near.filter((a) => visible(a) && hits(a.geometry, p, tolerance))
    const area = (a: Annotation) => {
      const [x0, y0, x1, y1] = boundsOf(a.geometry)
      return (x1 - x0) * (y1 - y0)
    }
    hit.sort((a, b) => area(a) - area(b))
    return hit[0] ?? null
  }
}

/**
 * The outline of a brush-painted mask (`mask[y * w + x]` non-zero = painted) as GeoJSON rings on
 * the pixel grid: every painted pixel's side that borders an unpainted one becomes a unit edge,
 * walked clockwise (y down) around the paint, and the edges are chained into closed rings, straight
 * runs merged. Outer rings come out clockwise, holes counter-clockwise; `maskGeometry` sorts them.
 * Diagonal touches stay separate rings, so no ring touches itself.
 */
export function maskRings(mask: Uint8Array, w: number, h: number): Position[][] {
  const on = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && mask[y * w + x] !== 0
  const W = w + 1
  // Out-edges by start corner; a corner has at most two (a diagonal saddle).
  const out = new Map<number, number[]>()
  const add = (x0: number, y0: number, x1: number, y1: number) => {
    const k = y0 * W + x0
    const v = y1 * W + x1
    const list = out.get(k)
    if (list) list.push(v)
    else out.set(k, [v])
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!on(x, y)) continue
      if (!on(x, y - 1)) add(x, y, x + 1, y)
      if (!on(x + 1, y)) add(x + 1, y, x + 1, y + 1)
      if (!on(x, y + 1)) add(x + 1, y + 1, x, y + 1)
      if (!on(x - 1, y)) add(x, y + 1, x, y)
    }
  }
  const rings: Position[][] = []
  const xy = (k: number): Position => [k % W, Math.floor(k / W)]
  for (const start of [...out.keys()]) {
    while (out.get(start)?.length) {
      const ring: number[] = [start]
      let prev = start
      let cur = out.get(start)!.shift()!
      while (cur !== start) {
        ring.push(cur)
        const nexts = out.get(cur)!
        let pick = 0
        if (nexts.length > 1) {
          // At a saddle, turn right (towards the paint just walked around): keeps diagonal pixels apart.
          const [px, py] = xy(prev)
          const [cx, cy] = xy(cur)
          const [dx, dy] = [cx - px, cy - py]
          const right = nexts.findIndex((n) => {
            const [nx, ny] = xy(n)
            return nx - cx === -dy && ny - cy === dx
          })
          pick = right >= 0 ? right : 0
        }
        prev = cur
        cur = nexts.splice(pick, 1)[0]!
      }
      // Keep only the corners where the direction changes.
      const pts = ring.map(xy)
      const corners = pts.filter((p, i) => {
        const a = pts[(i - 1 + pts.length) % pts.length]!
        const b = pts[(i + 1) % pts.length]!
        return (p[0] - a[0]) * (b[1] - p[1]) - (p[1] - a[1]) * (b[0] - p[0]) !== 0
      })
      rings.push(closeRing(corners))
    }
  }
  return rings
}

/** Twice the signed area (shoelace): positive for clockwise rings when y points down. */
export function signedArea2(ring: Position[]): number {
  let s = 0
  for (let i = 1; i < ring.length; i++) s += ring[i - 1]![0] * ring[i]![1] - ring[i]![0] * ring[i - 1]![1]
  return s
}

/**
 * A painted mask as a Polygon (one region, its holes) or MultiPolygon, mapped from grid cells to
 * image pixels by `x0 + gx * cell`; null when nothing was painted.
 */
export function maskGeometry(mask: Uint8Array, w: number, h: number, x0: number, y0: number, cell: number): Geometry | null {
  const map = (r: Position[]) => r.map((p): Position => [round(x0 + p[0] * cell), round(y0 + p[1] * cell)])
  const rings = maskRings(mask, w, h)
  const outers = rings.filter((r) => signedArea2(r) > 0)
  const holes = rings.filter((r) => signedArea2(r) < 0)
  if (!outers.length) return null
  const polys = outers.map((o) => [o])
  for (const hole of holes) {
    const owner = polys.find((p) => pointInRing([hole[0]![0] + 0.5, hole[0]![1] + 0.5], p[0]!) || pointInRing([hole[0]![0] - 0.5, hole[0]![1] - 0.5], p[0]!))
    owner?.push(hole)
  }
  const out = polys.map((p) => p.map(map))
  return out.length === 1 ? { type: 'Polygon', coordinates: out[0]! } : { type: 'MultiPolygon', coordinates: out }
}
