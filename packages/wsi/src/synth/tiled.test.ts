/**
 * Synthetic SVS and BigTIFF writers: each file opens in OpenSlide (python3-openslide) and in our
 * reader with the same levels and properties, tiles decode to the same pixels as read_region,
 * and the label carries the fake identifiers (SVS ImageDescription fields de-identification scrubs).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { FileSource } from '@kura/core'
import { openSlide } from '../open.ts'
import { openslideInfo, openslideRegions, psnr, type Region } from '../testkit.ts'
import { writeSvsSlide, writeTiffSlide } from './index.ts'

let dir: string
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kura-synth-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

for (const kind of ['svs', 'tiff'] as const) {
  test(`${kind}: OpenSlide and our reader agree on levels and tile pixels`, async () => {
    const path = join(dir, `s.${kind}`)
    const write = kind === 'svs' ? writeSvsSlide : writeTiffSlide
    const r = await write(path, { width: 3000, height: 2000, tile: 256, quality: 90, seed: 3, labelText: 'Test Patient 4711' })
    assert.equal(r.levels.length, 3)
    const ref = openslideInfo(path)
    assert.equal(ref.properties['openslide.vendor'], kind === 'svs' ? 'aperio' : 'generic-tiff')
    const s = await openSlide(await FileSource.open(path))
    try {
      assert.equal(s.format, kind === 'svs' ? 'aperio-svs' : 'generic-tiff')
      assert.deepEqual(s.levels.map((l) => [l.width, l.height]), ref.dimensions)
      if (kind === 'svs') {
        assert.equal(s.mpp?.x, Number(ref.properties['openslide.mpp-x']))
        assert.equal(s.properties['aperio.Barcode'], 'Test Patient 4711')
        assert.deepEqual([...s.associated.keys()].sort(), Object.keys(ref.associated).sort())
        assert.deepEqual(Object.keys(ref.associated).sort(), ['label', 'macro', 'thumbnail'])
      } else {
        assert.equal(s.mpp?.x, 0.5) // from XResolution in pixels per centimetre
      }
      const picks: [number, number, number][] = [[0, 0, 0], [0, 11, 7], [1, 2, 1], [2, 1, 1]]
      const regions: Region[] = picks.map(([lv, c, rw]) => {
        const l = s.levels[lv]
        return [lv, c * 256 * l.downsample, rw * 256 * l.downsample, Math.min(256, l.width - c * 256), Math.min(256, l.height - rw * 256)]
      })
      const want = openslideRegions(path, regions)
      for (let i = 0; i < picks.length; i++) {
        const [lv, , , w, h] = regions[i]
        const mine = await s.readRegion(lv, regions[i][1], regions[i][2], w, h)
        const p = psnr(mine.data, want[i])
        assert.ok(p >= 40, `${kind} region ${i}: PSNR ${p}`)
      }
      // The stored tile passes through as a standalone JPEG that decodes on its own.
      const t = await s.tile(0, 1, 1)
      const meta = await sharp(t.bytes).metadata()
      assert.deepEqual([meta.width, meta.height], [256, 256])
    } finally {
      await s.close()
    }
  })
}

test('the same seed writes byte-identical files', async () => {
  const a = join(dir, 'a.svs')
  const b = join(dir, 'b.svs')
  await writeSvsSlide(a, { width: 600, height: 512, seed: 9 })
  await writeSvsSlide(b, { width: 600, height: 512, seed: 9 })
  assert.deepEqual(readFileSync(a), readFileSync(b))
})
