/** Dice and IoU on exact polygon areas, against areas worked out by hand. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Geometry } from '../../annotations/model.ts'
import { areaOf, overlap, unionOf } from './regions.ts'

const close = (actual: number | null, expected: number, what: string) => {
  assert.ok(actual !== null, `${what} is null`)
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`)
}
const rect = (x0: number, y0: number, x1: number, y1: number): [number, number][] => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
const poly = (...rings: [number, number][][]): Geometry => ({ type: 'Polygon', coordinates: rings })

describe('region overlap', () => {
  it('two half-overlapping squares', () => {
    // A = [0,10]², B = [5,15]×[0,10]: |A| = |B| = 100, |A∩B| = 5·10 = 50, |A∪B| = 150.
    // Dice = 2·50/200 = 0.5; IoU = 50/150 = 1/3.
    const o = overlap(unionOf([poly(rect(0, 0, 10, 10))]), unionOf([poly(rect(5, 0, 15, 10))]))
    close(o.intersection, 50, 'intersection')
    close(o.union, 150, 'union')
    close(o.dice.value, 0.5, 'dice')
    close(o.iou.value, 1 / 3, 'iou')
  })

  it('a polygon with a hole', () => {
    // A = [0,10]² minus the hole [2,4]²: 100 − 4 = 96. B = [0,10]². A∩B = A = 96, A∪B = 100.
    // Dice = 192/196 = 48/49; IoU = 96/100 = 0.96.
    const a = unionOf([poly(rect(0, 0, 10, 10), rect(2, 2, 4, 4))])
    close(areaOf(a), 96, 'area with hole')
    const o = overlap(a, unionOf([poly(rect(0, 0, 10, 10))]))
    close(o.dice.value, 48 / 49, 'dice')
    close(o.iou.value, 0.96, 'iou')
  })

  it('a MultiPolygon against a polygon', () => {
    // A = [0,2]² ∪ [10,12]² (area 8), B = [1,3]² (area 4); A∩B = [1,2]² = 1; A∪B = 8 + 4 − 1 = 11.
    // Dice = 2/12 = 1/6; IoU = 1/11.
    const a = unionOf([{ type: 'MultiPolygon', coordinates: [[rect(0, 0, 2, 2)], [rect(10, 10, 12, 12)]] }])
    const o = overlap(a, unionOf([poly(rect(1, 1, 3, 3))]))
    close(o.dice.value, 1 / 6, 'dice')
    close(o.iou.value, 1 / 11, 'iou')
  })

  it("a reader's overlapping polygons count once (union), and orientation does not matter", () => {
    // [0,10]² ∪ [5,15]×[0,10] = 150, not 200. The second ring is clockwise.
    const cw = rect(5, 0, 15, 10).reverse()
    close(areaOf(unionOf([poly(rect(0, 0, 10, 10)), poly(cw)])), 150, 'union area')
  })

  it('a triangle: non-axis-aligned shoelace', () => {
    // Triangle (0,0) (4,0) (0,3): area 4·3/2 = 6. Against [0,4]×[0,3] (12): ∩ = 6, ∪ = 12.
    // Dice = 12/18 = 2/3; IoU = 1/2.
    const o = overlap(unionOf([poly([[0, 0], [4, 0], [0, 3], [0, 0]])]), unionOf([poly(rect(0, 0, 4, 3))]))
    close(o.areaA, 6, 'triangle area')
    close(o.dice.value, 2 / 3, 'dice')
    close(o.iou.value, 0.5, 'iou')
  })

  it('disjoint regions: 0', () => {
    const o = overlap(unionOf([poly(rect(0, 0, 1, 1))]), unionOf([poly(rect(5, 5, 6, 6))]))
    assert.equal(o.dice.value, 0)
    assert.equal(o.iou.value, 0)
  })

  it('both empty: Dice = IoU = 1 by convention; one empty: 0', () => {
    const none = overlap(unionOf([]), unionOf([]))
    assert.deepEqual([none.dice.value, none.iou.value], [1, 1])
    const one = overlap(unionOf([poly(rect(0, 0, 1, 1))]), [])
    assert.deepEqual([one.dice.value, one.iou.value], [0, 0])
  })

  it('points and lines have no area', () => {
    assert.deepEqual(unionOf([{ type: 'Point', coordinates: [1, 1] }, { type: 'LineString', coordinates: [[0, 0], [1, 1]] }]), [])
  })
})
