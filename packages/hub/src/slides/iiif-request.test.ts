import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_AREA, parseIiif } from './iiif-request.ts'

const p = (region: string, size: string, rotation = '0', file = 'default.jpg') => parseIiif(2000, 1000, region, size, rotation, file)

describe('IIIF image requests', () => {
  it('reads regions', () => {
    assert.deepEqual(p('full', 'max'), { x: 0, y: 0, w: 2000, h: 1000, outW: 2000, outH: 1000, format: 'jpeg' })
    assert.deepEqual(p('square', 'max'), { x: 500, y: 0, w: 1000, h: 1000, outW: 1000, outH: 1000, format: 'jpeg' })
    assert.deepEqual(p('1900,900,500,500', 'max'), { x: 1900, y: 900, w: 100, h: 100, outW: 100, outH: 100, format: 'jpeg' }, 'clipped to the image')
    assert.deepEqual(p('pct:10,20,50,50', 'max'), { x: 200, y: 200, w: 1000, h: 500, outW: 1000, outH: 500, format: 'jpeg' })
  })

  it('reads sizes', () => {
    assert.deepEqual(p('full', '500,').outH, 250)
    assert.deepEqual(p('full', ',250').outW, 500)
    assert.deepEqual([p('full', 'pct:25').outW, p('full', 'pct:25').outH], [500, 250])
    assert.deepEqual([p('full', '!400,400').outW, p('full', '!400,400').outH], [400, 200])
    assert.deepEqual([p('full', '300,300').outW, p('full', '300,300').outH], [300, 300])
    assert.equal(p('full', 'max', '0', 'color.png').format, 'png')
  })

  it('refuses what level 1 does not offer, saying why', () => {
    assert.throws(() => p('full', 'max', '90'), /rotation 0 only/)
    assert.throws(() => p('full', 'max', '!0'), /rotation 0 only/)
    assert.throws(() => p('full', '^max'), /Upscaling/)
    assert.throws(() => p('full', '4000,'), /larger than the region/)
    assert.throws(() => p('2000,0,10,10', 'max'), /outside the image/)
    assert.throws(() => p('0,0,0,10', 'max'), /empty/)
    assert.throws(() => p('full', 'max', '0', 'gray.jpg'), /not offered/)
    assert.throws(() => p('full', 'max', '0', 'default.webp'), /not offered/)
    assert.throws(() => p('a,b,c,d', 'max'), /Bad region/)
  })

  it('keeps max within maxArea', () => {
    const big = parseIiif(100_000, 80_000, 'full', 'max', '0', 'default.jpg')
    assert.ok(big.outW * big.outH <= MAX_AREA)
    assert.ok(Math.abs(big.outW / big.outH - 1.25) < 0.01)
  })
})
