/** Shape arithmetic of the annotation layer: what each drawn kind stores, hit-testing, editing, the pick grid. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Annotation, Geometry } from '../types.ts'
import { boundsOf, ellipsePolygon, geometryFor, hits, maskGeometry, moveVertex, nearestVertex, ShapeGrid, translate } from './geometry.ts'

const poly = (ring: [number, number][]): Geometry => ({ type: 'Polygon', coordinates: [ring] })
const ann = (id: string, geometry: Geometry): Annotation =>
  ({ id, geometry, shape: 'polygon', label: { system: 'S', code: 'c' }, author: 'u', status: 'draft' }) as Annotation

describe('annotation geometry', () => {
  it('stores each drawn kind as the GeoJSON the hub expects', () => {
    assert.deepEqual(geometryFor('point', [[5, 6]]), { type: 'Point', coordinates: [5, 6] })
    assert.deepEqual(geometryFor('polyline', [[0, 0], [3, 4]]), { type: 'LineString', coordinates: [[0, 0], [3, 4]] })
    assert.equal(geometryFor('polyline', [[0, 0]]), null, 'a line needs two points')
    // A rectangle dragged from bottom-right to top-left is the same closed ring.
    assert.deepEqual(geometryFor('rectangle', [[10, 20], [0, 0]]), poly([[0, 0], [10, 0], [10, 20], [0, 20], [0, 0]]))
    assert.equal(geometryFor('rectangle', [[1, 1], [1, 9]]), null, 'a zero-width rectangle is no shape')
    const tri = geometryFor('polygon', [[0, 0], [4, 0], [0, 3]])!
    assert.deepEqual(tri, poly([[0, 0], [4, 0], [0, 3], [0, 0]]), 'the ring is closed')
    assert.equal(geometryFor('polygon', [[0, 0], [1, 1]]), null, 'a polygon needs three vertices')
  })

  it('turns an ellipse into a closed 64-gon inside its box', () => {
    const g = geometryFor('ellipse', [[0, 0], [200, 100]])!
    assert.equal(g.type, 'Polygon')
    const ring = (g as { coordinates: [number, number][][] }).coordinates[0]!
    assert.equal(ring.length, 65)
    assert.deepEqual(ring[0], ring.at(-1))
    assert.deepEqual(boundsOf(g), [0, 0, 200, 100])
    const rotated = boundsOf(ellipsePolygon({ cx: 0, cy: 0, rx: 100, ry: 10, rotation: Math.PI / 2 }))
    assert.ok(Math.abs(rotated[3] - 100) < 0.01 && Math.abs(rotated[2] - 10) < 0.01, `rotated by 90°: ${rotated}`)
  })

  it('hits inside a polygon but not in its hole, near a line, near a point', () => {
    const donut: Geometry = { type: 'Polygon', coordinates: [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]], [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]] }
    assert.equal(hits(donut, [2, 2], 0.1), true)
    assert.equal(hits(donut, [5, 5], 0.1), false, 'in the hole')
    assert.equal(hits(donut, [20, 20], 0.1), false)
    assert.equal(hits({ type: 'LineString', coordinates: [[0, 0], [10, 0]] }, [5, 0.5], 1), true)
    assert.equal(hits({ type: 'LineString', coordinates: [[0, 0], [10, 0]] }, [5, 2], 1), false)
    assert.equal(hits({ type: 'Point', coordinates: [3, 3] }, [3, 4], 1), true)
  })

  it('moves a vertex (the closing vertex follows the first) and the whole shape', () => {
    const sq = poly([[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]])
    const v = nearestVertex(sq, [0.5, 0.4], 2)
    assert.deepEqual(v, { ring: 0, index: 0 })
    const moved = moveVertex(sq, v!, [-5, -5]) as { coordinates: number[][][] }
    assert.deepEqual(moved.coordinates[0]![0], [-5, -5])
    assert.deepEqual(moved.coordinates[0]!.at(-1), [-5, -5])
    assert.equal(nearestVertex(sq, [5, 5], 2), null)
    assert.deepEqual(boundsOf(translate(sq, 3, -2)), [3, -2, 13, 8])
  })

  it('picks the smallest shape under the pointer among many, through the grid', () => {
    const shapes: Annotation[] = []
    for (let i = 0; i < 10_000; i++) {
      const [x, y] = [(i % 100) * 100, Math.floor(i / 100) * 100]
      shapes.push(ann(`s${i}`, poly([[x, y], [x + 50, y], [x + 50, y + 50], [x, y + 50], [x, y]])))
    }
    shapes.push(ann('big', poly([[0, 0], [10_000, 0], [10_000, 10_000], [0, 10_000], [0, 0]])))
    const grid = new ShapeGrid(512, shapes)
    assert.equal(grid.pick([5025, 5025], 1, () => true)?.id, 's5050')
    assert.equal(grid.pick([5075, 5075], 1, () => true)?.id, 'big', 'between small squares: the big one')
    assert.equal(grid.pick([5025, 5025], 1, (a) => a.id !== 's5050')?.id, 'big', 'hidden shapes are not picked')
    assert.equal(grid.pick([20_000, 20_000], 1, () => true), null)
  })
})

describe('brush mask outlines', () => {
  const grid = (rows: string[]) => {
    const h = rows.length
    const w = rows[0]!.length
    const m = new Uint8Array(w * h)
    rows.forEach((r, y) => [...r].forEach((c, x) => (m[y * w + x] = c === '#' ? 1 : 0)))
    return { m, w, h }
  }
  it('outlines a filled block with four corners, in image pixels', () => {
    const { m, w, h } = grid(['....', '.##.', '.##.', '....'])
    assert.deepEqual(maskGeometry(m, w, h, 100, 200, 10), poly([[110, 210], [130, 210], [130, 230], [110, 230], [110, 210]]))
  })
  it('keeps a hole as the polygon’s second ring and separates two regions', () => {
    const ring = grid(['#####', '#...#', '#...#', '#####'])
    const g = maskGeometry(ring.m, ring.w, ring.h, 0, 0, 1) as { type: string; coordinates: number[][][] }
    assert.equal(g.type, 'Polygon')
    assert.equal(g.coordinates.length, 2, 'outline and hole')
    assert.deepEqual(boundsOf(g as Geometry), [0, 0, 5, 4])
    const two = grid(['##..', '##..', '...#'])
    const mg = maskGeometry(two.m, two.w, two.h, 0, 0, 1)!
    assert.equal(mg.type, 'MultiPolygon')
    // Touching only at a corner: still two regions, not one ring that touches itself.
    const diag = grid(['#.', '.#'])
    assert.equal(maskGeometry(diag.m, diag.w, diag.h, 0, 0, 1)!.type, 'MultiPolygon')
    assert.equal(maskGeometry(new Uint8Array(4), 2, 2, 0, 0, 1), null)
  })
})
