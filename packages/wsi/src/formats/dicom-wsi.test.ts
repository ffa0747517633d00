/**
 * DICOM WSI reader against third-party files: OrthancWSIDicomizer (Debian orthanc-wsi) output of the real
 * CMU-1-Small-Region.svs, compared with OpenSlide's read_region of the SVS (OpenSlide 3.4 here has no DICOM
 * reader); our own synthetic writer's output checked frame by frame with pydicom and DCMTK's dcmj2pnm.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { BufferSource, FileSource, isKuraError } from '@kura/core'
import { writeDicom } from '@kura/dicom'
import { openSlide } from '../open.ts'
import type { Slide } from '../reader.ts'
import { writeDicomSlide } from '../synth/dicom.ts'
import { CMU_SMALL, openslideInfo, openslideRegions, PYTHON, psnr, rgbDiff, vips, type Region } from '../testkit.ts'
import { openDicomSlide } from './dicom-wsi.ts'

const DICOMIZER = '/usr/bin/OrthancWSIDicomizer'
const LIBOPENSLIDE = '/usr/lib/x86_64-linux-gnu/libopenslide.so.0'
const work = mkdtempSync(join(tmpdir(), 'kura-dicom-wsi-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

/** Runs OrthancWSIDicomizer into a fresh folder; fails loudly when it is missing (apt-get install -y orthanc-wsi). */
function dicomize(name: string, input: string, args: string[]): string {
  const out = join(work, name)
  spawnSync('mkdir', ['-p', out])
  const r = spawnSync(DICOMIZER, [`--folder=${out}`, ...args, input], { encoding: 'utf8' })
  if (r.error || r.status !== 0) throw new Error(`OrthancWSIDicomizer failed (apt-get install -y orthanc-wsi): ${r.error?.message ?? r.stderr}`)
  return out
}

async function openFolder(dir: string): Promise<Slide> {
  return openDicomSlide(await Promise.all(readdirSync(dir).sort().map((f) => FileSource.open(join(dir, f)))))
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    if (isKuraError(e)) return e.code
    throw e
  }
  return 'no error'
}

const svsRef = openslideInfo(CMU_SMALL)

test('OrthancWSIDicomizer JPEG output of the SVS: same level, tile grid and pixels as the SVS (OpenSlide)', async () => {
  const dir = dicomize('jpeg', CMU_SMALL, ['--compression=jpeg', `--openslide=${LIBOPENSLIDE}`])
  const s = await openFolder(dir)
  const svs = await openSlide(await FileSource.open(CMU_SMALL))
  try {
    assert.equal(s.format, 'dicom-wsi')
    assert.equal(s.levels.length, svsRef.levelCount)
    assert.deepEqual([s.levels[0].width, s.levels[0].height], svsRef.dimensions[0])
    assert.equal(s.levels[0].tileWidth, svs.levels[0].tileWidth)
    assert.equal(s.levels[0].tileHeight, Number(svsRef.properties['openslide.level[0].tile-height']))
    // Orthanc copies the Aperio tiles (RGB JPEG without APP14): pixels must equal our SVS reader's, tile for tile.
    const { tileWidth: tw, tileHeight: th, width, height } = s.levels[0]
    const regions: Region[] = []
    let worst = 0
    for (let row = 0; row * th < height; row++)
      for (let col = 0; col * tw < width; col++) {
        const a = await s.tilePixels(0, col, row)
        const b = await svs.tilePixels(0, col, row)
        worst = Math.max(worst, rgbDiff(a.data, b.data).max)
        if ((row * 7 + col) % 9 === 0) regions.push([0, col * tw, row * th, Math.min(tw, width - col * tw), Math.min(th, height - row * th)])
      }
    assert.equal(worst, 0, 'DICOM frames decode exactly like the SVS tiles they were copied from')
    // Against OpenSlide's read_region of the SVS.
    const ref = openslideRegions(CMU_SMALL, regions)
    const diffs = await Promise.all(regions.map(async (r, i) => rgbDiff((await s.readRegion(...r)).data, ref[i])))
    const mean = diffs.reduce((n, d) => n + d.mean, 0) / diffs.length
    console.log(`orthanc jpeg vs OpenSlide(SVS): ${regions.length} regions, mean abs diff ${mean.toFixed(3)}, max ${Math.max(...diffs.map((d) => d.max))}`)
    assert.ok(mean < 1, `mean abs diff ${mean}`)
    const t = await s.tile(0, 3, 4)
    assert.equal(t.mediaType, 'image/jpeg')
    assert.equal(t.encoding, 'jpeg')
  } finally {
    await s.close()
    await svs.close()
  }
})

test('OrthancWSIDicomizer output of a vips pyramid: five levels, each matching OpenSlide on the TIFF (PSNR ≥ 40 dB)', async () => {
  const tif = join(work, 'cmu-pyramid.tif')
  vips(['tiffsave', CMU_SMALL, tif, '--tile', '--pyramid', '--compression', 'jpeg', '--tile-width', '256', '--tile-height', '256'])
  const ref = openslideInfo(tif)
  const s = await openFolder(dicomize('pyramid', tif, ['--compression=jpeg']))
  try {
    assert.equal(s.levels.length, ref.levelCount)
    assert.ok(s.levels.length >= 4)
    s.levels.forEach((l, i) => {
      assert.deepEqual([l.width, l.height], ref.dimensions[i])
      assert.ok(Math.abs(l.downsample - ref.downsamples[i]) < 1e-9, `level ${i} downsample`)
      assert.equal(l.tileWidth, 256)
    })
    // Level origins only above level 0: OpenSlide places non-integral level coordinates (x / 2.0003…) sub-pixel.
    const regions: Region[] = s.levels.map((l, i) => [i, i === 0 ? 300 : 0, i === 0 ? 400 : 0, Math.min(300, l.width), Math.min(300, l.height)])
    const theirs = openslideRegions(tif, regions)
    for (let i = 0; i < regions.length; i++) {
      const ours = await s.readRegion(...regions[i])
      const p = psnr(ours.data, theirs[i])
      console.log(`orthanc pyramid level ${i} vs OpenSlide(TIFF): PSNR ${p.toFixed(1)} dB, mean abs ${rgbDiff(ours.data, theirs[i]).mean.toFixed(3)}`)
      assert.ok(p >= 40, `level ${i}: PSNR ${p}`)
    }
  } finally {
    await s.close()
  }
})

test('OrthancWSIDicomizer uncompressed output: concatenated instances, native frames served raw', async () => {
  const s = await openFolder(dicomize('none', CMU_SMALL, ['--compression=none', `--openslide=${LIBOPENSLIDE}`]))
  try {
    assert.deepEqual([s.levels[0].width, s.levels[0].height], svsRef.dimensions[0])
    const t = await s.tile(0, 9, 12) // the last tile: in a later concatenation part
    assert.equal(t.encoding, 'raw')
    assert.equal(t.bytes.length, 240 * 240 * 3)
    const regions: Region[] = [[0, 0, 0, 700, 500], [0, 1800, 2500, 420, 467]]
    const ref = openslideRegions(CMU_SMALL, regions)
    for (let i = 0; i < regions.length; i++) {
      const d = rgbDiff((await s.readRegion(...regions[i])).data, ref[i])
      console.log(`orthanc uncompressed vs OpenSlide(SVS) region ${i}: mean abs ${d.mean.toFixed(3)}, max ${d.max}`)
      assert.ok(d.mean < 1, `mean ${d.mean}`)
    }
  } finally {
    await s.close()
  }
})

test('JPEG 2000 frames (OrthancWSIDicomizer --compression=jpeg2000) open but refuse tiles with a clear error', async () => {
  const s = await openFolder(dicomize('j2k', CMU_SMALL, ['--compression=jpeg2000', `--openslide=${LIBOPENSLIDE}`]))
  try {
    assert.deepEqual([s.levels[0].width, s.levels[0].height], svsRef.dimensions[0])
    await assert.rejects(s.tile(0, 0, 0), (e: Error) => isKuraError(e) && e.code === 'WSI_UNSUPPORTED_COMPRESSION' && /JPEG 2000/.test(e.message))
  } finally {
    await s.close()
  }
})

const synthFull = join(work, 'synth-full')
const synthSparse = join(work, 'synth-sparse')
const OMIT = (level: number, col: number, row: number) => level === 0 && col === 2 && row === 1

test('synthetic TILED_FULL: levels, MPP, power and label; every frame equals pydicom\'s and decodes like DCMTK', async () => {
  const res = await writeDicomSlide({ width: 2000, height: 1500, tileSize: 256, seed: 11, out: synthFull })
  const s = await openFolder(synthFull)
  try {
    assert.deepEqual(s.levels.map((l) => [l.width, l.height]), res.levels.map((l) => [l.width, l.height]))
    assert.deepEqual(s.levels.map((l) => l.downsample), [1, 2, 4, 8].map((d, i) => (2000 / res.levels[i].width + 1500 / res.levels[i].height) / 2))
    assert.deepEqual(s.mpp, { x: 0.25, y: 0.25 })
    assert.equal(s.objectivePower, 40)
    assert.equal(s.properties['dicom.DimensionOrganizationType'], 'TILED_FULL')
    const label = await s.associated.get('label')!.read()
    assert.equal(label.mediaType, 'image/jpeg')
    assert.equal((await sharp(label.bytes).metadata()).width, 400)
    // pydicom (a third-party reader) locates frames through the Basic Offset Table: bytes must match ours.
    const level0 = join(synthFull, 'level-0.dcm')
    const frames = JSON.parse(
      spawnSync(PYTHON, ['-c', `import sys, json, hashlib, pydicom
from pydicom.encaps import generate_pixel_data_frame
ds = pydicom.dcmread(sys.argv[1])
print(json.dumps([hashlib.sha256(f).hexdigest() for f in generate_pixel_data_frame(ds.PixelData, int(ds.NumberOfFrames))]))`, level0], { encoding: 'utf8' }).stdout,
    ) as string[]
    const across = Math.ceil(2000 / 256)
    assert.equal(frames.length, across * Math.ceil(1500 / 256))
    const { createHash } = await import('node:crypto')
    for (let i = 0; i < frames.length; i++) {
      const t = await s.tile(0, i % across, Math.floor(i / across))
      assert.equal(createHash('sha256').update(t.bytes).digest('hex'), frames[i], `frame ${i + 1}`)
    }
    // DCMTK decodes frame 12 (YBR_FULL_422 → RGB) like we do.
    const png = join(work, 'f12.png')
    const r = spawnSync('dcmj2pnm', ['+F', '12', '+on', level0, png], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    const theirs = await sharp(readFileSync(png)).ensureAlpha().raw().toBuffer()
    const ours = await s.tilePixels(0, 11 % across, Math.floor(11 / across))
    const d = rgbDiff(ours.data, new Uint8Array(theirs))
    console.log(`synthetic frame 12, ours vs dcmj2pnm: mean abs ${d.mean.toFixed(3)}, max ${d.max}`)
    assert.ok(d.mean < 1.5 && d.max < 40, JSON.stringify(d))
  } finally {
    await s.close()
  }
})

test('synthetic TILED_SPARSE (reversed frame order, one tile left out): same tiles by position, WSI_TILE_MISSING, transparent region', async () => {
  await writeDicomSlide({ width: 2000, height: 1500, tileSize: 256, seed: 11, out: synthSparse, sparse: true, omitTile: OMIT })
  const full = await openFolder(synthFull)
  const sparse = await openFolder(synthSparse)
  try {
    assert.equal(sparse.properties['dicom.DimensionOrganizationType'], 'TILED_SPARSE')
    let compared = 0
    for (let level = 0; level < full.levels.length; level++) {
      const l = full.levels[level]
      for (let row = 0; row * l.tileHeight < l.height; row++)
        for (let col = 0; col * l.tileWidth < l.width; col++) {
          if (OMIT(level, col, row)) continue
          assert.deepEqual((await sparse.tile(level, col, row)).bytes, (await full.tile(level, col, row)).bytes, `level ${level} tile ${col},${row}`)
          compared++
        }
    }
    assert.ok(compared > 50)
    await assert.rejects(sparse.tile(0, 2, 1), (e: Error) => isKuraError(e) && e.code === 'WSI_TILE_MISSING' && /2,1 of level 0/.test(e.message))
    const region = await sparse.readRegion(0, 400, 200, 300, 200) // covers tiles 1..2 × 0..1, including the missing one
    const whole = await full.readRegion(0, 400, 200, 300, 200)
    const at = (px: Uint8Array, x: number, y: number) => Array.from(px.subarray((y * 300 + x) * 4, (y * 300 + x) * 4 + 4))
    assert.deepEqual(at(region.data, 200, 150), [0, 0, 0, 0], 'inside the missing tile (512..767, 256..511) is transparent')
    assert.deepEqual(at(region.data, 10, 10), at(whole.data, 10, 10))
  } finally {
    await full.close()
    await sparse.close()
  }
})

test('openSlide routes a single DICOM WSI instance to this reader', async () => {
  const s = await openSlide(await FileSource.open(join(synthFull, 'level-1.dcm')))
  try {
    assert.equal(s.format, 'dicom-wsi')
    assert.deepEqual([s.levels[0].width, s.levels[0].height], [1000, 750])
  } finally {
    await s.close()
  }
})

test('clear errors: not a WSI, two slides mixed, only a label, truncated frames', async () => {
  const ct = writeDicom({
    dataset: [
      { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
      { tag: 0x00080018, vr: 'UI', value: '2.25.1' },
    ],
  })
  assert.equal(await code(openDicomSlide([new BufferSource(ct)])), 'WSI_DICOM_NOT_WSI')
  const other = join(work, 'synth-other')
  await writeDicomSlide({ width: 600, height: 400, seed: 12, out: other })
  const mixed = [join(synthFull, 'level-0.dcm'), join(other, 'level-0.dcm')]
  assert.equal(await code(openDicomSlide(await Promise.all(mixed.map((p) => FileSource.open(p))))), 'WSI_DICOM_MIXED_SLIDES')
  assert.equal(await code(openDicomSlide([await FileSource.open(join(other, 'label.dcm'))])), 'WSI_DICOM_NOT_WSI')
  // A level cut in the middle of its frames: the header still opens, a frame past the cut says the file ends early.
  const whole = readFileSync(join(synthFull, 'level-0.dcm'))
  const cut = join(work, 'cut.dcm')
  writeFileSync(cut, whole.subarray(0, Math.floor(statSync(join(synthFull, 'level-0.dcm')).size * 0.6)))
  const s = await openDicomSlide([await FileSource.open(cut)])
  try {
    assert.equal(await code(s.tile(0, 7, 5)), 'WSI_TRUNCATED')
  } finally {
    await s.close()
  }
})
