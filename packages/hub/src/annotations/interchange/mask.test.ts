/** Label masks, hand-checked pixel by pixel: a known rectangle, a polygon with a hole, scaling and overlap order. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { rasterise } from './mask.ts'

const frame = { x0: 0, y0: 0, scale: 1, width: 128, height: 128 }
const at = (m: Uint8Array, i: number, j: number, w = 128) => m[j * w + i]
const count = (m: Uint8Array, v: number) => m.reduce((n, x) => n + (x === v ? 1 : 0), 0)
const rect = (x0: number, y0: number, x1: number, y1: number) => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]] as [number, number][]

describe('mask rasterisation', () => {
  it('fills a rectangle exactly: pixels whose centres are inside', () => {
    const m = rasterise(frame, [{ polygons: [[rect(10, 20, 30, 40)]], value: 3 }])
    assert.equal(count(m, 3), 400)
    assert.equal(at(m, 10, 20), 3)
    assert.equal(at(m, 29, 39), 3)
    assert.equal(at(m, 30, 20), 0)
    assert.equal(at(m, 9, 20), 0)
    assert.equal(at(m, 10, 19), 0)
    assert.equal(at(m, 10, 40), 0)
  })

  it('leaves a hole empty whatever its winding', () => {
    for (const hole of [rect(25, 25, 75, 75), rect(25, 25, 75, 75).reverse()]) {
      const m = rasterise(frame, [{ polygons: [[rect(0, 0, 100, 100), hole]], value: 1 }])
      assert.equal(count(m, 1), 100 * 100 - 50 * 50)
      assert.equal(at(m, 10, 10), 1)
      assert.equal(at(m, 24, 50), 1)
      assert.equal(at(m, 25, 50), 0)
      assert.equal(at(m, 50, 50), 0)
      assert.equal(at(m, 74, 74), 0)
      assert.equal(at(m, 75, 75), 1)
      assert.equal(at(m, 100, 50), 0)
    }
  })

  it('fills a triangle by pixel centres (hand-counted rows)', () => {
    // Right triangle (0,0) (8,0) (0,8): a pixel is inside when its centre satisfies x + y < 8.
    const m = rasterise({ ...frame, width: 8, height: 8 }, [{ polygons: [[[[0, 0], [8, 0], [0, 8], [0, 0]]]], value: 1 }])
    const perRow = [...Array(8).keys()].map((j) => m.subarray(j * 8, j * 8 + 8).reduce((n, x) => n + x, 0))
    // Row j: (i + ½) + (j + ½) < 8  ⇒  i ≤ 6 − j, so 7 − j pixels.
    assert.deepEqual(perRow, [7, 6, 5, 4, 3, 2, 1, 0])
  })

  it('maps level-0 coordinates into the tile by origin and scale, clipping at the edges', () => {
    const m = rasterise({ x0: 80, y0: 80, scale: 2, width: 16, height: 16 }, [{ polygons: [[rect(100, 100, 140, 140)]], value: 2 }])
    // Tile coordinates (10,10)–(30,30), clipped to 16: pixels 10..15 on both axes.
    assert.equal(count(m, 2), 36)
    assert.equal(at(m, 10, 10, 16), 2)
    assert.equal(at(m, 9, 10, 16), 0)
  })

  it('paints in order: a later region covers an earlier one; multipolygon parts are a union', () => {
    const m = rasterise(frame, [
      { polygons: [[rect(0, 0, 50, 50)]], value: 1 },
      { polygons: [[rect(10, 10, 20, 20)], [rect(30, 30, 40, 40)]], value: 2 },
    ])
    assert.equal(count(m, 2), 200)
    assert.equal(count(m, 1), 2500 - 200)
    assert.equal(at(m, 15, 15), 2)
  })
})
