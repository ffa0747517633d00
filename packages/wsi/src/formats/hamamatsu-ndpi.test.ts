/**
 * Hamamatsu NDPI against OpenSlide (python3-openslide) on a synthetic NDPI written by
 * synth/ndpi.ts: levels, MPP and properties, tiles rebuilt from restart intervals vs
 * read_region, the macro, the first-tile time, and corrupt McuStarts.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { BufferSource, FileSource } from '@kura/core'
import { openSlide } from '../open.ts'
import { writeNdpiSlide } from '../synth/ndpi.ts'
import { openslideAssociated, openslideInfo, openslideRegions, psnr, rgbDiff, type OpenSlideInfo, type Region } from '../testkit.ts'
import { parseJpegHeader } from './hamamatsu-ndpi.ts'

let dir: string
let path: string
let ref: OpenSlideInfo

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kura-ndpi-'))
  path = join(dir, 'synthetic.ndpi')
  await writeNdpiSlide(path, { width: 4096, height: 3072, tile: 256, quality: 90, seed: 7, labelText: 'Test Patient 12345' })
  ref = openslideInfo(path)
})
after(() => rmSync(dir, { recursive: true, force: true }))

test('levels, MPP, objective power and hamamatsu.* properties match OpenSlide', async () => {
  const s = await openSlide(await FileSource.open(path))
  try {
    assert.equal(s.format, 'hamamatsu-ndpi')
    // OpenSlide adds levels it makes by libjpeg scaled decoding; the stored ones come first.
    assert.equal(s.levels.length, 4)
    s.levels.forEach((l, i) => {
      assert.deepEqual([l.width, l.height], ref.dimensions[i])
      assert.equal(l.downsample, ref.downsamples[i])
      assert.equal(l.tileWidth, Number(ref.properties[`openslide.level[${i}].tile-width`]))
      assert.equal(l.tileHeight, 256) // 32 restart-interval rows of 8 px stacked into one tile
    })
    assert.equal(s.mpp?.x, Number(ref.properties['openslide.mpp-x']))
    assert.equal(s.mpp?.y, Number(ref.properties['openslide.mpp-y']))
    assert.equal(s.objectivePower, Number(ref.properties['openslide.objective-power']))
    const keys = Object.keys(ref.properties).filter((k) => k.startsWith('hamamatsu.'))
    assert.ok(keys.length >= 6, keys.join())
    for (const k of keys) assert.equal(s.properties[k], ref.properties[k], k)
    assert.equal(s.properties['hamamatsu.Reference'], 'Test Patient 12345')
  } finally {
    await s.close()
  }
})

test('tiles rebuilt from restart intervals show the same pixels as OpenSlide read_region', async () => {
  const s = await openSlide(await FileSource.open(path))
  try {
    const picks: [number, number, number][] = [[0, 0, 0], [0, 5, 3], [0, 15, 11], [1, 7, 5], [2, 3, 2], [3, 1, 1]]
    const regions: Region[] = picks.map(([lv, c, r]) => {
      const l = s.levels[lv]
      const w = Math.min(l.tileWidth, l.width - c * l.tileWidth)
      const h = Math.min(l.tileHeight, l.height - r * l.tileHeight)
      return [lv, c * l.tileWidth * l.downsample, r * l.tileHeight * l.downsample, w, h]
    })
    const want = openslideRegions(path, regions)
    for (let i = 0; i < picks.length; i++) {
      const [lv, c, r] = picks[i]
      const t = await s.tile(lv, c, r)
      assert.equal(t.encoding, 'jpeg')
      const { data, info } = await sharp(t.bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true })
      assert.deepEqual([info.width, info.height], [regions[i][3], regions[i][4]])
      const d = rgbDiff(new Uint8Array(data), want[i])
      console.log(`level ${lv} tile ${c},${r}: PSNR ${psnr(new Uint8Array(data), want[i]).toFixed(1)} dB, max |Δ| ${d.max}`)
      assert.ok(psnr(new Uint8Array(data), want[i]) >= 40, `tile ${lv}/${c},${r}`)
    }
    // readRegion across tile boundaries, level 1, in level-0 coordinates.
    const region: Region = [1, 900, 700, 300, 280]
    const mine = await s.readRegion(1, 900, 700, 300, 280)
    assert.ok(psnr(mine.data, openslideRegions(path, [region])[0]) >= 40)
  } finally {
    await s.close()
  }
})

test('macro image matches OpenSlide (passed through as the stored JPEG)', async () => {
  const s = await openSlide(await FileSource.open(path))
  try {
    assert.deepEqual([...s.associated.keys()], Object.keys(ref.associated))
    const m = s.associated.get('macro')!
    assert.deepEqual([m.width, m.height], ref.associated.macro)
    const f = await m.read()
    assert.equal(f.mediaType, 'image/jpeg')
    const { data } = await sharp(f.bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true })
    assert.ok(rgbDiff(new Uint8Array(data), openslideAssociated(path, 'macro')).mean < 1)
  } finally {
    await s.close()
  }
})

test('first tile of a freshly opened slide in ≤ 100 ms (open included)', async () => {
  const t0 = performance.now()
  const s = await openSlide(await FileSource.open(path))
  const t = await s.tile(0, 8, 6)
  const ms = performance.now() - t0
  await s.close()
  console.log(`NDPI open + first tile: ${ms.toFixed(1)} ms (${t.bytes.length} bytes)`)
  assert.ok(ms <= 100, `${ms} ms`)
})

test('truncated files, non-JPEG headers and tiles outside the grid give clear errors', async () => {
  const bytes = new Uint8Array(readFileSync(path))
  // Truncated: the level strips run past the end.
  await assert.rejects(openSlide(new BufferSource(bytes.subarray(0, bytes.length - 200_000))), (e: { code?: string }) => /^WSI_/.test(e.code ?? ''))
  // A header that is not JPEG.
  assert.throws(() => parseJpegHeader(Uint8Array.of(1, 2, 3, 4)), /SOI/)
  const bad = join(dir, 'bad.ndpi')
  writeFileSync(bad, bytes)
  const s = await openSlide(await FileSource.open(bad))
  await assert.rejects(s.tile(0, 99, 0), /outside/)
  await s.close()
})
