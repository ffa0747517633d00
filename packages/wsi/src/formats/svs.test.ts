/**
 * Aperio SVS against OpenSlide (python3-openslide) on the real CMU-1-Small-Region.svs:
 * metadata, associated images, readRegion pixels, and pass-through tiles' colours.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import sharp from 'sharp'
import { FileSource } from '@kura/core'
import { openSlide } from '../open.ts'
import { spliceJpeg } from '../codecs/jpeg.ts'
import { CMU_SMALL, openslideAssociated, openslideInfo, openslideRegions, psnr, rgbDiff, type Region } from '../testkit.ts'
import { parseAperioDescription } from './svs.ts'

const ref = openslideInfo(CMU_SMALL)

test('levels, MPP, magnification and properties match OpenSlide', async () => {
  const s = await openSlide(await FileSource.open(CMU_SMALL))
  try {
    assert.equal(s.format, 'aperio-svs')
    assert.equal(s.levels.length, ref.levelCount)
    s.levels.forEach((l, i) => {
      assert.deepEqual([l.width, l.height], ref.dimensions[i])
      assert.equal(l.downsample, ref.downsamples[i])
      assert.equal(l.tileWidth, Number(ref.properties[`openslide.level[${i}].tile-width`]))
      assert.equal(l.tileHeight, Number(ref.properties[`openslide.level[${i}].tile-height`]))
    })
    assert.equal(s.mpp?.x, Number(ref.properties['openslide.mpp-x']))
    assert.equal(s.mpp?.y, Number(ref.properties['openslide.mpp-y']))
    assert.equal(s.objectivePower, Number(ref.properties['openslide.objective-power']))
    // Every aperio.* and tiff.* property OpenSlide reports, with the same value.
    const keys = Object.keys(ref.properties).filter((k) => /^(aperio|tiff)\./.test(k) || k === 'openslide.comment' || k.startsWith('openslide.level'))
    assert.ok(keys.length > 25)
    for (const k of keys) {
      if (k === 'tiff.ResolutionUnit') continue // OpenSlide reports libtiff's default ("inch") for a tag the file lacks
      assert.equal(s.properties[k], ref.properties[k], k)
    }
    assert.equal(s.properties['aperio.AppMag'], '20')
  } finally {
    await s.close()
  }
})

test('associated images: same names and sizes as OpenSlide, and the same pixels', async () => {
  const s = await openSlide(await FileSource.open(CMU_SMALL))
  try {
    assert.deepEqual([...s.associated.keys()].sort(), Object.keys(ref.associated).sort())
    for (const [name, a] of s.associated) {
      assert.deepEqual([a.width, a.height], ref.associated[name], name)
      const file = await a.read()
      const { data, info } = await sharp(file.bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true })
      assert.deepEqual([info.width, info.height], ref.associated[name])
      const d = rgbDiff(new Uint8Array(data), openslideAssociated(CMU_SMALL, name))
      console.log(`associated ${name} (${file.mediaType}): mean |Δ| ${d.mean.toFixed(3)}, max ${d.max}`)
      // The label is LZW (lossless): identical. Thumbnail/macro are JPEG strips: decoder rounding only.
      if (name === 'label') assert.equal(d.max, 0)
      else assert.ok(d.mean < 1.5, `${name} mean difference ${d.mean}`)
    }
  } finally {
    await s.close()
  }
})

test('readRegion matches OpenSlide read_region, inside, across tiles, at edges and outside', async () => {
  const regions: Region[] = [
    [0, 0, 0, 240, 240],
    [0, 1000, 1500, 300, 200],
    [0, 2100, 2900, 200, 120],
    [0, -50, -40, 100, 100],
    [0, 1700, 480, 512, 512],
  ]
  const want = openslideRegions(CMU_SMALL, regions)
  const s = await openSlide(await FileSource.open(CMU_SMALL))
  try {
    for (let i = 0; i < regions.length; i++) {
      const [l, x, y, w, h] = regions[i]
      const got = await s.readRegion(l, x, y, w, h)
      const d = rgbDiff(got.data, want[i])
      console.log(`readRegion ${regions[i].join(',')}: mean |Δ| ${d.mean.toFixed(3)}, max ${d.max}, PSNR ${psnr(got.data, want[i]).toFixed(1)} dB`)
      assert.ok(d.mean < 1.0, `region ${regions[i]} differs by ${d.mean} on average`)
      assert.ok(psnr(got.data, want[i]) >= 40)
      for (let p = 3; p < got.data.length; p += 4) if (got.data[p] !== want[i][p]) assert.fail(`alpha differs at byte ${p} of region ${regions[i]}`)
    }
  } finally {
    await s.close()
  }
})

test('a pass-through JPEG tile decodes to OpenSlide colours only because of the APP14 marker', async () => {
  const s = await openSlide(await FileSource.open(CMU_SMALL))
  try {
    const [col, row] = [4, 6]
    const tile = await s.tile(0, col, row)
    assert.equal(tile.mediaType, 'image/jpeg')
    assert.equal(tile.encoding, 'jpeg')
    const [want] = openslideRegions(CMU_SMALL, [[0, col * 240, row * 240, 240, 240]])
    const decoded = new Uint8Array(await sharp(tile.bytes).ensureAlpha().raw().toBuffer())
    const d = rgbDiff(decoded, want)
    console.log(`spliced tile ${col},${row}: mean |Δ| vs OpenSlide ${d.mean.toFixed(3)}, max ${d.max}, PSNR ${psnr(decoded, want).toFixed(1)} dB`)
    assert.ok(psnr(decoded, want) >= 40)
    // The same splice without APP14 is decoded as YCbCr: visibly wrong colours.
    const { TiffFile } = await import('../tiff/parser.ts')
    const src = await FileSource.open(CMU_SMALL)
    const tf = await TiffFile.open(src)
    const tables = await tf.ifds[0].bytes(347)
    const plain = spliceJpeg(stripApp14(tile.bytes), tables, false)
    const wrong = new Uint8Array(await sharp(plain).ensureAlpha().raw().toBuffer())
    const dw = rgbDiff(wrong, want)
    console.log(`same tile without APP14: mean |Δ| ${dw.mean.toFixed(1)}`)
    assert.ok(dw.mean > 20, 'without APP14 the colours should be wrong; if not, the marker is not what fixes them')
    await src.close()
  } finally {
    await s.close()
  }
})

test('Aperio description parsing keeps the last duplicate, as OpenSlide does', () => {
  const p = parseAperioDescription('Aperio Image Library v10\r\n1x1|AppMag = 20|MPP = 0.4990|OriginalWidth = 1|OriginalWidth = 2')
  assert.deepEqual(p, { 'aperio.AppMag': '20', 'aperio.MPP': '0.4990', 'aperio.OriginalWidth': '2' })
})

/** Removes our inserted APP14 (16 bytes after SOI) so the test can splice without it. */
function stripApp14(j: Uint8Array): Uint8Array {
  assert.equal(j[2], 0xff)
  assert.equal(j[3], 0xee)
  const out = new Uint8Array(j.length - 16)
  out.set(j.subarray(0, 2))
  out.set(j.subarray(18), 2)
  return out
}
