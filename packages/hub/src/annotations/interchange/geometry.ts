/**
 * @module Geometry checks and measures shared by the importers and exporters: strict validation of foreign
 * coordinates (finite x, y pairs only, so nothing is silently truncated), the shape kind a bare geometry implies,
 * signed ring areas (shoelace), and the bounds a tile grid needs.
 */
import type { Geometry, Position, ShapeKind } from '../model.ts'
import { InterchangeErrors } from './errors.ts'

function position(format: string, p: unknown): Position {
  if (!Array.isArray(p) || p.length !== 2 || !Number.isFinite(p[0]) || !Number.isFinite(p[1]))
    throw InterchangeErrors.badFile(format, `a coordinate is not an [x, y] pair of finite numbers (${JSON.stringify(p)?.slice(0, 40)})`)
  return p as Position
}

const positions = (format: string, a: unknown, min: number, what: string): Position[] => {
  if (!Array.isArray(a) || a.length < min) throw InterchangeErrors.badFile(format, `a ${what} needs at least ${min} coordinates`)
  return a.map((p) => position(format, p))
}

/** A GeoJSON geometry object as the model's Geometry, or an error naming what is wrong. Numbers are kept exactly. */
export function checkGeometry(format: string, g: unknown): Geometry {
  if (!g || typeof g !== 'object') throw InterchangeErrors.badFile(format, 'an object has no geometry')
  const { type, coordinates: c } = g as { type?: unknown; coordinates?: unknown }
  switch (type) {
    case 'Point':
      return { type, coordinates: position(format, c) }
    case 'MultiPoint':
      return { type, coordinates: positions(format, c, 1, 'multipoint') }
    case 'LineString':
      return { type, coordinates: positions(format, c, 2, 'line') }
    case 'Polygon':
      if (!Array.isArray(c) || c.length < 1) throw InterchangeErrors.badFile(format, 'a polygon has no rings')
      return { type, coordinates: c.map((r) => positions(format, r, 4, 'polygon ring')) }
    case 'MultiPolygon':
      if (!Array.isArray(c) || c.length < 1) throw InterchangeErrors.badFile(format, 'a multipolygon has no polygons')
      return { type, coordinates: c.map((poly) => (Array.isArray(poly) && poly.length ? poly.map((r) => positions(format, r, 4, 'polygon ring')) : positions(format, [], 4, 'polygon'))) as Position[][][] }
    default:
      throw InterchangeErrors.unsupportedGeometry(format, typeof type === 'string' ? type : 'geometry without a type')
  }
}

/** Closes a ring that a format stores open (ASAP, Sectra): the first position is repeated at the end. */
export function closeRing(ring: Position[]): Position[] {
  const a = ring[0]!
  const b = ring[ring.length - 1]!
  return a[0] === b[0] && a[1] === b[1] ? ring : [...ring, [a[0], a[1]]]
}

/** Whether a polygon is one axis-aligned rectangle (4 corners, closed), which editors give back as a rectangle. */
export function isAxisRectangle(g: Geometry): boolean {
  if (g.type !== 'Polygon' || g.coordinates.length !== 1) return false
  const r = g.coordinates[0]!
  if (r.length !== 5 || r[0]![0] !== r[4]![0] || r[0]![1] !== r[4]![1]) return false
  const xs = new Set(r.map((p) => p[0]))
  const ys = new Set(r.map((p) => p[1]))
  if (xs.size !== 2 || ys.size !== 2) return false
  // Consecutive corners differ in exactly one coordinate.
  for (let i = 0; i < 4; i++) if ((r[i]![0] === r[i + 1]![0]) === (r[i]![1] === r[i + 1]![1])) return false
  return true
}

/** The shape kind a geometry implies when the format does not say how it was drawn. */
export function shapeOf(g: Geometry): ShapeKind {
  switch (g.type) {
    case 'Point':
    case 'MultiPoint':
      return 'point'
    case 'LineString':
      return 'polyline'
    default:
      return isAxisRectangle(g) ? 'rectangle' : 'polygon'
  }
}

/** Signed area of a ring (shoelace): positive when counter-clockwise in y-up axes, i.e. clockwise on screen. */
export function ringArea(r: readonly Position[]): number {
  let s = 0
  for (let i = 0, j = r.length - 1; i < r.length; j = i++) s += (r[j]![0] - r[i]![0]) * (r[j]![1] + r[i]![1])
  return s / 2
}

/** Area of a polygon or multipolygon in square pixels: outlines minus holes. 0 for points and lines. */
export function areaOf(g: Geometry): number {
  const poly = (rings: Position[][]) => rings.reduce((s, r, i) => s + (i === 0 ? 1 : -1) * Math.abs(ringArea(r)), 0)
  if (g.type === 'Polygon') return poly(g.coordinates)
  if (g.type === 'MultiPolygon') return g.coordinates.reduce((s, p) => s + poly(p), 0)
  return 0
}

export const isRegion = (g: Geometry): g is Extract<Geometry, { type: 'Polygon' | 'MultiPolygon' }> => g.type === 'Polygon' || g.type === 'MultiPolygon'

/** Polygons of a region geometry, each a list of rings (outline first). */
export const polygonsOf = (g: Extract<Geometry, { type: 'Polygon' | 'MultiPolygon' }>): Position[][][] => (g.type === 'Polygon' ? [g.coordinates] : g.coordinates)
