/**
 * A DICOM WSI stored without its low levels (only full resolution, 6144 × 4608: larger than one view can render
 * whole) gets them from the `slide.pyramid` worker like a TIFF-family slide: its smallest level is read through
 * our DICOM reader into a temporary TIFF, libvips builds the levels below, and `SlideServing.served()` then shows
 * the slide with a full pyramid. Level-0 tiles stay the scanner's frames (passed through); zoomed-out Deep Zoom
 * tiles match the original shrunk; the slide served before the job ran still worked at full resolution.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { FileSource } from '@kura/core'
import { openDicomSlide, type Slide } from '@kura/wsi'
import { writeDicomSlide } from '@kura/wsi/synth'
import { psnr } from '../../../wsi/src/testkit.ts'
import { startTestHub, type TestHub } from '../../../../test/support/hub.ts'
import { storeDicomSlide } from './upload.ts'
import { SlideServing } from './serving.ts'

describe('derived pyramid levels for a DICOM WSI', () => {
  let hub: TestHub
  const dir = mkdtempSync(join(tmpdir(), 'kura-dicom-pyramid-'))
  let files: string[] = []
  let id = ''
  let original: Slide
  before(async () => {
    hub = await startTestHub()
    const r = await writeDicomSlide({ width: 6144, height: 4608, seed: 9, out: dir, maxLevels: 1 })
    assert.deepEqual(r.levels.map((l) => [l.width, l.height]), [[6144, 4608]])
    files = r.files.filter((f) => !f.endsWith('label.dcm'))
    original = await openDicomSlide(await Promise.all(files.map((f) => FileSource.open(f))))
    assert.equal((await hub.fetch(`${hub.url}/api/collections`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'wsi' }) })).status, 201)
  })
  after(async () => {
    await original?.close()
    await hub?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('queues the job at store time, serves full resolution meanwhile, then a full pyramid', async () => {
    const c = await hub.archive.catalog.db.selectFrom('collection').select(['id', 'name']).where('name', '=', 'wsi').executeTakeFirstOrThrow()
    const instances = files.map((f) => ({ name: f, path: f, size: statSync(f).size, sha256: createHash('sha256').update(readFileSync(f)).digest('hex') }))
    const stored = await storeDicomSlide(hub.archive, c, instances, { move: false })
    id = stored.row.id
    assert.equal(JSON.parse(stored.row.levels).length, 1)
    await hub.app.jobRunner.idle()
    const job = await hub.archive.jobs.latest(`slide.pyramid:${id}`)
    assert.equal(job?.state, 'done', job?.lastError ?? 'no job was queued')
    const derived = await hub.archive.catalog.db.selectFrom('slide_derivative').selectAll().where('slide_id', '=', id).execute()
    assert.equal(derived.length, 1)

    // A fresh serving layer (another hub process) finds the derived levels through served().
    const served = await new SlideServing(hub.archive).served(id)
    assert.ok(served?.derived_key, 'served() names the derived file')
    const levels = JSON.parse(served!.levels) as Array<{ width: number; height: number; downsample: number }>
    assert.deepEqual(levels.slice(0, 3).map((l) => [l.width, l.height, l.downsample]), [[6144, 4608, 1], [3072, 2304, 2], [1536, 1152, 4]])
    assert.ok(Math.max(levels.at(-1)!.width, levels.at(-1)!.height) <= 256, `down to one tile (${levels.length} levels)`)
  })

  it('serves level-0 frames unchanged and zoomed-out tiles from the derived levels', async () => {
    const info = (await (await hub.fetch(`${hub.url}/slides/${id}`)).json()) as { levels: unknown[]; properties: Record<string, string> }
    assert.ok(info.levels.length >= 6)
    // Deep Zoom level 13 is full resolution (2^13 ≥ 6144): the scanner's own JPEG frame.
    const full = await hub.fetch(`${hub.url}/slides/${id}_files/13/3_2.jpeg`)
    assert.equal(full.status, 200)
    assert.equal(full.headers.get('x-kura-tile'), 'stored')
    assert.equal(Buffer.compare(Buffer.from(await full.arrayBuffer()), Buffer.from((await original.tile(0, 3, 2)).bytes)), 0)
    // Level 9 is 1/16: 384 × 288, tile (1, 0) covers level-0 pixels (4096, 0)–(6144, 4096) → 128 × 256.
    const low = await hub.fetch(`${hub.url}/slides/${id}_files/9/1_0.jpeg`)
    assert.equal(low.status, 200)
    const got = await sharp(Buffer.from(await low.arrayBuffer())).ensureAlpha().raw().toBuffer({ resolveWithObject: true })
    assert.deepEqual([got.info.width, got.info.height], [128, 256])
    const region = await original.readRegion(0, 4096, 0, 2048, 4096)
    const want = await sharp(region.data, { raw: { width: 2048, height: 4096, channels: 4 } }).resize(128, 256, { kernel: 'linear' }).raw().toBuffer()
    const p = psnr(new Uint8Array(got.data), new Uint8Array(want))
    console.log(`derived DICOM WSI tile vs original shrunk: PSNR ${p.toFixed(1)} dB`)
    assert.ok(p >= 28, `PSNR ${p.toFixed(1)} dB against the original shrunk`)
    // The whole slide in one view, rendered from the derived levels (never from 28 megapixels of level 0).
    const thumb = await hub.fetch(`${hub.url}/slides/${id}/thumbnail`)
    assert.equal(thumb.status, 200)
  })
})
