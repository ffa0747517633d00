/**
 * @module Annotation geometry: checking what a client sent, the derived numbers the catalog indexes (bounds,
 * level-of-detail extent, area, vertex count), and Douglas-Peucker simplification for zoomed-out viewports, done
 * once at write time per level-of-detail tier (SIMPLIFY_TIERS) so a viewport read never simplifies.
 *
 * Checks are strict where a bad shape would poison queries or metrics (non-finite numbers, rings with fewer than
 * three distinct corners, a shape kind that does not match its geometry) and lenient where the intent is plain: an
 * unclosed ring is closed.
 */
import { AnnotationErrors } from './errors.ts'
import { boundsOf, type Bounds, type Geometry, type Position, type ShapeKind } from './model.ts'

/** Points have no size, yet are drawn as markers: they count as this large, so zooming out never drops them. */
export const POINT_EXTENT = 1e15
/** One annotation may hold at most this many vertices (a brush mask outline of a large region fits easily). */
export const MAX_VERTICES = 200_000
/** Coordinates beyond this (level-0 pixels) are surely a unit mistake. */
const MAX_COORDINATE = 1e9

const GEOMETRY_OF_SHAPE: Record<ShapeKind, readonly Geometry['type'][]> = {
  point: ['Point', 'MultiPoint'],
  polyline: ['LineString'],
  rectangle: ['Polygon'],
  ellipse: ['Polygon'],
  polygon: ['Polygon', 'MultiPolygon'],
  mask: ['Polygon', 'MultiPolygon'],
}

/**
 * Simplification tolerances (level-0 pixels) whose result is stored with each annotation (`geometry_lod<T>`). A
 * viewport at `scale` s reads the largest tier ≤ s: at most 4× finer than one screen pixel, never coarser.
 */
export const SIMPLIFY_TIERS = [2, 8, 32, 128] as const
export type LodTier = (typeof SIMPLIFY_TIERS)[number]
/** The stored column holding a tier's simplified GeoJSON text. */
export type LodColumn = `geometry_lod${LodTier}`
export const lodColumn = (t: LodTier): LodColumn => `geometry_lod${t}`

/** The largest tier a viewport at `scale` may use; undefined when it must read full geometry. */
export function lodTierFor(scale: number): LodTier | undefined {
  return [...SIMPLIFY_TIERS].reverse().find((t) => t <= scale)
}

/**
 * The simplified GeoJSON text of each tier, null where the shape is smaller than the tier (a viewport that reads
 * the tier leaves it out: it is under a screen pixel) or where simplification drops nothing (read `geometry`).
 */
export function lodGeometries(g: Geometry, lodExtent: number): Record<LodColumn, string | null> {
  const out = {} as Record<LodColumn, string | null>
  for (const t of SIMPLIFY_TIERS) {
    const s = lodExtent >= t && lodExtent < POINT_EXTENT ? simplifyGeometry(g, t) : undefined
    out[lodColumn(t)] = s?.changed ? JSON.stringify(s.geometry) : null
  }
  return out
}

export interface GeometryFacts {
  bounds: Bounds
  /** The larger side of the bounds (POINT_EXTENT for points). */
  lodExtent: number
  /** Enclosed area in square level-0 pixels (holes subtracted); 0 for points and lines. */
  area: number
  vertexCount: number
}

/** Checks `geometry` against `shape` and returns it normalised (rings closed); throws ANNOTATION_BAD_GEOMETRY. */
export function normaliseGeometry(shape: ShapeKind, geometry: unknown): Geometry {
  const g = geometry as Geometry
  if (!g || typeof g !== 'object' || typeof (g as { type?: unknown }).type !== 'string') throw AnnotationErrors.badGeometry('geometry must be a GeoJSON object with a "type"')
  const allowed = GEOMETRY_OF_SHAPE[shape]
  if (!allowed) throw AnnotationErrors.badGeometry(`unknown shape "${String(shape).slice(0, 20)}"; use one of point, polyline, rectangle, ellipse, polygon, mask`)
  if (!allowed.includes(g.type)) throw AnnotationErrors.badGeometry(`a ${shape} is stored as ${allowed.join(' or ')}, not ${String(g.type).slice(0, 20)}`)
  let count = 0
  const pos = (p: unknown, where: string): Position => {
    if (!Array.isArray(p) || p.length < 2 || !isCoord(p[0]) || !isCoord(p[1])) throw AnnotationErrors.badGeometry(`${where}: a position is [x, y] with finite numbers within ±1e9`)
    if (++count > MAX_VERTICES) throw AnnotationErrors.badGeometry(`more than ${MAX_VERTICES} vertices; split the shape`)
    return [p[0], p[1]]
  }
  const list = (a: unknown, where: string): Position[] => {
    if (!Array.isArray(a)) throw AnnotationErrors.badGeometry(`${where}: expected an array of positions`)
    return a.map((p) => pos(p, where))
  }
  const ring = (a: unknown, where: string): Position[] => {
    const r = list(a, where)
    if (r.length && (r[0]![0] !== r[r.length - 1]![0] || r[0]![1] !== r[r.length - 1]![1])) r.push([r[0]![0], r[0]![1]])
    if (distinct(r) < 3) throw AnnotationErrors.badGeometry(`${where}: a ring needs at least three distinct corners`)
    return r
  }
  const polygon = (a: unknown, where: string): Position[][] => {
    if (!Array.isArray(a) || a.length === 0) throw AnnotationErrors.badGeometry(`${where}: a polygon is a non-empty array of rings (outline first, then holes)`)
    return a.map((r, i) => ring(r, `${where} ring ${i}`))
  }
  const c = (g as { coordinates?: unknown }).coordinates
  switch (g.type) {
    case 'Point':
      return { type: 'Point', coordinates: pos(c, 'Point') }
    case 'MultiPoint': {
      const ps = list(c, 'MultiPoint')
      if (!ps.length) throw AnnotationErrors.badGeometry('MultiPoint: at least one position')
      return { type: 'MultiPoint', coordinates: ps }
    }
    case 'LineString': {
      const ps = list(c, 'LineString')
      if (distinct(ps) < 2) throw AnnotationErrors.badGeometry('LineString: at least two distinct positions')
      return { type: 'LineString', coordinates: ps }
    }
    case 'Polygon':
      return { type: 'Polygon', coordinates: polygon(c, 'Polygon') }
    case 'MultiPolygon': {
      if (!Array.isArray(c) || !c.length) throw AnnotationErrors.badGeometry('MultiPolygon: at least one polygon')
      return { type: 'MultiPolygon', coordinates: c.map((p, i) => polygon(p, `MultiPolygon polygon ${i}`)) }
    }
    default:
      throw AnnotationErrors.badGeometry(`unsupported geometry type "${String((g as { type: string }).type).slice(0, 20)}"`)
  }
}

export function geometryFacts(g: Geometry): GeometryFacts {
  const bounds = boundsOf(g)
  const point = g.type === 'Point' || g.type === 'MultiPoint'
  let area = 0, vertexCount = 0
  const polyArea = (p: Position[][]) => p.reduce((s, r, i) => s + (i === 0 ? 1 : -1) * Math.abs(ringArea(r)), 0)
  switch (g.type) {
    case 'Point': vertexCount = 1; break
    case 'MultiPoint': case 'LineString': vertexCount = g.coordinates.length; break
    case 'Polygon': area = polyArea(g.coordinates); vertexCount = g.coordinates.reduce((s, r) => s + r.length, 0); break
    case 'MultiPolygon':
      for (const p of g.coordinates) { area += polyArea(p); vertexCount += p.reduce((s, r) => s + r.length, 0) }
      break
  }
  const lodExtent = point ? POINT_EXTENT : Math.max(bounds[2] - bounds[0], bounds[3] - bounds[1])
  return { bounds, lodExtent, area: Math.max(0, area), vertexCount }
}

/** Shoelace formula: signed area of a closed ring. */
export function ringArea(r: Position[]): number {
  let s = 0
  for (let i = 0, n = r.length - 1; i < n; i++) s += r[i]![0] * r[i + 1]![1] - r[i + 1]![0] * r[i]![1]
  return s / 2
}

/**
 * Simplifies a geometry for display at `tolerance` level-0 pixels (about one screen pixel). Rings keep at least
 * four positions (a closed triangle), lines at least two; points are returned as they are. `changed` says whether
 * any vertex was dropped.
 */
export function simplifyGeometry(g: Geometry, tolerance: number): { geometry: Geometry; changed: boolean } {
  if (!(tolerance > 0)) return { geometry: g, changed: false }
  let changed = false
  const line = (ps: Position[], minKeep: number): Position[] => {
    if (ps.length <= minKeep) return ps
    // Zoomed out, most shapes (cells) fit inside the tolerance: every vertex is then within it of any other, so
    // evenly spaced originals will do, without the full Douglas-Peucker pass.
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity
    for (const p of ps) {
      if (p[0] < minX) minX = p[0]
      if (p[0] > maxX) maxX = p[0]
      if (p[1] < minY) minY = p[1]
      if (p[1] > maxY) maxY = p[1]
    }
    if (Math.hypot(maxX - minX, maxY - minY) <= tolerance) {
      changed = true
      return evenlySpaced(ps, minKeep)
    }
    const out = douglasPeucker(ps, tolerance, minKeep)
    if (out.length !== ps.length) changed = true
    return out
  }
  const poly = (p: Position[][]) => p.map((r) => line(r, 4))
  let out: Geometry
  switch (g.type) {
    case 'Point': case 'MultiPoint': return { geometry: g, changed: false }
    case 'LineString': out = { type: 'LineString', coordinates: line(g.coordinates, 2) }; break
    case 'Polygon': out = { type: 'Polygon', coordinates: poly(g.coordinates) }; break
    case 'MultiPolygon': out = { type: 'MultiPolygon', coordinates: g.coordinates.map(poly) }; break
  }
  return { geometry: changed ? out : g, changed }
}

/**
 * Douglas-Peucker on a polyline (closed rings included: first and last positions are kept, and the vertex farthest
 * from the first is kept too, so a ring never collapses to a line). Iterative, so long mask outlines cannot
 * overflow the stack.
 */
export function douglasPeucker(ps: Position[], tolerance: number, minKeep = 2): Position[] {
  const n = ps.length
  if (n <= 2) return ps
  const keep = new Uint8Array(n)
  keep[0] = 1
  keep[n - 1] = 1
  const tol2 = tolerance * tolerance
  const stack: [number, number][] = []
  const closed = ps[0]![0] === ps[n - 1]![0] && ps[0]![1] === ps[n - 1]![1]
  if (closed) {
    // A closed ring's chord is a point: split at the vertex farthest from the start first.
    let far = 1, best = -1
    for (let i = 1; i < n - 1; i++) {
      const d = (ps[i]![0] - ps[0]![0]) ** 2 + (ps[i]![1] - ps[0]![1]) ** 2
      if (d > best) { best = d; far = i }
    }
    keep[far] = 1
    stack.push([0, far], [far, n - 1])
  } else stack.push([0, n - 1])
  while (stack.length) {
    const [a, b] = stack.pop()!
    let idx = -1, max = tol2
    for (let i = a + 1; i < b; i++) {
      const d = segmentDistance2(ps[i]!, ps[a]!, ps[b]!)
      if (d > max) { max = d; idx = i }
    }
    if (idx >= 0) {
      keep[idx] = 1
      stack.push([a, idx], [idx, b])
    }
  }
  const out = ps.filter((_, i) => keep[i])
  // Too few left (a tiny ring): keep evenly spaced originals instead.
  return out.length < minKeep ? evenlySpaced(ps, minKeep) : out
}

/** `k` of the positions, evenly spaced, first and last included (a closed ring stays closed). */
function evenlySpaced(ps: Position[], k: number): Position[] {
  const step = (ps.length - 1) / (k - 1)
  return Array.from({ length: k }, (_, i) => ps[Math.round(i * step)]!)
}

function segmentDistance2(p: Position, a: Position, b: Position): number {
  const dx = b[0] - a[0], dy = b[1] - a[1]
  const len2 = dx * dx + dy * dy
  let t = len2 === 0 ? 0 : ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2
  t = Math.max(0, Math.min(1, t))
  const x = a[0] + t * dx - p[0], y = a[1] + t * dy - p[1]
  return x * x + y * y
}

function isCoord(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= MAX_COORDINATE
}

function distinct(ps: Position[]): number {
  return new Set(ps.map((p) => `${p[0]},${p[1]}`)).size
}
