/**
 * One level copied to a tiled TIFF for libvips: a DICOM WSI's YCbCr JPEG frames go in as they are (byte for byte,
 * YCbCrSubsampling from their headers), Aperio's RGB-coded tiles (CMU-1-Small-Region.svs) are re-encoded; libvips
 * reads both with the pixels the reader shows.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { FileSource } from '@kura/core'
import { openDicomSlide, openSlide, type Slide } from '../index.ts'
import { writeDicomSlide } from '../synth/index.ts'
import { CMU_SMALL, psnr } from '../testkit.ts'
import { jpegLayout, writeLevelTiff } from './level-tiff.ts'

const dir = mkdtempSync(join(tmpdir(), 'kura-level-tiff-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))

/** libvips' view of the copy against the reader's view of the level, over a region. */
async function samePixels(slide: Slide, level: number, file: string, x: number, y: number, w: number, h: number): Promise<number> {
  const got = await sharp(file).extract({ left: x, top: y, width: w, height: h }).ensureAlpha().raw().toBuffer()
  const ds = slide.levels[level]!.downsample
  const want = await slide.readRegion(level, Math.round(x * ds), Math.round(y * ds), w, h)
  return psnr(new Uint8Array(got), want.data)
}

test('DICOM WSI frames pass through; libvips reads them as the reader does', async () => {
  const r = await writeDicomSlide({ width: 1536, height: 1024, seed: 5, out: join(dir, 'dcm') })
  const slide = await openDicomSlide(await Promise.all(r.files.map((f) => FileSource.open(f))))
  try {
    const out = join(dir, 'dcm-level1.tiff')
    const res = await writeLevelTiff(slide, 1, out)
    assert.equal(res.passedThrough, true)
    assert.deepEqual([res.width, res.height, res.tiles], [768, 512, 6])
    const copy = await openSlide(await FileSource.open(out))
    try {
      assert.equal(Buffer.compare(Buffer.from((await copy.tile(0, 2, 1)).bytes), Buffer.from((await slide.tile(1, 2, 1)).bytes)), 0, 'the same JPEG frame')
    } finally {
      await copy.close()
    }
    const p = await samePixels(slide, 1, out, 100, 50, 600, 400)
    assert.ok(p >= 40, `PSNR ${p.toFixed(1)} dB`)
  } finally {
    await slide.close()
  }
})

test('Aperio RGB-coded tiles are re-encoded, and still read back as the reader shows them', async () => {
  const slide = await openSlide(await FileSource.open(CMU_SMALL))
  try {
    assert.equal(jpegLayout((await slide.tile(0, 0, 0)).bytes), null, 'an RGB-coded JPEG is not passed through')
    const out = join(dir, 'cmu.tiff')
    const res = await writeLevelTiff(slide, 0, out)
    assert.equal(res.passedThrough, false)
    const p = await samePixels(slide, 0, out, 0, 0, 1024, 1024)
    assert.ok(p >= 35, `PSNR ${p.toFixed(1)} dB after one JPEG q95 re-encode`)
  } finally {
    await slide.close()
  }
})
