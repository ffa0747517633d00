/**
 * The AI export end to end on a synthetic slide (generic tiled TIFF, 0.5 µm/px): masks hand-checked at known
 * pixels, COCO areas against polygon areas, manifest hashes against the files, and two runs byte-identical.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import sharp from 'sharp'
import { FileSource } from '@kura/core'
import { openSlide, type Slide } from '@kura/wsi'
import { writeTiffSlide } from '@kura/wsi/synth'
import type { Annotation, ImageLabel } from '../model.ts'
import { keyholeRing, type CocoDocument } from './coco.ts'
import { checkExportSpec, writeExport, type ExportSource, type ExportSpec } from './export.ts'
import { areaOf, ringArea } from './geometry.ts'
import { ExportFiles, type ExportManifest } from './manifest.ts'
import { asAnnotations, TISSUE } from './testing.ts'

const SLIDE = '00000000-0000-7000-8000-00000000aaaa'
let dir: string
let slidePath: string
let slide: Slide

const rect = (x0: number, y0: number, x1: number, y1: number) => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]] as [number, number][]

function annotations(): Annotation[] {
  return asAnnotations(
    [
      // Stroma: a rectangle from (100, 100) to (300, 200) level-0.
      { shape: 'rectangle', geometry: { type: 'Polygon', coordinates: [rect(100, 100, 300, 200)] }, label: { system: TISSUE, code: 'stroma', version: '1' } },
      // Tumour: a square (600, 100)–(1000, 500) with a hole (700, 200)–(900, 400).
      { shape: 'polygon', geometry: { type: 'Polygon', coordinates: [rect(600, 100, 1000, 500), rect(700, 200, 900, 400)] }, label: { system: TISSUE, code: 'tumour', version: '1' } },
      { shape: 'point', geometry: { type: 'Point', coordinates: [50, 50] }, label: { system: TISSUE, code: 'lymphocytes', version: '1' } },
    ],
    SLIDE,
  )
}

const labels: ImageLabel[] = [
  { id: 'l2', target: { kind: 'slide', slideId: SLIDE }, label: { system: 'KURA-GROUP', code: 'group-5', version: '2' }, author: 'dr, "quoted"', createdAt: '2026-01-02T00:00:00Z', confidence: null, status: 'accepted', taskId: null },
  { id: 'l1', target: { kind: 'slide', slideId: SLIDE }, label: { system: 'KURA-GROUP', code: 'group-1', version: '2' }, author: '=cmd', createdAt: '2026-01-01T00:00:00Z', confidence: 0.5, status: 'submitted', taskId: null },
]

const source: ExportSource = {
  slide: async (id) => {
    assert.equal(id, SLIDE)
    return { id, width: slide.levels[0]!.width, height: slide.levels[0]!.height, mpp: slide.mpp ?? null, objectivePower: slide.objectivePower ?? null, withSlide: (fn) => fn(slide) }
  },
  annotations: async () => annotations().reverse(),
  imageLabels: async () => labels,
  annotationSetVersion: async () => 42,
}

function walk(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort()
}

async function run(spec: ExportSpec): Promise<{ root: string; manifest: ExportManifest }> {
  const root = mkdtempSync(join(dir, 'export-'))
  const manifest = await writeExport(new ExportFiles(root), spec, source)
  return { root, manifest }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kura-export-'))
  slidePath = join(dir, 'slide.tiff')
  await writeTiffSlide(slidePath, { width: 1536, height: 1024, tile: 256, mpp: 0.5, seed: 7, threads: 1 })
  slide = await openSlide(await FileSource.open(slidePath))
})
after(async () => {
  await slide?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('AI export', () => {
  const spec = checkExportSpec({ slides: [SLIDE], formats: ['geojson', 'coco', 'csv', 'tiles'], tiles: { size: 256, mpp: 1.0 } })

  it('lists every file with its SHA-256 and size, and two runs are byte-identical', async () => {
    const a = await run(spec)
    const b = await run(spec)
    const files = walk(a.root)
    assert.deepEqual(files, walk(b.root))
    assert.deepEqual(a.manifest.files.map((f) => f.path), files.filter((f) => f !== 'manifest.json'))
    for (const f of a.manifest.files) {
      const bytes = readFileSync(join(a.root, f.path))
      assert.equal(f.bytes, bytes.length, f.path)
      assert.equal(f.sha256, createHash('sha256').update(bytes).digest('hex'), f.path)
    }
    for (const f of files) assert.ok(readFileSync(join(a.root, f)).equals(readFileSync(join(b.root, f))), `${f} differs between runs`)
    assert.equal(a.manifest.annotationSetVersion, 42)
    assert.deepEqual(a.manifest.vocabularies, [{ system: 'KURA-GROUP', versions: ['2'] }, { system: TISSUE, versions: ['1'] }])
    assert.deepEqual(a.manifest.categories.map((c) => [c.index, c.code]), [[1, 'lymphocytes'], [2, 'stroma'], [3, 'tumour']])
    assert.ok(JSON.parse(readFileSync(join(a.root, 'manifest.json'), 'utf8')).kuraVersion)
  })

  it('paints masks with category indices at the right pixels (downsample 2, tiles of 256 = 512 level-0 px)', async () => {
    const { root, manifest } = await run(spec)
    const tiles = manifest.files.filter((f) => f.path.includes('/masks/')).map((f) => f.path.split('/').pop())
    // Regions touch tiles (0,0) and (1,0) only ((600..1000) / 512 → columns 1 and 1; (100..300) → column 0).
    assert.deepEqual(tiles, ['0000_0000.png', '0001_0000.png'])
    const mask = async (name: string) => {
      const file = join(root, `tiles/${SLIDE}/masks/${name}`)
      assert.equal((await sharp(file).metadata()).channels, 1, 'masks are 8-bit grey')
      const { data, info } = await sharp(file).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true })
      assert.equal(info.channels, 1)
      assert.equal(info.width, 256)
      return (i: number, j: number) => data[j * 256 + i]
    }
    const m0 = await mask('0000_0000.png')
    // Stroma (index 2): level-0 (100..300, 100..200) → tile (50..150, 50..100).
    assert.equal(m0(50, 50), 2)
    assert.equal(m0(149, 99), 2)
    assert.equal(m0(150, 99), 0)
    assert.equal(m0(49, 50), 0)
    assert.equal(m0(50, 100), 0)
    // Tumour (index 3) starts at level-0 x 600 → tile 0 covers x < 512: nothing of it here.
    assert.equal(m0(255, 60), 0)
    const m1 = await mask('0001_0000.png')
    // Tile (1,0) starts at level-0 x 512: tumour outline (600..1000) → (44..244), hole (700..900) → (94..194).
    assert.equal(m1(44, 50), 3)
    assert.equal(m1(43, 50), 0)
    assert.equal(m1(93, 150), 3)
    assert.equal(m1(94, 150), 0)
    assert.equal(m1(150, 150), 0)
    assert.equal(m1(194, 150), 3)
    assert.equal(m1(243, 249), 3)
    assert.equal(m1(244, 249), 0)
    const img = await sharp(join(root, `tiles/${SLIDE}/images/0001_0000.png`)).metadata()
    assert.deepEqual([img.width, img.height, img.format], [256, 256, 'png'])
  })

  it('writes COCO whose areas are the polygon areas, with holes bridged in', async () => {
    const { root } = await run(spec)
    const coco = JSON.parse(readFileSync(join(root, 'coco.json'), 'utf8')) as CocoDocument
    assert.deepEqual(coco.images, [{ id: 1, file_name: SLIDE, width: 1536, height: 1024, kura_slide_id: SLIDE }])
    assert.deepEqual(coco.categories.map((c) => [c.id, c.name, c.supercategory]), [[1, 'lymphocytes', TISSUE], [2, 'stroma', TISSUE], [3, 'tumour', TISSUE]])
    assert.equal(coco.annotations.length, 2, 'the point has no area and is left out')
    const byId = new Map(annotations().map((a) => [a.id, a]))
    for (const c of coco.annotations) {
      const a = byId.get(c.kura_annotation_id)!
      assert.equal(c.area, areaOf(a.geometry))
      const flat = c.segmentation[0]!
      const ring = [...Array(flat.length / 2).keys()].map((k) => [flat[2 * k]!, flat[2 * k + 1]!] as [number, number])
      assert.equal(Math.abs(ringArea(ring)), c.area, 'the keyhole ring encloses exactly the area')
      assert.equal(c.iscrowd, 0)
    }
    const tumour = coco.annotations.find((c) => c.category_id === 3)!
    assert.equal(tumour.area, 400 * 400 - 200 * 200)
    assert.deepEqual(tumour.bbox, [600, 100, 400, 400])
    assert.deepEqual(coco.annotations.find((c) => c.category_id === 2)!.bbox, [100, 100, 200, 100])
  })

  it('writes image-level labels as CSV, sorted, quoted and formula-safe', async () => {
    const { root } = await run(spec)
    const lines = readFileSync(join(root, 'image-labels.csv'), 'utf8').split('\r\n')
    assert.equal(lines[0], 'target_kind,slide_id,study_instance_uid,series_instance_uid,sop_instance_uid,frame,system,code,version,author,status,confidence,task_id,created_at,label_id')
    assert.equal(lines[1], `slide,${SLIDE},,,,,KURA-GROUP,group-1,2,'=cmd,submitted,0.5,,2026-01-01T00:00:00Z,l1`)
    assert.equal(lines[2], `slide,${SLIDE},,,,,KURA-GROUP,group-5,2,"dr, ""quoted""",accepted,,,2026-01-02T00:00:00Z,l2`)
  })

  it('writes QuPath-compatible GeoJSON per slide', async () => {
    const { root } = await run({ ...spec, formats: ['geojson'] })
    const doc = JSON.parse(readFileSync(join(root, `geojson/${SLIDE}.geojson`), 'utf8')) as { type: string; features: { id: string; properties: { classification: { name: string } } }[] }
    assert.equal(doc.type, 'FeatureCollection')
    assert.deepEqual(doc.features.map((f) => f.properties.classification.name), ['stroma', 'tumour', 'lymphocytes'])
  })

  it('tiles the whole slide when empty tiles are kept', async () => {
    const { manifest } = await run(checkExportSpec({ slides: [SLIDE], formats: ['tiles'], tiles: { size: 256, mpp: 1.0, skipEmpty: false } }))
    // 1536×1024 at downsample 2 in 256-px tiles: 3 × 2.
    assert.equal(manifest.files.filter((f) => f.path.includes('/images/')).length, 6)
    assert.ok(statSync(join(dir)).isDirectory())
  })

  it('refuses bad parameters with what to do', () => {
    assert.throws(() => checkExportSpec({ slides: [] }), /Name the slides/)
    assert.throws(() => checkExportSpec({ slides: [SLIDE], formats: ['tiff'] }), /formats/)
    assert.throws(() => checkExportSpec({ slides: [SLIDE], formats: ['tiles'], tiles: { size: 10 } }), /16 to 4096/)
    assert.throws(() => checkExportSpec({ slides: [SLIDE], formats: ['tiles'], tiles: { mpp: 1, magnification: 20 } }), /not both/)
  })

  it('keyhole rings keep area for several holes of either winding', () => {
    const rings = [rect(0, 0, 10, 10), rect(1, 1, 3, 3), rect(5, 5, 8, 8).reverse()]
    const flat = keyholeRing(rings)
    const ring = [...Array(flat.length / 2).keys()].map((k) => [flat[2 * k]!, flat[2 * k + 1]!] as [number, number])
    assert.equal(Math.abs(ringArea(ring)), 100 - 4 - 9)
  })
})
