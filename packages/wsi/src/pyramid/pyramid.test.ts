import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import sharp from 'sharp'
import { FileSource } from '@kura/core'
import { openSlide } from '../open.ts'
import type { Slide } from '../reader.ts'
import { writeTiffSlide } from '../synth/tiled.ts'
import { openslideInfo, openslideRegions, rgbDiff } from '../testkit.ts'
import { buildPyramidTiff, needsPyramid } from './build.ts'
import { withDerivedLevels } from './derived-levels.ts'

describe('derived pyramid levels', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kura-pyramid-'))
  const input = join(dir, 'single.tiff')
  const output = join(dir, 'pyramid.tiff')
  let base: Slide
  let slide: Slide
  before(async () => {
    await writeTiffSlide(input, { width: 6144, height: 4096, maxLevels: 1, seed: 3 })
    base = await openSlide(await FileSource.open(input))
  })
  after(async () => {
    await slide?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a single-level slide needs them; the built file starts at half size and opens in OpenSlide', async () => {
    assert.equal(base.levels.length, 1)
    assert.ok(needsPyramid(base.levels))
    const r = await buildPyramidTiff(input, output, base.format, 6144, 4096)
    assert.deepEqual([r.width, r.height], [3072, 2048])
    const info = openslideInfo(output)
    assert.deepEqual(info.dimensions[0], [3072, 2048])
    assert.ok(info.levelCount >= 4, `OpenSlide sees ${info.levelCount} levels`)
  })

  it('the combined slide keeps level 0 and appends the derived levels with their downsamples', async () => {
    slide = withDerivedLevels(base, await openSlide(await FileSource.open(output)))
    assert.ok(!needsPyramid(slide.levels))
    assert.deepEqual(slide.levels.slice(0, 3).map((l) => [l.width, l.height, l.downsample]), [[6144, 4096, 1], [3072, 2048, 2], [1536, 1024, 4]])
    assert.equal(slide.properties['openslide.level-count'], String(slide.levels.length))
    // Level 0 tiles are the original's, byte for byte.
    assert.deepEqual((await slide.tile(0, 3, 2)).bytes, (await base.tile(0, 3, 2)).bytes)
  })

  it('derived pixels match the original shrunk (and what OpenSlide reads from the derived file)', async () => {
    const full = await base.readRegion(0, 2048, 1024, 1024, 1024)
    const expected = await sharp(full.data, { raw: { width: 1024, height: 1024, channels: 4 } }).resize(256, 256, { kernel: 'linear' }).raw().toBuffer()
    const got = await slide.readRegion(2, 2048, 1024, 256, 256)
    const d = rgbDiff(got.data, new Uint8Array(expected))
    assert.ok(d.mean < 4, `mean difference ${d.mean.toFixed(2)} (max ${d.max})`)
    const [os] = openslideRegions(output, [[1, 1024, 512, 256, 256]])
    const dos = rgbDiff(got.data, os!)
    assert.ok(dos.mean < 1, `vs OpenSlide on the derived file: mean ${dos.mean.toFixed(2)}`)
  })

  it('refuses formats libvips cannot read, for good', async () => {
    await assert.rejects(buildPyramidTiff(input, output, 'hamamatsu-ndpi', 100, 100), (e: any) => e.code === 'PYRAMID_UNSUPPORTED' && e.details.retryable === false)
  })
})
