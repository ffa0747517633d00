/**
 * @module Overlap of two readers' regions: exact polygon areas (shoelace) of unions and intersections
 * computed with polygon-clipping, which handles holes, MultiPolygons and self-overlapping input.
 *
 * A reader's region for one label on one item is the union of all their polygons with that label, so
 * drawing a tumour as three touching pieces or one outline gives the same region.
 * Dice = 2|A∩B| / (|A| + |B|), IoU = |A∩B| / |A∪B|. Convention: when both regions are empty (neither
 * reader drew anything) the readers agree perfectly, Dice = IoU = 1; when exactly one is empty both are 0.
 */
import polygonClipping, { type MultiPolygon, type Polygon } from 'polygon-clipping'
import type { Geometry, Position } from '../../annotations/model.ts'
import { metric, type MetricValue } from './metric.ts'

export type Region = MultiPolygon

/** The polygons of an area geometry as polygon-clipping input; points and lines have no area. */
export function polygonsOf(g: Geometry): Polygon[] {
  if (g.type === 'Polygon') return [g.coordinates as Polygon]
  if (g.type === 'MultiPolygon') return g.coordinates as Polygon[]
  return []
}

/** The union of the geometries' areas ([] when none has any). */
export function unionOf(geometries: readonly Geometry[]): Region {
  const polys = geometries.flatMap(polygonsOf).filter((p) => p.length && p[0]!.length >= 3)
  if (!polys.length) return []
  return polygonClipping.union(polys[0]!, ...polys.slice(1))
}

/** Shoelace area of a ring, closed or not (absolute value: orientation does not matter). */
export function ringArea(ring: readonly Position[]): number {
  let s = 0
  for (let i = 0; i < ring.length; i++) {
    const [x1, y1] = ring[i]!
    const [x2, y2] = ring[(i + 1) % ring.length]!
    s += x1 * y2 - x2 * y1
  }
  return Math.abs(s) / 2
}

/**
 * Area of a region from polygon-clipping (outer ring first, then holes; its output never overlaps
 * itself, so the polygons' areas add up).
 */
export function areaOf(region: Region): number {
  let a = 0
  for (const poly of region) poly.forEach((ring, i) => (a += i === 0 ? ringArea(ring) : -ringArea(ring)))
  return a
}

export interface Overlap {
  areaA: number
  areaB: number
  intersection: number
  union: number
  dice: MetricValue
  iou: MetricValue
}

export function overlap(a: Region, b: Region): Overlap {
  const areaA = areaOf(a)
  const areaB = areaOf(b)
  const intersection = a.length && b.length ? areaOf(polygonClipping.intersection(a, b)) : 0
  const union = areaA + areaB - intersection
  if (areaA + areaB === 0) return { areaA, areaB, intersection, union, dice: metric(1), iou: metric(1) }
  return { areaA, areaB, intersection, union, dice: metric((2 * intersection) / (areaA + areaB)), iou: metric(intersection / union) }
}
