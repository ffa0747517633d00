import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Level } from '@kura/wsi'
import { bestLevel, dziLayout, dziLevelSize, dziTile, regionSource } from './geometry.ts'

// A scanner pyramid whose level sizes are floored (downsamples a little above 4 and 16).
const levels: Level[] = [
  { width: 10000, height: 6000, tileWidth: 256, tileHeight: 256, downsample: 1 },
  { width: 2500, height: 1500, tileWidth: 256, tileHeight: 256, downsample: 4 },
  { width: 625, height: 375, tileWidth: 256, tileHeight: 256, downsample: 16 },
]

describe('slide tile geometry', () => {
  it('lays out Deep Zoom on the stored tile size', () => {
    const d = dziLayout(levels)
    assert.deepEqual(d, { width: 10000, height: 6000, tileSize: 256, overlap: 0, maxLevel: 14 })
    assert.deepEqual(dziLevelSize(d, 14), { width: 10000, height: 6000 })
    assert.deepEqual(dziLevelSize(d, 0), { width: 1, height: 1 })
    assert.equal(dziLayout([{ ...levels[0]!, tileWidth: 512, tileHeight: 128 }]).tileSize, 256, 'non-square stored tiles: 256')
  })

  it('passes stored tiles through only where the grids match', () => {
    const d = dziLayout(levels)
    assert.deepEqual(dziTile(levels, d, 14, 3, 2), { kind: 'stored', level: 0, col: 3, row: 2 })
    assert.deepEqual(dziTile(levels, d, 12, 1, 1), { kind: 'stored', level: 1, col: 1, row: 1 })
    assert.deepEqual(dziTile(levels, d, 10, 0, 0), { kind: 'stored', level: 2, col: 0, row: 0 })
    // Right edge of level 0 (10000 = 39·256 + 16): a 16-pixel-wide tile, cropped from the padded stored one.
    const edge = dziTile(levels, d, 14, 39, 0)
    assert.equal(edge?.kind, 'render')
    assert.deepEqual(edge.kind === 'render' && edge.read, { level: 0, x: 9984, y: 0, w: 16, h: 256, outW: 16, outH: 256 })
    // DZI level 13 (scale 2) has no stored level: read 512² of level 0 and halve it.
    const mid = dziTile(levels, d, 13, 1, 1)
    assert.deepEqual(mid?.kind === 'render' && mid.read, { level: 0, x: 512, y: 512, w: 512, h: 512, outW: 256, outH: 256 })
    assert.equal(dziTile(levels, d, 14, 40, 0), null)
    assert.equal(dziTile(levels, d, 15, 0, 0), null)
  })

  it('picks the largest stored level that is not coarser than asked (OpenSlide)', () => {
    assert.equal(bestLevel(levels, 1), 0)
    assert.equal(bestLevel(levels, 3.99), 0)
    assert.equal(bestLevel(levels, 4), 1)
    assert.equal(bestLevel(levels, 100), 2)
  })

  it('answers region requests from stored tiles or the best level', () => {
    assert.deepEqual(regionSource(levels, 1024, 2048, 1024, 1024, 256, 256), { kind: 'stored', level: 1, col: 1, row: 2 })
    const r = regionSource(levels, 1000, 2000, 1000, 1000, 100, 100)
    assert.deepEqual(r.kind === 'render' && r.read, { level: 1, x: 1000, y: 2000, w: 250, h: 250, outW: 100, outH: 100 })
  })
})
