/**
 * Slide serving end to end: a real hub stores an Aperio SVS through POST /slides (streamed), and
 * serves it through Deep Zoom and IIIF. Passed-through tiles must be the stored bytes exactly;
 * rendered ones are compared with OpenSlide (Debian python3-openslide): DeepZoomGenerator for
 * Deep Zoom tiles, read_region + resize for IIIF regions. On KURA_TEST_BACKEND=postgres the
 * slide sits in S3 and every read is a range GET.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import sharp from 'sharp'
import { FileSource } from '@kura/core'
import { openSlide, type Slide } from '@kura/wsi'
import { createToken } from '@kura/hub'
import { CMU_SMALL, openslidePy, psnr, rgbDiff, vips } from '../packages/wsi/src/testkit.ts'
import { startTestHub, type TestHub } from './support/hub.ts'

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

/** The file as a streamed request body (never read whole into memory here either). */
function upload(f: typeof fetch, url: string, path: string) {
  return f(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Readable.toWeb(createReadStream(path)) as ReadableStream, duplex: 'half' } as RequestInit)
}

async function rgb(bytes: Uint8Array | Buffer, resizeTo?: { width: number; height: number }) {
  let img = sharp(bytes).removeAlpha()
  if (resizeTo) img = img.resize(resizeTo.width, resizeTo.height, { fit: 'fill', kernel: 'lanczos3' })
  const { data, info } = await img.ensureAlpha().raw().toBuffer({ resolveWithObject: true })
  return { data: new Uint8Array(data), width: info.width, height: info.height }
}

/** OpenSlide's Deep Zoom tiles as RGBA, with their sizes. */
function openslideDzTiles(path: string, tileSize: number, tiles: [number, number, number][]) {
  const dir = mkdtempSync(join(tmpdir(), 'kura-dz-'))
  try {
    const out = join(dir, 't.raw')
    const sizes = JSON.parse(
      openslidePy(
        `from openslide.deepzoom import DeepZoomGenerator
g = DeepZoomGenerator(openslide.OpenSlide(sys.argv[1]), tile_size=int(sys.argv[3]), overlap=0, limit_bounds=False)
sizes = []
with open(sys.argv[2], 'wb') as f:
    for l, c, r in json.loads(sys.argv[4]):
        t = g.get_tile(l, (c, r)).convert('RGBA')
        sizes.append(t.size)
        f.write(t.tobytes())
print(json.dumps(sizes))`,
        [path, out, String(tileSize), JSON.stringify(tiles)],
      ),
    ) as [number, number][]
    const all = readFileSync(out)
    let p = 0
    return sizes.map(([w, h]) => {
      const data = new Uint8Array(all.subarray(p, p + w * h * 4))
      p += w * h * 4
      return { data, width: w, height: h }
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** OpenSlide read_region at level 0, resized with LANCZOS (PIL), as RGBA. */
function openslideRegionResized(path: string, x: number, y: number, w: number, h: number, outW: number, outH: number): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'kura-rr-'))
  try {
    const out = join(dir, 'r.raw')
    openslidePy(
      `from PIL import Image
s = openslide.OpenSlide(sys.argv[1])
x, y, w, h, ow, oh = json.loads(sys.argv[3])
r = s.read_region((x, y), 0, (w, h))
bg = Image.new('RGB', r.size, (255, 255, 255))
bg.paste(r, mask=r)
open(sys.argv[2], 'wb').write(bg.resize((ow, oh), Image.LANCZOS).convert('RGBA').tobytes())`,
      [path, out, JSON.stringify([x, y, w, h, outW, outH])],
    )
    return new Uint8Array(readFileSync(out))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function rate(n: number, concurrency: number, one: (i: number) => Promise<void>): Promise<number> {
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await one(next++)
    }),
  )
  return n / ((performance.now() - t0) / 1000)
}

describe('slide serving (hub)', () => {
  let hub: TestHub
  let slide: Slide
  let id: string
  let researcherOther: string
  let researcherSame: string

  before(async () => {
    hub = await startTestHub()
    for (const name of ['pathology', 'other']) assert.equal((await hub.fetch(`${hub.url}/api/collections`, json({ name }))).status, 201)
    const user = async (username: string, collection: string) => {
      const u = (await (await hub.fetch(`${hub.url}/api/users`, json({ username }))).json()) as any
      assert.equal((await hub.fetch(`${hub.url}/api/grants`, json({ userId: u.user.id, role: 'researcher', collection }))).status, 201)
      return (await createToken(hub.archive.catalog.db, { userId: u.user.id, name: 't', role: 'researcher', collection })).token
    }
    researcherOther = await user('r-other', 'other')
    researcherSame = await user('r-path', 'pathology')
    slide = await openSlide(await FileSource.open(CMU_SMALL))
  })
  after(async () => {
    await slide?.close()
    await hub?.close()
  })

  it('stores a slide from a streamed body, once', async () => {
    const res = await upload(hub.fetch, `${hub.url}/slides?collection=pathology`, CMU_SMALL)
    const body = (await res.json()) as any
    assert.equal(res.status, 201, JSON.stringify(body))
    id = body.id
    assert.equal(body.collection, 'pathology')
    assert.equal(body.format, 'aperio-svs')
    assert.deepEqual([body.width, body.height], [2220, 2967])
    assert.deepEqual(body.levels, [{ width: 2220, height: 2967, tileWidth: 240, tileHeight: 240, downsample: 1 }])
    assert.deepEqual(body.mpp, { x: 0.499, y: 0.499 })
    assert.equal(body.objectivePower, 20)
    assert.deepEqual(body.associated.map((a: any) => a.name).sort(), ['label', 'macro', 'thumbnail'])

    const again = await upload(hub.fetch, `${hub.url}/slides?collection=pathology`, CMU_SMALL)
    assert.equal(again.status, 200)
    assert.equal(((await again.json()) as any).id, id)

    const got = (await (await hub.fetch(`${hub.url}/slides/${id}`)).json()) as any
    assert.equal(got.id, id)
    assert.equal(got.properties['aperio.AppMag'], '20')
    const list = (await (await hub.fetch(`${hub.url}/slides?collection=pathology`)).json()) as any[]
    assert.deepEqual(list.map((s) => s.id), [id])
  })

  it('refuses files that are not slides with the reader’s reason, storing nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kura-notslide-'))
    try {
      writeFileSync(join(dir, 'notes.txt'), 'not a slide at all\n'.repeat(100))
      writeFileSync(join(dir, 'truncated.svs'), readFileSync(CMU_SMALL).subarray(0, 200_000))
      const text = await upload(hub.fetch, `${hub.url}/slides?collection=pathology`, join(dir, 'notes.txt'))
      const tb = (await text.json()) as any
      assert.equal(text.status, 415, JSON.stringify(tb))
      assert.equal(tb.code, 'WSI_UNKNOWN_FORMAT')
      assert.match(tb.message, /Nothing was stored/)
      const cut = await upload(hub.fetch, `${hub.url}/slides?collection=pathology`, join(dir, 'truncated.svs'))
      const cb = (await cut.json()) as any
      assert.ok(cut.status === 422 || cut.status === 415, `${cut.status} ${JSON.stringify(cb)}`)
      assert.match(cb.code, /^WSI_/)
      const missing = await upload(hub.fetch, `${hub.url}/slides?collection=nope`, join(dir, 'notes.txt'))
      assert.equal(missing.status, 404)
      // A de-identified collection refuses a slide whose label and macro may show the patient.
      assert.equal((await hub.fetch(`${hub.url}/api/collections`, json({ name: 'clean-path', deidentified: true }))).status, 201)
      const labelled = await upload(hub.fetch, `${hub.url}/slides?collection=clean-path`, CMU_SMALL)
      const lb = (await labelled.json()) as any
      assert.equal(labelled.status, 422, JSON.stringify(lb))
      assert.equal(lb.code, 'SLIDE_IDENTIFYING_IMAGES')
      assert.match(lb.message, /label and a macro/)
      const keys: string[] = []
      for await (const o of hub.archive.objects.list('slides/')) keys.push(o.key)
      assert.equal(keys.length, 1, keys.join())
      assert.equal((await hub.archive.catalog.db.selectFrom('slide').select('id').execute()).length, 1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('serves Deep Zoom: stored tiles byte for byte, the rest as OpenSlide renders them', async () => {
    const dziRes = await hub.fetch(`${hub.url}/slides/${id}.dzi`)
    assert.equal(dziRes.status, 200)
    const dzi = await dziRes.text()
    assert.match(dzi, /TileSize="240"/)
    assert.match(dzi, /Overlap="0"/)
    assert.match(dzi, /<Size Width="2220" Height="2967"\/>/)
    const max = Math.ceil(Math.log2(2967))

    const stored = await hub.fetch(`${hub.url}/slides/${id}_files/${max}/1_2.jpeg`)
    assert.equal(stored.status, 200)
    assert.equal(stored.headers.get('x-kura-tile'), 'stored')
    assert.equal(stored.headers.get('content-type'), 'image/jpeg')
    assert.ok(Buffer.from(await stored.arrayBuffer()).equals(Buffer.from((await slide.tile(0, 1, 2)).bytes)), 'pass-through tile is the stored tile')

    const tiles: [number, number, number][] = [[max, 9, 12], [max, 9, 0], [max - 1, 0, 0], [max - 1, 2, 3], [max - 2, 1, 1], [max - 4, 0, 0], [0, 0, 0]]
    const ref = openslideDzTiles(CMU_SMALL, 240, tiles)
    for (const [i, [l, c, r]] of tiles.entries()) {
      const res = await hub.fetch(`${hub.url}/slides/${id}_files/${l}/${c}_${r}.jpeg`)
      assert.equal(res.status, 200, `${l}/${c}_${r}`)
      assert.equal(res.headers.get('x-kura-tile'), 'rendered')
      const bytes = Buffer.from(await res.arrayBuffer())
      const want = ref[i]!
      const ours = await rgb(bytes)
      // PIL's thumbnail() may round one side a pixel differently; compare at OpenSlide's size then.
      assert.ok(Math.abs(ours.width - want.width) <= 1 && Math.abs(ours.height - want.height) <= 1, `${l}/${c}_${r}: ${ours.width}×${ours.height} vs ${want.width}×${want.height}`)
      const cmp = ours.width === want.width && ours.height === want.height ? ours : await rgb(bytes, want)
      // Re-encoded at JPEG quality 90 (4:2:0): on this dense tissue that alone costs a mean of about 4.
      const d = rgbDiff(cmp.data, want.data)
      const p = psnr(cmp.data, want.data)
      assert.ok(d.mean < 6 && p > 30, `${l}/${c}_${r}: mean abs difference ${d.mean.toFixed(2)}, PSNR ${p.toFixed(1)} dB`)
    }
    assert.equal((await hub.fetch(`${hub.url}/slides/${id}_files/${max}/10/0.jpeg`)).status, 404)
    assert.equal((await hub.fetch(`${hub.url}/slides/${id}_files/${max + 1}/0/0.jpeg`)).status, 404)
    assert.equal((await hub.fetch(`${hub.url}/slides/${id}_files/${max}/x_0.jpeg`)).status, 400)
  })

  it('serves IIIF Image API 3.0 level 1', async () => {
    const res = await hub.fetch(`${hub.url}/iiif/${id}/info.json`)
    assert.equal(res.status, 200)
    const info = (await res.json()) as any
    assert.equal(info['@context'], 'http://iiif.io/api/image/3/context.json')
    assert.equal(info.id, `${hub.url}/iiif/${id}`)
    assert.equal(info.type, 'ImageService3')
    assert.equal(info.protocol, 'http://iiif.io/api/image')
    assert.equal(info.profile, 'level1')
    assert.deepEqual([info.width, info.height], [2220, 2967])
    assert.deepEqual(info.tiles, [{ width: 240, height: 240, scaleFactors: [1, 2, 4, 8, 16] }])
    assert.ok(info.sizes.length >= 1)

    // One stored tile at a stored scale, as OpenSeadragon's IIIF source asks: passed through.
    const tile = await hub.fetch(`${hub.url}/iiif/${id}/240,480,240,240/240,/0/default.jpg`)
    assert.equal(tile.status, 200)
    assert.equal(tile.headers.get('x-kura-tile'), 'stored')
    assert.ok(Buffer.from(await tile.arrayBuffer()).equals(Buffer.from((await slide.tile(0, 1, 2)).bytes)))

    const region = await hub.fetch(`${hub.url}/iiif/${id}/500,700,900,600/450,/0/default.jpg`)
    assert.equal(region.status, 200)
    assert.equal(region.headers.get('x-kura-tile'), 'rendered')
    const ours = await rgb(Buffer.from(await region.arrayBuffer()))
    assert.deepEqual([ours.width, ours.height], [450, 300])
    const want = openslideRegionResized(CMU_SMALL, 500, 700, 900, 600, 450, 300)
    const d = rgbDiff(ours.data, want)
    assert.ok(d.mean < 6, `JPEG: mean abs difference ${d.mean.toFixed(2)}`)
    // Losslessly (PNG) the pixels are OpenSlide's read_region, resized: only the resampling kernels differ.
    const lossless = await hub.fetch(`${hub.url}/iiif/${id}/500,700,900,600/450,/0/default.png`)
    const lp = psnr((await rgb(Buffer.from(await lossless.arrayBuffer()))).data, want)
    assert.ok(lp >= 40, `PNG: PSNR ${lp.toFixed(1)} dB`)
    const same = await hub.fetch(`${hub.url}/iiif/${id}/500,700,300,200/max/0/default.png`)
    const exact = openslideRegionResized(CMU_SMALL, 500, 700, 300, 200, 300, 200)
    assert.deepEqual(rgbDiff((await rgb(Buffer.from(await same.arrayBuffer()))).data, exact), { mean: 0, max: 0 }, 'unscaled region is OpenSlide’s pixels exactly')

    const png = await hub.fetch(`${hub.url}/iiif/${id}/full/!200,200/0/default.png`)
    assert.equal(png.status, 200)
    assert.equal(png.headers.get('content-type'), 'image/png')
    const meta = await sharp(Buffer.from(await png.arrayBuffer())).metadata()
    assert.deepEqual([meta.width, meta.height], [150, 200])

    const rotated = await hub.fetch(`${hub.url}/iiif/${id}/full/max/90/default.jpg`)
    assert.equal(rotated.status, 400)
    assert.match(((await rotated.json()) as any).message, /rotation 0 only/)
    assert.equal((await hub.fetch(`${hub.url}/iiif/${id}/full/4000,/0/default.jpg`)).status, 400)
    assert.equal((await hub.fetch(`${hub.url}/iiif/${id}/5000,0,10,10/max/0/default.jpg`)).status, 400)
    assert.equal((await hub.fetch(`${hub.url}/iiif/${id}/full/max/0/bitonal.jpg`)).status, 400)
  })

  it('caches immutably with strong ETags (304 on If-None-Match)', async () => {
    const url = `${hub.url}/slides/${id}_files/12/2_2.jpeg`
    const first = await hub.fetch(url)
    const etag = first.headers.get('etag')!
    assert.match(etag, /^"[0-9a-f]{40}"$/)
    assert.equal(first.headers.get('cache-control'), 'private, max-age=31536000, immutable')
    const again = await hub.fetch(url, { headers: { 'if-none-match': etag } })
    assert.equal(again.status, 304)
    assert.notEqual((await hub.fetch(`${hub.url}/slides/${id}_files/12/3_2.jpeg`)).headers.get('etag'), etag)
    const iiif = await hub.fetch(`${hub.url}/iiif/${id}/0,0,240,240/240,/0/default.jpg`)
    assert.equal((await hub.fetch(`${hub.url}/iiif/${id}/0,0,240,240/240,/0/default.jpg`, { headers: { 'if-none-match': iiif.headers.get('etag')! } })).status, 304)
  })

  it('hides the slide from other collections (404), refuses the anonymous (401), keeps labels for curators', async () => {
    const as = (token: string, path: string) => fetch(`${hub.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
    for (const path of [`/slides/${id}`, `/slides/${id}.dzi`, `/slides/${id}_files/12/1_1.jpeg`, `/slides/${id}/thumbnail`, `/iiif/${id}/info.json`, `/iiif/${id}/full/max/0/default.jpg`]) {
      const res = await as(researcherOther, path)
      assert.equal(res.status, 404, path)
      assert.equal(((await res.json()) as any).code, 'SLIDE_NOT_FOUND')
      assert.equal((await fetch(`${hub.url}${path}`)).status, 401, path)
      assert.equal((await as(researcherSame, path)).status, 200, path)
    }
    assert.equal((await as(researcherOther, `/slides/00000000-0000-4000-8000-000000000000`)).status, 404)
    assert.deepEqual(await (await as(researcherOther, '/slides')).json(), [])
    assert.equal(((await (await as(researcherSame, '/slides')).json()) as any[]).length, 1)

    const thumb = await as(researcherSame, `/slides/${id}/thumbnail`)
    const tm = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()
    assert.equal(tm.format, 'jpeg')
    assert.equal(Math.max(tm.width!, tm.height!), 512)

    // Labels carry patient names in real life: study:write only.
    assert.equal((await as(researcherSame, `/slides/${id}/associated/label`)).status, 403)
    const label = await hub.fetch(`${hub.url}/slides/${id}/associated/label`)
    assert.equal(label.status, 200)
    const lm = await sharp(Buffer.from(await label.arrayBuffer())).metadata()
    assert.deepEqual([lm.width, lm.height], [387, 463])
    assert.equal((await hub.fetch(`${hub.url}/slides/${id}/associated/nothing`)).status, 404)
  })

  it('passes through the stored tiles of every pyramid level (vips-built pyramidal TIFF)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kura-pyr-'))
    const path = join(dir, 'pyramid.tif')
    let pyr: Slide | undefined
    try {
      vips(['tiffsave', CMU_SMALL, path, '--tile', '--pyramid', '--compression', 'jpeg', '--Q', '85', '--tile-width', '256', '--tile-height', '256'])
      pyr = await openSlide(await FileSource.open(path))
      assert.equal(pyr.levels.length, 5)
      const res = await upload(hub.fetch, `${hub.url}/slides?collection=pathology`, path)
      const body = (await res.json()) as any
      assert.equal(res.status, 201, JSON.stringify(body))
      assert.equal(body.format, pyr.format, 'vips keeps the Aperio description, so either reader may claim it')
      const pid = body.id
      assert.match(await (await hub.fetch(`${hub.url}/slides/${pid}.dzi`)).text(), /Overlap="0" TileSize="256"/)
      // DZI level 11 is stored level 1 (downsample 2.0003), level 10 is stored level 2.
      for (const [dz, level, c, r] of [[12, 0, 3, 4], [11, 1, 1, 2], [10, 2, 1, 1]] as const) {
        const t = await hub.fetch(`${hub.url}/slides/${pid}_files/${dz}/${c}_${r}.jpeg`)
        assert.equal(t.headers.get('x-kura-tile'), 'stored', `${dz}/${c}_${r}`)
        assert.ok(Buffer.from(await t.arrayBuffer()).equals(Buffer.from((await pyr.tile(level, c, r)).bytes)), `${dz}/${c}_${r}`)
      }
      const iiif = await hub.fetch(`${hub.url}/iiif/${pid}/512,1024,512,512/256,/0/default.jpg`)
      assert.equal(iiif.headers.get('x-kura-tile'), 'stored')
      assert.ok(Buffer.from(await iiif.arrayBuffer()).equals(Buffer.from((await pyr.tile(1, 1, 2)).bytes)))
      const info = (await (await hub.fetch(`${hub.url}/iiif/${pid}/info.json`)).json()) as any
      assert.deepEqual(info.tiles, [{ width: 256, height: 256, scaleFactors: [1, 2, 4, 8, 16] }])

      // Edge tiles and levels between stored ones are rendered from the next larger level, as OpenSlide does.
      const tiles: [number, number, number][] = [[11, 4, 5], [9, 1, 1], [8, 0, 0], [3, 0, 0]]
      const ref = openslideDzTiles(path, 256, tiles)
      for (const [i, [l, c, r]] of tiles.entries()) {
        const t = await hub.fetch(`${hub.url}/slides/${pid}_files/${l}/${c}_${r}.jpeg`)
        assert.equal(t.headers.get('x-kura-tile'), 'rendered', `${l}/${c}_${r}`)
        const bytes = Buffer.from(await t.arrayBuffer())
        const want = ref[i]!
        const ours = await rgb(bytes)
        const cmp = ours.width === want.width && ours.height === want.height ? ours : await rgb(bytes, want)
        const d = rgbDiff(cmp.data, want.data)
        assert.ok(d.mean < 6, `${l}/${c}_${r}: mean abs difference ${d.mean.toFixed(2)} (${ours.width}×${ours.height} vs ${want.width}×${want.height})`)
      }
    } finally {
      await pyr?.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('records tile reads once per principal and slide, every refusal always', async () => {
    const db = hub.archive.catalog.db
    const count = async (actor: string) =>
      (await db.selectFrom('audit_event').select(['action', 'outcome', 'collection']).where('actor', '=', actor).where('resource', 'like', `/slides/${id}_files/%`).execute()).length
    const u = (await (await hub.fetch(`${hub.url}/api/users`, json({ username: 'r-viewer' }))).json()) as any
    assert.equal((await hub.fetch(`${hub.url}/api/grants`, json({ userId: u.user.id, role: 'researcher', collection: 'pathology' }))).status, 201)
    const viewer = (await createToken(db, { userId: u.user.id, name: 't', role: 'researcher', collection: 'pathology' })).token
    for (let i = 0; i < 20; i++) assert.equal((await fetch(`${hub.url}/slides/${id}_files/12/${i % 9}_${i % 12}.jpeg`, { headers: { authorization: `Bearer ${viewer}` } })).status, 200)
    await hub.app.auditLog.flush()
    assert.equal(await count('r-viewer'), 1)
    const rows = await db.selectFrom('audit_event').select(['collection', 'outcome']).where('actor', '=', 'r-viewer').execute()
    assert.ok(rows.every((r) => r.collection === 'pathology'))
    for (let i = 0; i < 3; i++) await fetch(`${hub.url}/slides/${id}_files/12/0_0.jpeg`, { headers: { authorization: `Bearer ${researcherOther}` } })
    await hub.app.auditLog.flush()
    const denied = await db.selectFrom('audit_event').select('outcome').where('actor', '=', 'r-other').where('resource', '=', `/slides/${id}_files/12/0_0.jpeg`).execute()
    assert.equal(denied.length, 3)
    assert.ok(denied.every((r) => r.outcome === 'denied'))
  })

  it('measures tile throughput over HTTP', async () => {
    const passUrls: string[] = []
    for (let r = 0; r < 12; r++) for (let c = 0; c < 9; c++) passUrls.push(`${hub.url}/slides/${id}_files/12/${c}_${r}.jpeg`)
    const renderUrls: string[] = []
    for (const [l, cols, rows] of [[11, 5, 7], [10, 3, 4], [9, 2, 2]] as const) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) renderUrls.push(`${hub.url}/slides/${id}_files/${l}/${c}_${r}.jpeg`)
    const get = (url: string, kind: string) => async () => {
      const res = await hub.fetch(url)
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('x-kura-tile'), kind)
      await res.arrayBuffer()
    }
    await get(passUrls[0]!, 'stored')()
    const pass = await rate(500, 8, (i) => get(passUrls[i % passUrls.length]!, 'stored')())
    const rendered = await rate(200, 8, (i) => get(renderUrls[i % renderUrls.length]!, 'rendered')())
    console.log(`slide tiles over HTTP (${hub.env.backend}): ${pass.toFixed(0)} pass-through tiles/s (500), ${rendered.toFixed(0)} rendered tiles/s (200)`)
    assert.ok(pass > rendered)
  })
})
