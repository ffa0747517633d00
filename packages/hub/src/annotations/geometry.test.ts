/** Geometry checks, derived numbers and Douglas-Peucker simplification, against hand-computed cases. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { douglasPeucker, geometryFacts, normaliseGeometry, POINT_EXTENT, simplifyGeometry } from './geometry.ts'
import type { Position } from './model.ts'

const circle = (n: number, r: number, cx = 0, cy = 0): Position[] => {
  const ring: Position[] = Array.from({ length: n }, (_, i) => [cx + r * Math.cos((2 * Math.PI * i) / n), cy + r * Math.sin((2 * Math.PI * i) / n)])
  return [...ring, ring[0]!]
}

describe('normaliseGeometry', () => {
  it('closes an unclosed ring and keeps a closed one as it is', () => {
    const g = normaliseGeometry('polygon', { type: 'Polygon', coordinates: [[[0, 0], [4, 0], [4, 3]]] })
    assert.deepEqual(g, { type: 'Polygon', coordinates: [[[0, 0], [4, 0], [4, 3], [0, 0]]] })
    const closed = { type: 'Polygon', coordinates: [[[0, 0], [4, 0], [4, 3], [0, 0]]] }
    assert.deepEqual(normaliseGeometry('rectangle', closed), closed)
  })

  it('refuses shapes that do not match their kind, degenerate rings and bad numbers', () => {
    const bad = (shape: Parameters<typeof normaliseGeometry>[0], g: unknown, re: RegExp) =>
      assert.throws(() => normaliseGeometry(shape, g), (e: any) => e.code === 'ANNOTATION_BAD_GEOMETRY' && re.test(e.message))
    bad('point', { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1]]] }, /point is stored as Point or MultiPoint/)
    bad('polygon', { type: 'Polygon', coordinates: [[[0, 0], [1, 1], [0, 0]]] }, /three distinct corners/)
    bad('polygon', { type: 'Polygon', coordinates: [[[0, 0], [1, 'x'], [1, 1]]] }, /finite numbers/)
    bad('polyline', { type: 'LineString', coordinates: [[0, 0], [0, 0]] }, /two distinct/)
    bad('point', { type: 'Point', coordinates: [NaN, 1] }, /finite/)
    bad('point', null, /GeoJSON object/)
    bad('mask', { type: 'Polygon', coordinates: [] }, /non-empty array of rings/)
  })
})

describe('geometryFacts', () => {
  it('subtracts holes from the area and counts vertices', () => {
    const g = normaliseGeometry('polygon', { type: 'Polygon', coordinates: [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], [[2, 2], [2, 4], [4, 4], [4, 2], [2, 2]]] })
    const f = geometryFacts(g)
    assert.equal(f.area, 100 - 4)
    assert.deepEqual(f.bounds, [0, 0, 10, 10])
    assert.equal(f.lodExtent, 10)
    assert.equal(f.vertexCount, 10)
  })

  it('adds up a MultiPolygon and gives points the never-dropped extent', () => {
    const mp = geometryFacts({ type: 'MultiPolygon', coordinates: [[[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]], [[[10, 10], [13, 10], [13, 12], [10, 12], [10, 10]]]] })
    assert.equal(mp.area, 4 + 6)
    assert.deepEqual(mp.bounds, [0, 0, 13, 12])
    assert.equal(mp.lodExtent, 13)
    assert.equal(geometryFacts({ type: 'Point', coordinates: [5, 5] }).lodExtent, POINT_EXTENT)
    assert.equal(geometryFacts({ type: 'LineString', coordinates: [[0, 0], [3, 40]] }).area, 0)
  })
})

describe('simplification', () => {
  it('keeps every vertex farther than the tolerance from the simplified line', () => {
    const line: Position[] = [[0, 0], [1, 0.1], [2, -0.1], [3, 5], [4, 6], [5, 7.05], [6, 8]]
    const out = douglasPeucker(line, 0.5)
    assert.deepEqual(out, [[0, 0], [2, -0.1], [3, 5], [6, 8]])
  })

  it('reduces a finely drawn circle at a coarse tolerance but never below a closed triangle', () => {
    const g = { type: 'Polygon' as const, coordinates: [circle(200, 100)] }
    const fine = simplifyGeometry(g, 0.01)
    const coarse = simplifyGeometry(g, 10)
    const tiny = simplifyGeometry({ type: 'Polygon', coordinates: [circle(24, 3)] }, 50)
    assert.ok((fine.geometry as any).coordinates[0].length > 100, 'a tiny tolerance keeps most vertices')
    assert.ok(coarse.changed && (coarse.geometry as any).coordinates[0].length < 20, `coarse: ${(coarse.geometry as any).coordinates[0].length}`)
    const ring = (tiny.geometry as any).coordinates[0] as Position[]
    assert.equal(ring.length, 4)
    assert.deepEqual(ring[0], ring[3])
    // Every dropped vertex lies within the tolerance of the simplified outline's edges.
    const kept = (coarse.geometry as any).coordinates[0] as Position[]
    for (const p of g.coordinates[0]!) {
      let best = Infinity
      for (let i = 0; i + 1 < kept.length; i++) best = Math.min(best, segDist(p, kept[i]!, kept[i + 1]!))
      assert.ok(best <= 10 + 1e-9, `vertex ${p} is ${best} away`)
    }
    assert.equal(simplifyGeometry({ type: 'Point', coordinates: [1, 1] }, 100).changed, false)
  })
})

function segDist(p: Position, a: Position, b: Position): number {
  const dx = b[0] - a[0], dy = b[1] - a[1]
  const t = Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy || 1)))
  return Math.hypot(a[0] + t * dx - p[0], a[1] + t * dy - p[1])
}
