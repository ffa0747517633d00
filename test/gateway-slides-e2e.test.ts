/**
 * Slides end to end through the site gateway: synthetic SVS, NDPI, tiled BigTIFF and DICOM WSI slides with fake
 * identifiers on their labels (and in their text) are dropped into a scanner folder (one written slowly, piece
 * by piece, to show a half-written slide is not taken), de-identified and verified on the gateway, uploaded with
 * the tus client over a link that breaks twice mid-upload (the upload continues from the hub's offset), and stored
 * by the hub as slides of a de-identified collection. The hub serves their tiles (the
 * scanner's own bytes, passed through), no fake identifier survives anywhere in the hub's stored objects or
 * catalog, no label or macro image is left, and a slide that cannot be verified clean stays quarantined on site
 * with its reason and never reaches the hub. A restart takes nothing again.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { appendFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileSource } from '@kura/core'
import { getString, readDicom } from '@kura/dicom'
import { writeSecretFile } from '@kura/deid'
import { setCollectionDeidentified } from '@kura/hub'
import { openDicomSlide, openSlide, TiffFile, type Slide } from '@kura/wsi'
import { writeDicomSlide, writeNdpiSlide, writeSvsSlide, writeTiffSlide } from '@kura/wsi/synth'
import { appendDirs, rgbEntries } from '../packages/deid/src/slides/testkit.ts'
import { startTestHub, type TestHub } from './support/hub.ts'
import { cuttingProxy, until } from './support/network.ts'
import { parseGatewayConfig, type GatewayConfig } from '../packages/gateway/src/config/index.ts'
import { startGateway, type Gateway } from '../packages/gateway/src/gateway.ts'

const COLLECTION = 'slides-e2e'
const size = { width: 2048, height: 1536, tile: 256, threads: 2 }

/** Fake identifiers per slide; each is written into the slide's label (pixels) and text where the format has text. */
const ids = {
  svs: 'KFAKE-SVS-48151 SATO^HANAKO',
  ndpi: 'KFAKE-NDPI-62342 SUZUKI^ICHIRO',
  tiff: 'KFAKE-TIFF-77120 TANAKA^JIRO',
  bad: 'KFAKE-BAD-90210 ITO^SABURO',
}

/** `file` with one more directory linked at the end of its IFD chain (a BigTIFF as writeTiffSlide writes). */
async function appendImage(file: string, description: string | null): Promise<void> {
  const base = new Uint8Array(readFileSync(file))
  const src = await FileSource.open(file)
  const tiff = await TiffFile.open(src)
  const last = tiff.ifds[tiff.ifds.length - 1]!
  await src.close()
  const dv = new DataView(base.buffer, base.byteOffset)
  const n = Number(dv.getBigUint64(last.offset, true))
  const pixels = new Uint8Array(8 * 8 * 3).fill(200)
  const extra = description ? [{ tag: 270, type: 2 as const, value: description }] : []
  writeFileSync(file, appendDirs(base, true, true, last.offset + 8 + n * 20, [{ tiled: false, chunks: [pixels], entries: rgbEntries(8, 8, null, extra) }]))
}

/** `needles` (latin1 and UTF-8) found in a stream, read piece by piece with an overlap so no match is split. */
async function scanStream(name: string, chunks: AsyncIterable<Buffer>, needles: readonly string[]): Promise<string[]> {
  const pats = [...new Set(needles.flatMap((n) => [Buffer.from(n, 'utf8'), Buffer.from(n, 'latin1')]).map((b) => b.toString('hex')))].map((h) => Buffer.from(h, 'hex'))
  const keep = Math.max(...pats.map((p) => p.length)) - 1
  const hits = new Set<string>()
  let tail = Buffer.alloc(0)
  for await (const c of chunks) {
    const view = Buffer.concat([tail, c])
    for (const p of pats) if (view.indexOf(p) >= 0) hits.add(`${name}: ${p.toString('latin1')}`)
    tail = view.subarray(Math.max(0, view.length - keep))
  }
  return [...hits]
}

function walkFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walkFiles(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []))
}

describe('slides: scanner folder → gateway → hub', () => {
  let hub: TestHub
  let root: string
  let config: GatewayConfig
  let gw: Gateway | null = null
  let proxy: Awaited<ReturnType<typeof cuttingProxy>>
  const drop = () => join(root, 'scanner')
  const stage = () => join(root, 'stage')
  /** Every identifier that must not reach the hub (DICOM header values are read from the files written). */
  const needles: string[] = Object.values(ids)
  const originals = new Map<string, () => Promise<Slide>>()

  before(async () => {
    hub = await startTestHub()
    root = mkdtempSync(join(tmpdir(), 'kura-gw-slides-'))
    mkdirSync(drop())
    mkdirSync(stage())
    writeFileSync(join(root, 'token'), hub.adminToken + '\n', { mode: 0o600 })
    writeSecretFile(join(root, 'secret.key'))
    assert.equal((await hub.fetch(`${hub.url}/api/collections`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: COLLECTION }) })).status, 201)
    // A de-identified collection: the hub's own receipt checks refuse label images and identifying DICOM headers too.
    await setCollectionDeidentified(hub.archive.catalog.db, COLLECTION, true)
    // The link to the hub breaks twice mid-upload: uploads continue from the hub's offset.
    proxy = await cuttingProxy(Number(new URL(hub.url).port), 150_000, 2)
    config = parseGatewayConfig({
      site: 'path-lab',
      hub: { url: proxy.url, tokenFile: 'token' },
      collection: COLLECTION,
      deid: { policy: 'basic', secretFile: 'secret.key' },
      spool: 'spool',
      sources: { slides: [{ path: 'scanner', settleSeconds: 1 }] },
      limits: { chunkBytes: '64KiB', minFreeDiskBytes: 0 },
      status: { port: 0 },
    }, join(root, 'gateway.yaml'))
  })

  after(async () => {
    await gw?.stop()
    await proxy?.close()
    await hub?.close()
    if (!process.env.KEEP) rmSync(root, { recursive: true, force: true })
  })

  const rows = () => gw!.outbox.db.prepare('SELECT * FROM objects WHERE kind = \'slide\' ORDER BY source_ref').all() as Array<{ id: string; source_ref: string; state: string; outcome: string | null; last_error: string | null; input_sha256: string; input_bytes: number }>

  it('takes settled slides only, de-identifies them on site, and the hub stores and serves them', async () => {
    // Written elsewhere, then moved in whole (what most scanners do) ...
    await writeSvsSlide(join(stage(), 'case-1.svs'), { ...size, seed: 1, labelText: ids.svs })
    await writeNdpiSlide(join(stage(), 'case-2.ndpi'), { ...size, seed: 2, labelText: ids.ndpi })
    await writeTiffSlide(join(stage(), 'case-3.tif'), { ...size, seed: 3 })
    await appendImage(join(stage(), 'case-3.tif'), `Label Image ${ids.tiff}`)
    // ... except one with an image no rule places (it may be a label): it cannot be verified clean.
    await writeTiffSlide(join(stage(), 'case-5.tif'), { ...size, seed: 5 })
    await appendImage(join(stage(), 'case-5.tif'), null)
    appendFileSync(join(stage(), 'case-5.tif'), ids.bad)
    const dcm = await writeDicomSlide({ width: 2048, height: 2048, seed: 4, out: join(stage(), 'case-4'), label: 'KFAKE-DCM-31337\nYAMADA TARO' })
    needles.push('KFAKE-DCM-31337')
    for (const f of dcm.files) {
      const src = await FileSource.open(f)
      try {
        const ds = (await readDicom(src, { untilTag: 0x00400513 })).dataset
        for (const tag of [0x00100010, 0x00100020, 0x00080050, 0x00400512]) {
          const v = (getString(ds, tag) ?? '').trim()
          if (v.length >= 5) needles.push(v)
        }
      } finally {
        await src.close()
      }
    }
    assert.ok(needles.length >= 8, `identifiers to look for: ${needles.length}`)
    originals.set('case-1.svs', async () => openSlide(await FileSource.open(join(stage(), 'case-1.svs'))))
    originals.set('case-2.ndpi', async () => openSlide(await FileSource.open(join(stage(), 'case-2.ndpi'))))
    originals.set('case-3.tif', async () => openSlide(await FileSource.open(join(stage(), 'case-3.tif'))))
    originals.set('case-4', async () => openDicomSlide(await Promise.all(dcm.files.map((f) => FileSource.open(f)))))

    gw = await startGateway(config, { pollMs: 100, backoffMs: 200 })
    // The SVS arrives slowly, in pieces 300 ms apart: never taken before it is whole and settled.
    const svs = readFileSync(join(stage(), 'case-1.svs'))
    const pieces = 6
    for (let i = 0; i < pieces; i++) {
      appendFileSync(join(drop(), 'case-1.svs'), svs.subarray(Math.floor((i * svs.length) / pieces), Math.floor(((i + 1) * svs.length) / pieces)))
      await new Promise((r) => setTimeout(r, 300))
      assert.equal(rows().length, 0, 'a slide still being written is not taken')
    }
    for (const n of ['case-2.ndpi', 'case-3.tif', 'case-5.tif']) writeFileSync(join(drop(), n), readFileSync(join(stage(), n)))
    mkdirSync(join(drop(), 'case-4'))
    for (const f of readdirSync(join(stage(), 'case-4'))) writeFileSync(join(drop(), 'case-4', f), readFileSync(join(stage(), 'case-4', f)))

    await until('every slide delivered or quarantined', () => rows().length === 5 && rows().every((r) => r.state === 'confirmed' || r.state === 'quarantined' || r.state === 'failed'), 120_000)
    const byName = new Map(rows().map((r) => [r.source_ref.slice(drop().length + 1), r]))
    for (const n of ['case-1.svs', 'case-2.ndpi', 'case-3.tif', 'case-4']) assert.equal(byName.get(n)?.state, 'confirmed', `${n}: ${byName.get(n)?.last_error}`)
    assert.equal(proxy.cut(), 2, 'the link broke twice')
    assert.ok(gw.slides[0]!.resumes >= 1, 'an interrupted upload continued from the hub\'s offset')
    const whole = createHash('sha256').update(`${createHash('sha256').update(svs).digest('hex')}\n`).digest('hex')
    assert.equal(byName.get('case-1.svs')!.input_sha256, whole, 'the slide taken is the whole file')

    const bad = byName.get('case-5.tif')!
    assert.equal(bad.state, 'quarantined')
    assert.match(bad.last_error ?? '', /DEID_SLIDE_UNKNOWN_IMAGE/)
    const reason = JSON.parse(readFileSync(join(root, 'spool', 'quarantine', bad.id, 'reason.json'), 'utf8'))
    assert.match(reason.reason, /not a pyramid level and not a known associated image/)
    assert.ok(!JSON.stringify(reason).includes(ids.bad), 'the reason holds no identifying value')

    const status = gw.status()
    const counts = status.sources.find((s) => s.source.startsWith('slides:'))
    assert.equal(counts?.states.confirmed?.count, 4)
    assert.equal(counts?.states.quarantined?.count, 1)
    // The row is confirmed first, then the file removed (a crash in between leaves a file recovery removes).
    const [own] = readdirSync(join(root, 'spool', 'slides'))
    await until('delivered slides leave the spool', () => readdirSync(join(root, 'spool', 'slides', own!, 'clean')).length === 0, 10_000)
    assert.deepEqual(readdirSync(join(root, 'spool', 'slides', own!, 'incoming')), [])
  })

  it('serves every slide\'s tiles as the scanner stored them, without label or macro images', async () => {
    const listed = (await (await hub.fetch(`${hub.url}/slides?collection=${COLLECTION}`)).json()) as Array<{ id: string; format: string; width: number; height: number; associated: Array<{ name: string }> }>
    assert.equal(listed.length, 4, 'the quarantined slide is not on the hub')
    assert.deepEqual(listed.map((s) => s.format).sort(), ['aperio-svs', 'dicom-wsi', 'generic-tiff', 'hamamatsu-ndpi'])
    const byFormat = new Map(listed.map((s) => [s.format, s]))
    const which: Record<string, string> = { 'aperio-svs': 'case-1.svs', 'hamamatsu-ndpi': 'case-2.ndpi', 'generic-tiff': 'case-3.tif', 'dicom-wsi': 'case-4' }
    for (const [format, name] of Object.entries(which)) {
      const s = byFormat.get(format)!
      assert.deepEqual(s.associated.map((a) => a.name).filter((n) => n === 'label' || n === 'macro'), [], `${format}: no label or macro`)
      assert.equal((await hub.fetch(`${hub.url}/slides/${s.id}/associated/label`)).status, 404)
      const dzi = await hub.fetch(`${hub.url}/slides/${s.id}.dzi`)
      assert.equal(dzi.status, 200)
      // Deep Zoom's full-resolution level is ceil(log2(max side)); its tile (1, 1) is level 0's tile (1, 1).
      const top = Math.ceil(Math.log2(Math.max(s.width, s.height)))
      const res = await hub.fetch(`${hub.url}/slides/${s.id}_files/${top}/1_1.jpeg`)
      assert.equal(res.status, 200, `${format} tile`)
      const orig = await originals.get(name)!()
      try {
        const served = new Uint8Array(await res.arrayBuffer())
        const stored = (await orig.tile(0, 1, 1)).bytes
        if (res.headers.get('x-kura-tile') === 'stored') assert.ok(Buffer.compare(Buffer.from(served), Buffer.from(stored)) === 0, `${format}: the stored tile, passed through (${served.length} vs ${stored.length} bytes)`)
        else assert.ok(served.length > 100 && served[0] === 0xff && served[1] === 0xd8, `${format}: a JPEG tile`)
      } finally {
        await orig.close()
      }
    }
  })

  it('leaves no fake identifier in the hub\'s stored objects or catalog', async () => {
    // Every stored object (filesystem or S3, whichever backend this run tests), and whatever else the data folder holds.
    const hits: string[] = []
    let objects = 0
    let largest = 0
    for await (const o of hub.archive.objects.list('')) {
      objects++
      largest = Math.max(largest, o.size)
      hits.push(...(await scanStream(o.key, (await hub.archive.objects.get(o.key)) as AsyncIterable<Buffer>, needles)))
    }
    for (const f of walkFiles(hub.env.config.dataDir)) hits.push(...(await scanStream(f, createReadStream(f) as AsyncIterable<Buffer>, needles)))
    assert.deepEqual(hits, [])
    // The scan read the slides, not an empty store: SVS, NDPI, TIFF and the DICOM WSI's instances.
    assert.ok(objects >= 7 && largest > 100_000, `${objects} objects, largest ${largest} bytes`)
    const db = hub.archive.catalog.db
    const catalog = JSON.stringify([await db.selectFrom('slide').selectAll().execute(), await db.selectFrom('slide_instance').selectAll().execute(), await db.selectFrom('upload').selectAll().execute()])
    for (const n of needles) assert.ok(!catalog.includes(n), `the catalog holds no "${n.slice(0, 6)}…"`)
  })

  it('a gateway stopped mid-upload continues the same upload after its restart', async () => {
    await gw!.stop()
    // Slow enough (200 kB/s, after at most a second's burst) to stop it part-way through a 1.1 MB slide.
    const slow = { ...config, limits: { ...config.limits, bandwidthBytesPerSec: 200_000 } }
    gw = await startGateway(slow, { pollMs: 100, backoffMs: 200 })
    await writeTiffSlide(join(stage(), 'case-6.tif'), { width: 4096, height: 4096, tile: 256, threads: 2, seed: 6 })
    writeFileSync(join(drop(), 'case-6.tif'), readFileSync(join(stage(), 'case-6.tif')))
    const db = hub.archive.catalog.db
    const partway = async () => (await db.selectFrom('upload').select(['upload_offset', 'upload_length']).where('state', '=', 'receiving').execute()).some((u) => Number(u.upload_offset) > 0 && Number(u.upload_offset) < Number(u.upload_length))
    await until('the upload part-way', partway, 60_000, async () => ({ rows: rows().filter((r) => r.source_ref.endsWith('case-6.tif')), uploads: await db.selectFrom('upload').select(['state', 'upload_offset', 'upload_length']).execute() }))
    await gw!.stop()
    const uploadsBefore = (await db.selectFrom('upload').select('id').execute()).length
    gw = await startGateway(config, { pollMs: 100, backoffMs: 200 })
    await until('the slide delivered', () => rows().some((r) => r.source_ref.endsWith('case-6.tif') && r.state === 'confirmed'), 120_000)
    assert.ok(gw.slides[0]!.resumes >= 1, 'the restarted gateway continued from the hub\'s offset')
    assert.equal((await db.selectFrom('upload').select('id').execute()).length, uploadsBefore, 'no new upload was created for it')
    const listed = (await (await hub.fetch(`${hub.url}/slides?collection=${COLLECTION}`)).json()) as unknown[]
    assert.equal(listed.length, 5)
  })

  it('takes nothing again after a restart', async () => {
    const before = rows().length
    await gw!.stop()
    gw = await startGateway(config, { pollMs: 100, backoffMs: 200 })
    await new Promise((r) => setTimeout(r, 2500)) // longer than settleSeconds: everything there has settled
    await gw.slides[0]!.idle()
    assert.equal(rows().length, before)
    assert.equal(gw.slides[0]!.taken, 0)
  })
})
