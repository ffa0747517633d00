/**
 * DICOM WSI through POST /slides (a ustar archive of the instances, `application/x-tar`) on a real hub: stored
 * as one slide of several objects, served through Deep Zoom, duplicates found by the instance set whatever its
 * order, de-identified collections refusing LABEL/OVERVIEW instances and identifying headers, bad archives
 * refused. Pixels: OpenSlide 3.4 (Debian bookworm's python3-openslide) has no DICOM reader, so the DICOM WSI
 * that OrthancWSIDicomizer makes from a vips pyramid is compared with OpenSlide's Deep Zoom tiles of that TIFF,
 * and our synthetic DICOM WSI with our own reader on the same files.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import sharp from 'sharp'
import { FileSource } from '@kura/core'
import { openDicomSlide, openSlide } from '@kura/wsi'
import { writeDicomSlide } from '@kura/wsi/synth'
import { tarStream } from '../packages/cli/src/slides-import-tar.ts'
import { CMU_SMALL, openslidePy, psnr, rgbDiff, vips } from '../packages/wsi/src/testkit.ts'
import { startTestHub, type TestHub } from './support/hub.ts'

/** What the synthetic DICOM WSI writer puts in PatientName (family names of packages/wsi/src/synth/dicom.ts) and PatientID. */
const SYNTH_IDENTIFIERS = /YAMAMOTO|NAKAMURA|KOBAYASHI|WATANABE|MATSUMOTO|INOUE|KIMURA|HAYASHI|SYN-/

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
const work = mkdtempSync(join(tmpdir(), 'kura-slides-import-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

const filesOf = (dir: string, skip: (name: string) => boolean = () => false) =>
  readdirSync(dir)
    .filter((n) => !skip(n))
    .sort()
    .map((n) => ({ path: join(dir, n), size: statSync(join(dir, n)).size }))

function postTar(hub: TestHub, collection: string, files: { path: string; size: number }[]) {
  return hub.fetch(`${hub.url}/slides?collection=${collection}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-tar' },
    body: Readable.toWeb(Readable.from(tarStream(files))) as ReadableStream,
    duplex: 'half',
  } as RequestInit)
}

async function rgba(bytes: Uint8Array | Buffer) {
  const { data, info } = await sharp(bytes).removeAlpha().ensureAlpha().raw().toBuffer({ resolveWithObject: true })
  return { data: new Uint8Array(data), width: info.width, height: info.height }
}

/** OpenSlide's Deep Zoom tiles (tile 256, no overlap) as RGBA. */
function openslideDzTiles(path: string, tiles: [number, number, number][]) {
  const out = join(work, `dz-${Date.now()}.raw`)
  const sizes = JSON.parse(
    openslidePy(
      `from openslide.deepzoom import DeepZoomGenerator
g = DeepZoomGenerator(openslide.OpenSlide(sys.argv[1]), tile_size=256, overlap=0, limit_bounds=False)
sizes = []
with open(sys.argv[2], 'wb') as f:
    for l, c, r in json.loads(sys.argv[3]):
        t = g.get_tile(l, (c, r)).convert('RGBA')
        sizes.append(t.size)
        f.write(t.tobytes())
print(json.dumps(sizes))`,
      [path, out, JSON.stringify(tiles)],
    ),
  ) as [number, number][]
  const all = readFileSync(out)
  let p = 0
  return sizes.map(([w, h]) => {
    const data = new Uint8Array(all.subarray(p, p + w * h * 4))
    p += w * h * 4
    return { data, width: w, height: h }
  })
}

describe('DICOM WSI through POST /slides (application/x-tar)', () => {
  let hub: TestHub
  const synth = join(work, 'synth')

  before(async () => {
    hub = await startTestHub()
    assert.equal((await hub.fetch(`${hub.url}/api/collections`, json({ name: 'wsi' }))).status, 201)
    assert.equal((await hub.fetch(`${hub.url}/api/collections`, json({ name: 'wsi-clean', deidentified: true }))).status, 201)
    await writeDicomSlide({ width: 1500, height: 1100, out: synth, seed: 7 })
  })
  after(async () => {
    await hub?.close()
  })

  it('stores the instances as one slide; Deep Zoom tiles equal our reader on the same files; a re-send in another order is the same slide', async () => {
    const files = filesOf(synth)
    const res = await postTar(hub, 'wsi', files)
    assert.equal(res.status, 201, await res.clone().text())
    const info = (await res.json()) as { id: string; format: string; width: number; height: number; levels: { width: number }[]; associated: { name: string }[]; size: number }
    assert.equal(info.format, 'dicom-wsi')
    assert.deepEqual([info.width, info.height], [1500, 1100])
    assert.equal(info.levels.length, 4)
    assert.deepEqual(info.associated.map((a) => a.name), ['label'])
    assert.equal(info.size, files.reduce((n, f) => n + f.size, 0))
    const rows = await hub.archive.catalog.db.selectFrom('slide_instance').selectAll().where('slide_id', '=', info.id).execute()
    assert.deepEqual(rows.map((r) => r.flavor).sort(), ['LABEL', 'VOLUME', 'VOLUME', 'VOLUME', 'VOLUME'])
    for (const r of rows) assert.equal(r.object_key, `slides/${r.sha256}`)

    const got = await hub.fetch(`${hub.url}/slides/${info.id}`)
    assert.equal(got.status, 200)
    assert.equal(((await got.json()) as { format: string }).format, 'dicom-wsi')
    const dzi = await (await hub.fetch(`${hub.url}/slides/${info.id}.dzi`)).text()
    assert.match(dzi, /Width="1500" Height="1100"/)

    // Deep Zoom level 11 is full resolution (2^11 ≥ 1500): its tiles are the level-0 frames.
    const ours = await openDicomSlide(await Promise.all(files.map((f) => FileSource.open(f.path))))
    try {
      for (const [col, row] of [[0, 0], [3, 2], [5, 4]] as const) {
        const t = await hub.fetch(`${hub.url}/slides/${info.id}_files/11/${col}_${row}.jpeg`)
        assert.equal(t.status, 200)
        const served = await rgba(Buffer.from(await t.arrayBuffer()))
        const ref = await ours.readRegion(0, col * 256, row * 256, served.width, served.height)
        const d = rgbDiff(served.data, ref.data)
        assert.ok(d.max <= 2, `tile ${col}_${row}: max diff ${d.max}`)
      }
      // A zoomed-out tile (level 1 of the slide, downsample 2), rendered or passed through.
      const t = await hub.fetch(`${hub.url}/slides/${info.id}_files/10/1_1.jpeg`)
      assert.equal(t.status, 200)
      const served = await rgba(Buffer.from(await t.arrayBuffer()))
      const ref = await ours.readRegion(1, 512, 512, served.width, served.height) // level-0 coordinates, as OpenSlide's read_region
      assert.ok(psnr(served.data, ref.data) >= 40, `zoomed-out tile PSNR ${psnr(served.data, ref.data)}`)
    } finally {
      await ours.close()
    }

    const again = await postTar(hub, 'wsi', [...files].reverse())
    assert.equal(again.status, 200)
    assert.equal(((await again.json()) as { id: string }).id, info.id)
  })

  it('a de-identified collection refuses LABEL instances, and headers that fail the receipt check', async () => {
    const withLabel = await postTar(hub, 'wsi-clean', filesOf(synth))
    assert.equal(withLabel.status, 422)
    const e = (await withLabel.json()) as { code: string; message: string }
    assert.equal(e.code, 'SLIDE_IDENTIFYING_IMAGES')
    assert.match(e.message, /LABEL instances/)
    assert.doesNotMatch(e.message, SYNTH_IDENTIFIERS) // never the identifying values
    // Without the label, the synthetic headers still carry a patient name and ID.
    const noLabel = await postTar(hub, 'wsi-clean', filesOf(synth, (n) => n === 'label.dcm'))
    assert.equal(noLabel.status, 422)
    const e2 = (await noLabel.json()) as { code: string; message: string }
    assert.equal(e2.code, 'SLIDE_NOT_DEIDENTIFIED')
    assert.doesNotMatch(e2.message, SYNTH_IDENTIFIERS)
    const n = await hub.archive.catalog.db.selectFrom('slide as s').innerJoin('collection as c', 'c.id', 's.collection_id').select('s.id').where('c.name', '=', 'wsi-clean').execute()
    assert.equal(n.length, 0)
  })

  it('refuses what is not one DICOM WSI: a broken archive, a non-DICOM member, two slides in one archive', async () => {
    const junk = await hub.fetch(`${hub.url}/slides?collection=wsi`, { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: Buffer.alloc(2048, 7) })
    assert.equal(junk.status, 400)
    assert.equal(((await junk.json()) as { code: string }).code, 'SLIDE_BAD_TAR')

    const text = join(work, 'notes.txt')
    writeFileSync(text, 'not an instance')
    const mixed = await postTar(hub, 'wsi', [...filesOf(synth), { path: text, size: statSync(text).size }])
    assert.equal(mixed.status, 422)
    assert.match(((await mixed.json()) as { message: string }).message, /instance-0006\.dcm is not a DICOM instance/)

    const other = join(work, 'synth-other')
    await writeDicomSlide({ width: 300, height: 300, out: other, seed: 8 })
    const two = await postTar(hub, 'wsi', [...filesOf(synth), ...filesOf(other)])
    assert.equal(two.status, 422)
    assert.equal(((await two.json()) as { code: string }).code, 'WSI_DICOM_MIXED_SLIDES')
    assert.equal((await hub.archive.catalog.db.selectFrom('slide').select('id').execute()).length, 1, 'only the first test slide is stored')
  })

  it('OrthancWSIDicomizer output of a vips pyramid: Deep Zoom tiles match OpenSlide on the TIFF it was made from', async () => {
    const tif = join(work, 'cmu.tif')
    vips(['tiffsave', CMU_SMALL, tif, '--tile', '--pyramid', '--compression', 'jpeg', '--tile-width', '256', '--tile-height', '256'])
    const dir = join(work, 'orthanc')
    mkdirSync(dir)
    const r = spawnSync('/usr/bin/OrthancWSIDicomizer', [`--folder=${dir}`, '--compression=jpeg', tif], { encoding: 'utf8' })
    assert.equal(r.status, 0, `OrthancWSIDicomizer failed (apt-get install -y orthanc-wsi): ${r.error?.message ?? r.stderr}`)
    const res = await postTar(hub, 'wsi', filesOf(dir))
    assert.equal(res.status, 201, await res.clone().text())
    const info = (await res.json()) as { id: string; width: number; height: number; format: string }
    assert.equal(info.format, 'dicom-wsi')
    assert.deepEqual([info.width, info.height], [2220, 2967])
    // Full resolution (Deep Zoom level 12), one level down, and the whole slide in one tile (level 8). Below full
    // resolution only tiles at the origin: OpenSlide places level coordinates (x / 2.0003…) a pixel off elsewhere.
    const tiles: [number, number, number][] = [[12, 0, 0], [12, 3, 5], [12, 8, 11], [11, 0, 0], [8, 0, 0]]
    const ref = openslideDzTiles(tif, tiles)
    for (const [i, [l, c, rw]] of tiles.entries()) {
      const t = await hub.fetch(`${hub.url}/slides/${info.id}_files/${l}/${c}_${rw}.jpeg`)
      assert.equal(t.status, 200)
      const served = await rgba(Buffer.from(await t.arrayBuffer()))
      assert.deepEqual([served.width, served.height], [ref[i]!.width, ref[i]!.height], `tile ${l}/${c}_${rw} size`)
      const p = psnr(served.data, ref[i]!.data)
      const kind = t.headers.get('x-kura-tile')
      console.log(`orthanc DICOM WSI via hub, DZ ${l}/${c}_${rw} (${kind}) vs OpenSlide(TIFF): PSNR ${p.toFixed(1)} dB`)
      // A stored frame is the TIFF's tile; a rendered one is resampled by another filter than PIL's and
      // re-encoded (JPEG 90), held to test/slides.test.ts's bar for rendered tiles.
      if (kind === 'stored') assert.ok(p >= 40, `tile ${l}/${c}_${rw}: PSNR ${p}`)
      else assert.ok(p > 30 && rgbDiff(served.data, ref[i]!.data).mean < 6, `rendered tile ${l}/${c}_${rw}: PSNR ${p}`)
    }
    // Inside level 1, against the TIFF's own stored tile (our TIFF reader): the DICOM frame holds the same pixels.
    const tiff = await openSlide(await FileSource.open(tif))
    try {
      const t = await hub.fetch(`${hub.url}/slides/${info.id}_files/11/2_2.jpeg`)
      const served = await rgba(Buffer.from(await t.arrayBuffer()))
      const p = psnr(served.data, (await tiff.tilePixels(1, 2, 2)).data)
      console.log(`orthanc DICOM WSI via hub, DZ 11/2_2 vs the TIFF's level-1 tile: PSNR ${p.toFixed(1)} dB`)
      assert.ok(p >= 40, `tile 11/2_2: PSNR ${p}`)
    } finally {
      await tiff.close()
    }
  })
})
