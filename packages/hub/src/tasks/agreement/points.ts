/**
 * @module Agreement of two readers' point annotations (cells, mitoses): the count of points matched one to
 * one within a radius, and F1 = 2·matched / (|A| + |B|).
 *
 * Matching is greedy by distance: all pairs within the radius, closest first, each point used once. For
 * points spread wider than the radius this equals an optimal matching; in dense clusters it may match one
 * pair fewer than the optimum, which errs on the side of lower agreement. Both empty: F1 = 1 (the same
 * convention as Dice for empty regions).
 */
import type { Geometry, Position } from '../../annotations/model.ts'
import { metric, type MetricValue } from './metric.ts'

export function pointsOf(g: Geometry): Position[] {
  if (g.type === 'Point') return [g.coordinates]
  if (g.type === 'MultiPoint') return g.coordinates
  return []
}

export interface PointMatch {
  countA: number
  countB: number
  matched: number
  f1: MetricValue
}

export function matchPoints(a: readonly Position[], b: readonly Position[], radius: number): PointMatch {
  if (!a.length && !b.length) return { countA: 0, countB: 0, matched: 0, f1: metric(1) }
  const r2 = radius * radius
  const candidates: [number, number, number][] = []
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < b.length; j++) {
      const d2 = (a[i]![0] - b[j]![0]) ** 2 + (a[i]![1] - b[j]![1]) ** 2
      if (d2 <= r2) candidates.push([d2, i, j])
    }
  }
  candidates.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2])
  const usedA = new Set<number>()
  const usedB = new Set<number>()
  for (const [, i, j] of candidates) {
    if (usedA.has(i) || usedB.has(j)) continue
    usedA.add(i)
    usedB.add(j)
  }
  const matched = usedA.size
  return { countA: a.length, countB: b.length, matched, f1: metric((2 * matched) / (a.length + b.length)) }
}
