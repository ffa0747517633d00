/**
 * Slides stored without small levels get them from a queue worker: a single-level TIFF goes in through
 * POST /slides, the `slide.pyramid` job builds the derived levels, and the slide is then served with a full
 * pyramid: the same level-0 tiles (passed through), and zoomed-out Deep Zoom tiles from the derived levels that
 * match the original shrunk. On KURA_TEST_BACKEND=postgres the slide is in S3 and the job copies it out first.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createReadStream, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import sharp from 'sharp'
import { FileSource } from '@kura/core'
import { openSlide } from '@kura/wsi'
import { writeTiffSlide } from '@kura/wsi/synth'
import { rgbDiff } from '../packages/wsi/src/testkit.ts'
import { startTestHub, type TestHub } from './support/hub.ts'

describe('derived pyramid levels through the hub', () => {
  let hub: TestHub
  const dir = mkdtempSync(join(tmpdir(), 'kura-hub-pyramid-'))
  const file = join(dir, 'single.tiff')
  let id: string
  before(async () => {
    hub = await startTestHub()
    await writeTiffSlide(file, { width: 6144, height: 4096, maxLevels: 1, seed: 5 })
    assert.equal((await hub.fetch(`${hub.url}/api/collections`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'path' }) })).status, 201)
  })
  after(async () => {
    await hub?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('stores a single-level slide, and a worker builds its missing levels once', async () => {
    const res = await hub.fetch(`${hub.url}/slides?collection=path`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Readable.toWeb(createReadStream(file)) as ReadableStream, duplex: 'half' } as RequestInit)
    assert.equal(res.status, 201)
    const stored = (await res.json()) as any
    id = stored.id
    assert.equal(stored.levels.length, 1)
    await hub.app.jobRunner.idle()
    const job = await hub.archive.jobs.latest(`slide.pyramid:${id}`)
    assert.equal(job?.state, 'done', job?.lastError ?? '')
    const info = (await (await hub.fetch(`${hub.url}/slides/${id}`)).json()) as any
    assert.deepEqual(info.levels.slice(0, 3).map((l: any) => [l.width, l.height, l.downsample]), [[6144, 4096, 1], [3072, 2048, 2], [1536, 1024, 4]])
    assert.ok(info.levels.length >= 5)
    const derived = await hub.archive.catalog.db.selectFrom('slide_derivative').selectAll().execute()
    assert.equal(derived.length, 1)
  })

  it('serves level-0 tiles unchanged and zoomed-out tiles from the derived levels', async () => {
    const base = await openSlide(await FileSource.open(file))
    try {
      // Deep Zoom level 13 is full resolution (2^13 ≥ 6144): a stored tile, passed through.
      const full = await hub.fetch(`${hub.url}/slides/${id}_files/13/2_3.jpeg`)
      assert.equal(full.status, 200)
      assert.deepEqual(new Uint8Array(await full.arrayBuffer()), (await base.tile(0, 2, 3)).bytes)
      // Level 9 is 1/16: its tile (1,0) covers level-0 pixels (4096, 0)–(6144, 4096) → 128 × 256 px.
      const low = await hub.fetch(`${hub.url}/slides/${id}_files/9/1_0.jpeg`)
      assert.equal(low.status, 200)
      const got = await sharp(Buffer.from(await low.arrayBuffer())).ensureAlpha().raw().toBuffer({ resolveWithObject: true })
      assert.deepEqual([got.info.width, got.info.height], [128, 256])
      const region = await base.readRegion(0, 4096, 0, 2048, 4096)
      const want = await sharp(region.data, { raw: { width: 2048, height: 4096, channels: 4 } }).resize(128, 256, { kernel: 'linear' }).raw().toBuffer()
      const d = rgbDiff(new Uint8Array(got.data), new Uint8Array(want))
      assert.ok(d.mean < 6, `mean difference ${d.mean.toFixed(2)}`)
    } finally {
      await base.close()
    }
  })
})
