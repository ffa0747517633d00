/**
 * Generic tiled pyramidal TIFF/BigTIFF written by vips (Debian libvips-tools), read back and
 * compared with OpenSlide (python3-openslide): levels, and pixels for every compression.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { FileSource } from '@kura/core'
import { openSlide } from '../open.ts'
import { TiffFile } from '../tiff/parser.ts'
import { openslideInfo, openslideRegions, psnr, rgbDiff, vips, type Region } from '../testkit.ts'

let dir = ''
const W = 1500
const H = 1100

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kura-wsi-gt-'))
  // A synthetic image with gradients and fine texture so lossy codecs have work to do.
  const px = Buffer.alloc(W * H * 3)
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3
      px[i] = (x * 255) / W
      px[i + 1] = (y * 255) / H
      px[i + 2] = ((x >> 3) ^ (y >> 3)) & 1 ? 200 : 40
    }
  await sharp(px, { raw: { width: W, height: H, channels: 3 } }).png().toFile(join(dir, 'in.png'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

const CASES: { name: string; args: string[]; lossless: boolean }[] = [
  { name: 'jpeg', args: ['--compression', 'jpeg', '--Q', '90'], lossless: false },
  { name: 'deflate', args: ['--compression', 'deflate'], lossless: true },
  { name: 'deflate-predictor', args: ['--compression', 'deflate', '--predictor', 'horizontal'], lossless: true },
  { name: 'lzw', args: ['--compression', 'lzw'], lossless: true },
  { name: 'lzw-predictor', args: ['--compression', 'lzw', '--predictor', 'horizontal'], lossless: true },
  { name: 'none', args: ['--compression', 'none'], lossless: true },
  { name: 'jpeg-bigtiff', args: ['--compression', 'jpeg', '--bigtiff'], lossless: false },
  { name: 'lzw-bigtiff', args: ['--compression', 'lzw', '--bigtiff'], lossless: true },
]

for (const c of CASES) {
  test(`vips pyramid, ${c.name}: levels and pixels match OpenSlide`, async () => {
    const path = join(dir, `${c.name}.tif`)
    vips(['tiffsave', join(dir, 'in.png'), path, '--tile', '--pyramid', '--tile-width', '256', '--tile-height', '256', ...c.args])
    const ref = openslideInfo(path)
    const s = await openSlide(await FileSource.open(path))
    try {
      assert.equal(s.format, 'generic-tiff')
      const tf = await TiffFile.open(await FileSource.open(path))
      assert.equal(tf.bigTiff, c.args.includes('--bigtiff'))
      assert.equal(s.levels.length, ref.levelCount)
      s.levels.forEach((l, i) => {
        assert.deepEqual([l.width, l.height], ref.dimensions[i], `level ${i}`)
        assert.ok(Math.abs(l.downsample - ref.downsamples[i]) < 1e-9, `level ${i} downsample ${l.downsample} vs ${ref.downsamples[i]}`)
        assert.equal(l.tileWidth, 256)
      })
      if (ref.properties['openslide.mpp-x']) assert.ok(Math.abs(s.mpp!.x - Number(ref.properties['openslide.mpp-x'])) < 1e-9)
      const d1 = s.levels[1].downsample
      const regions: Region[] = [
        [0, 0, 0, 256, 256],
        [0, 700, 300, 400, 333],
        [0, 1400, 1000, 200, 200],
        [1, 256 * d1, 0, 300, 200],
        [s.levels.length - 1, 0, 0, s.levels.at(-1)!.width, s.levels.at(-1)!.height],
      ]
      const want = openslideRegions(path, regions)
      for (let i = 0; i < regions.length; i++) {
        const [l, x, y, w, h] = regions[i]
        const got = await s.readRegion(l, x, y, w, h)
        const d = rgbDiff(got.data, want[i])
        console.log(`${c.name} region ${regions[i].join(',')}: mean |Δ| ${d.mean.toFixed(3)}, max ${d.max}, PSNR ${psnr(got.data, want[i]).toFixed(1)} dB`)
        if (c.lossless) assert.equal(d.max, 0, `lossless ${c.name} must match exactly`)
        else assert.ok(psnr(got.data, want[i]) >= 40)
      }
      const t = await s.tile(0, 1, 1)
      assert.equal(t.encoding, c.name.startsWith('jpeg') ? 'jpeg' : c.name.startsWith('none') ? 'raw' : c.name.split('-')[0])
      await tf.source.close()
    } finally {
      await s.close()
    }
  })
}

test('a SubIFD pyramid (vips --subifd) has the same levels and pixels as the chained one', async () => {
  const chain = join(dir, 'chain.tif')
  const sub = join(dir, 'sub.tif')
  const args = ['--tile', '--pyramid', '--tile-width', '256', '--tile-height', '256', '--compression', 'deflate']
  vips(['tiffsave', join(dir, 'in.png'), chain, ...args])
  vips(['tiffsave', join(dir, 'in.png'), sub, ...args, '--subifd'])
  const a = await openSlide(await FileSource.open(chain))
  const b = await openSlide(await FileSource.open(sub))
  try {
    const tf = await TiffFile.open(await FileSource.open(sub))
    assert.equal(tf.ifds.length, 1, 'levels live in SubIFDs, not the main chain')
    assert.ok((await tf.ifds[0].subIfds()).length >= 2)
    await tf.source.close()
    assert.deepEqual(b.levels, a.levels)
    const l = a.levels.length - 1
    assert.deepEqual((await b.readRegion(l, 0, 0, 50, 40)).data, (await a.readRegion(l, 0, 0, 50, 40)).data)
  } finally {
    await a.close()
    await b.close()
  }
})
