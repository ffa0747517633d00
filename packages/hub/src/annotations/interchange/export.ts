/**
 * @module AI export: for a set of slides (and optionally one task), GeoJSON per slide (QuPath-compatible), one
 * COCO document, a CSV of image-level labels, and tiles with label masks, plus a manifest with every file's
 * SHA-256. Reads go through an `ExportSource` (the hub's catalog and slide readers, or a test's fixtures);
 * writes through `ExportFiles`. Slides are done one at a time and each file is streamed to disk, so memory holds
 * one slide's annotations and one tile, never the export.
 *
 * Reproducible: slides in the order given, annotations in id order, categories numbered by (system, code), tiles
 * in a fixed grid, PNGs encoded with fixed settings, no times in any file. Same inputs, same bytes.
 *
 * Tiles: at a downsample d (from a target mpp: mpp / slide mpp; or a magnification: objective power /
 * magnification; default 1), tile (col, row) covers level-0 pixels from (round(col·s·d), round(row·s·d)) over
 * s·d pixels, s the tile size. The image is read from the nearest finer stored level and resized (Lanczos 3), as
 * the hub's IIIF regions are; outside the slide is white. Masks are 8-bit grey PNGs of the same size, pixel value =
 * category index (manifest `categories`), 0 = no region; regions are painted largest first (mask.ts).
 */
import sharp from 'sharp'
import type { Slide } from '@kura/wsi'
import { boundsOf, type Annotation, type CodeRef, type ImageLabel } from '../model.ts'
import { renderRegion } from '../../slides/render.ts'
import { bestLevel } from '../../slides/geometry.ts'
import { Categories } from './categories.ts'
import { exportCoco } from './coco.ts'
import { InterchangeErrors } from './errors.ts'
import { areaOf, isRegion, polygonsOf } from './geometry.ts'
import { imageLabelsCsv } from './image-labels-csv.ts'
import { ExportFiles, KURA_VERSION, MANIFEST, type ExportManifest } from './manifest.ts'
import { rasterise } from './mask.ts'
import { toQuPathFeature } from './qupath.ts'

export const EXPORT_FORMATS = ['geojson', 'coco', 'csv', 'tiles'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

export interface TileParameters {
  /** Output tile edge in pixels (16–4096). */
  size: number
  /** Microns per pixel of the tiles; or */
  mpp?: number
  /** a magnification (20 for "20×"), from the slide's objective power. Neither: full resolution. */
  magnification?: number
  /** Leave out tiles without any labelled pixel (default true; false tiles the whole slide). */
  skipEmpty?: boolean
}

export interface ExportSpec {
  slides: string[]
  taskId?: string | null
  formats: ExportFormat[]
  tiles?: TileParameters
}

export interface ExportSlide {
  id: string
  width: number
  height: number
  mpp: { x: number; y: number } | null
  objectivePower: number | null
  /** Runs `fn` with the open slide (only the tiles export reads pixels). */
  withSlide<T>(fn: (slide: Slide) => Promise<T>): Promise<T>
}

export interface ExportSource {
  slide(id: string): Promise<ExportSlide>
  /** The slide's annotations (of the task, when the spec names one), any order. */
  annotations(slideId: string): Promise<Annotation[]>
  imageLabels(slideId: string): Promise<ImageLabel[]>
  /** The annotation set version the reads saw. */
  annotationSetVersion(): Promise<number>
  /** Display name of a code (its English meaning); default the code. */
  nameOf?(code: CodeRef): string
}

/** Checks and completes a spec from a request: known formats, tile parameters in range. */
export function checkExportSpec(body: unknown): ExportSpec {
  const b = (body ?? {}) as Partial<ExportSpec>
  if (!Array.isArray(b.slides) || !b.slides.length || !b.slides.every((s) => typeof s === 'string')) throw InterchangeErrors.badExport('Name the slides to export: "slides": ["<slide id>", ...].')
  if (new Set(b.slides).size !== b.slides.length) throw InterchangeErrors.badExport('A slide is named twice in "slides".')
  const formats = b.formats ?? ['geojson', 'coco', 'csv']
  if (!Array.isArray(formats) || !formats.length || !formats.every((f) => (EXPORT_FORMATS as readonly string[]).includes(f)))
    throw InterchangeErrors.badExport(`"formats" is a list of ${EXPORT_FORMATS.join(', ')}.`)
  if (b.taskId != null && (typeof b.taskId !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(b.taskId))) throw InterchangeErrors.badExport('"taskId" is a task id (a UUID).')
  const spec: ExportSpec = { slides: b.slides, taskId: b.taskId ?? null, formats: [...new Set(formats)].sort() as ExportFormat[] }
  if (formats.includes('tiles')) {
    const t = (b.tiles ?? {}) as Partial<TileParameters>
    const size = t.size ?? 512
    if (!Number.isInteger(size) || size < 16 || size > 4096) throw InterchangeErrors.badExport('"tiles.size" is a whole number of pixels from 16 to 4096.')
    if (t.mpp !== undefined && !(typeof t.mpp === 'number' && t.mpp > 0 && t.mpp < 1000)) throw InterchangeErrors.badExport('"tiles.mpp" is microns per pixel, a positive number.')
    if (t.magnification !== undefined && !(typeof t.magnification === 'number' && t.magnification > 0 && t.magnification <= 400)) throw InterchangeErrors.badExport('"tiles.magnification" is a positive number such as 20 or 5.')
    if (t.mpp !== undefined && t.magnification !== undefined) throw InterchangeErrors.badExport('Give "tiles.mpp" or "tiles.magnification", not both.')
    spec.tiles = { size, skipEmpty: t.skipEmpty ?? true, ...(t.mpp !== undefined ? { mpp: t.mpp } : {}), ...(t.magnification !== undefined ? { magnification: t.magnification } : {}) }
  }
  return spec
}

/** Level-0 pixels per tile pixel for a slide, or an error saying what the slide lacks. */
export function tileDownsample(slide: ExportSlide, t: TileParameters): number {
  let d = 1
  if (t.mpp !== undefined) {
    if (!slide.mpp) throw InterchangeErrors.badExport(`Slide ${slide.id} does not record its microns per pixel; ask for tiles by "magnification" or at full resolution.`)
    d = t.mpp / slide.mpp.x
  } else if (t.magnification !== undefined) {
    if (!slide.objectivePower) throw InterchangeErrors.badExport(`Slide ${slide.id} does not record its objective power; ask for tiles by "mpp".`)
    d = slide.objectivePower / t.magnification
  }
  if (!(d >= 1 - 1e-9)) throw InterchangeErrors.badExport(`Slide ${slide.id} was scanned coarser than asked (downsample ${d.toFixed(3)} < 1); Kura does not upsample. Ask for a lower magnification or a larger mpp.`)
  return Math.max(1, d)
}

const PNG = { compressionLevel: 6, adaptiveFiltering: false, palette: false } as const

interface Region {
  id: string
  bounds: [number, number, number, number]
  area: number
  polygons: ReturnType<typeof polygonsOf>
  value: number
}

async function writeTiles(files: ExportFiles, slide: ExportSlide, regions: Region[], t: TileParameters): Promise<{ downsample: number; level: number; tiles: number; columns: number; rows: number }> {
  const d = tileDownsample(slide, t)
  const span = t.size * d
  const cols = Math.ceil(slide.width / span)
  const rows = Math.ceil(slide.height / span)
  // Largest first, so smaller regions painted later stay visible; ties by id for a fixed order.
  const order = [...regions].sort((a, b) => b.area - a.area || (a.id < b.id ? -1 : 1))
  // Candidate tiles: those a region's bounds touch (all tiles when empty ones are kept).
  const wanted = new Set<number>()
  if (t.skipEmpty === false) for (let i = 0; i < cols * rows; i++) wanted.add(i)
  else
    for (const r of order) {
      const c0 = Math.max(0, Math.floor(r.bounds[0] / span))
      const c1 = Math.min(cols - 1, Math.floor(r.bounds[2] / span))
      const r0 = Math.max(0, Math.floor(r.bounds[1] / span))
      const r1 = Math.min(rows - 1, Math.floor(r.bounds[3] / span))
      for (let y = r0; y <= r1; y++) for (let x = c0; x <= c1; x++) wanted.add(y * cols + x)
    }
  let tiles = 0
  const cells = [...wanted].sort((a, b) => a - b)
  let level = 0
  await slide.withSlide(async (s) => {
    // The opened slide's own levels: the pyramid it can actually read from.
    level = bestLevel(s.levels, d)
    const ld = s.levels[level]!.downsample
    for (const cell of cells) {
      const col = cell % cols
      const row = Math.floor(cell / cols)
      const x0 = Math.round(col * span)
      const y0 = Math.round(row * span)
      const frame = { x0, y0, scale: d, width: t.size, height: t.size }
      const x1 = x0 + span
      const y1 = y0 + span
      const inTile = order.filter((r) => r.bounds[0] <= x1 && r.bounds[2] >= x0 && r.bounds[1] <= y1 && r.bounds[3] >= y0)
      const mask = rasterise(frame, inTile)
      if (t.skipEmpty !== false && !mask.some((v) => v !== 0)) continue
      const w = Math.max(1, Math.round(span / ld))
      const img = await renderRegion(s, { level, x: x0, y: y0, w, h: w, outW: t.size, outH: t.size }, 'png')
      const name = `${String(col).padStart(4, '0')}_${String(row).padStart(4, '0')}.png`
      // Re-encode with fixed settings (renderRegion's PNG uses sharp's defaults, which may change between versions).
      await files.write(`tiles/${slide.id}/images/${name}`, await sharp(img.bytes).png(PNG).toBuffer())
      await files.write(`tiles/${slide.id}/masks/${name}`, await sharp(mask, { raw: { width: t.size, height: t.size, channels: 1 } }).toColourspace('b-w').png(PNG).toBuffer())
      tiles++
    }
  })
  return { downsample: d, level, tiles, columns: cols, rows }
}

/** Writes the export under `files.root` and returns its manifest (also written, as manifest.json). */
export async function writeExport(files: ExportFiles, spec: ExportSpec, source: ExportSource): Promise<ExportManifest> {
  const setVersion = await source.annotationSetVersion()
  // Pass 1: slides, codes (for the categories, which COCO and the masks number from).
  const slides: ExportSlide[] = []
  const codes: Annotation['label'][] = []
  const labelCodes: Annotation['label'][] = []
  for (const id of spec.slides) {
    slides.push(await source.slide(id))
    for (const a of await source.annotations(id)) codes.push(a.label)
  }
  if (spec.formats.includes('csv')) for (const id of spec.slides) for (const l of await source.imageLabels(id)) labelCodes.push(l.label)
  const categories = new Categories(codes, source.nameOf?.bind(source))
  if (categories.list.length > 255 && spec.formats.includes('tiles')) throw InterchangeErrors.badExport(`The export has ${categories.list.length} label codes; 8-bit masks hold 255. Export fewer slides or filter by task.`)

  // COCO's header (images, categories) is known after pass 1, so its annotations stream slide by slide.
  const coco = spec.formats.includes('coco') ? await files.stream('coco.json') : null
  let cocoCount = 0
  if (coco) {
    const head = exportCoco(
      slides.map((s) => ({ slideId: s.id, width: s.width, height: s.height })),
      [],
      categories,
      { annotationSetVersion: setVersion, taskId: spec.taskId ?? null, kuraVersion: KURA_VERSION },
    )
    delete (head.info.kura as Record<string, unknown>).pointsAndLinesLeftOut
    await coco.write(`{"info":${JSON.stringify(head.info)},\n"images":${JSON.stringify(head.images)},\n"categories":${JSON.stringify(head.categories)},\n"annotations":[`)
  }
  const slideInfo: Record<string, unknown>[] = []
  const labels: ImageLabel[] = []
  for (const [i, slide] of slides.entries()) {
    const annotations = (await source.annotations(slide.id)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    const info: Record<string, unknown> = { id: slide.id, width: slide.width, height: slide.height, mpp: slide.mpp, annotations: annotations.length }
    if (spec.formats.includes('geojson')) {
      const out = await files.stream(`geojson/${slide.id}.geojson`)
      await out.write('{"type":"FeatureCollection","features":[')
      for (const [k, a] of annotations.entries()) await out.write((k ? ',\n' : '\n') + JSON.stringify(toQuPathFeature(a, { classOf: (c) => ({ name: source.nameOf?.(c) ?? c.code }) })))
      await out.write('\n]}\n')
      await out.close()
    }
    if (coco) {
      // One image per slide; annotation ids continue across slides (offset by those written before).
      const doc = exportCoco([{ slideId: slide.id, width: slide.width, height: slide.height }], annotations, categories)
      for (const a of doc.annotations) await coco.write((cocoCount ? ',\n' : '\n') + JSON.stringify({ ...a, id: ++cocoCount, image_id: i + 1 }))
    }
    if (spec.formats.includes('csv')) labels.push(...(await source.imageLabels(slide.id)))
    if (spec.tiles && spec.formats.includes('tiles')) {
      const regions: Region[] = annotations.filter((a) => isRegion(a.geometry)).map((a) => ({ id: a.id, bounds: boundsOf(a.geometry), area: areaOf(a.geometry), polygons: polygonsOf(a.geometry as never), value: categories.indexOf(a.label) }))
      info.tiles = await writeTiles(files, slide, regions, spec.tiles)
    }
    slideInfo.push(info)
  }
  if (coco) {
    await coco.write('\n]}\n')
    await coco.close()
  }
  if (spec.formats.includes('csv')) await files.write('image-labels.csv', imageLabelsCsv(labels))

  const manifest: ExportManifest = {
    format: 'kura-annotation-export/1',
    kuraVersion: KURA_VERSION,
    parameters: spec as unknown as Record<string, unknown>,
    taskId: spec.taskId ?? null,
    annotationSetVersion: setVersion,
    vocabularies: Categories.versions([...codes, ...labelCodes]),
    categories: categories.list,
    masks: spec.formats.includes('tiles') ? { pixel: 'category index (categories[].index); PNG, 8-bit grey, same size as the image tile', background: 0 } : null,
    slides: slideInfo,
    files: files.files(),
  }
  await files.write(MANIFEST, JSON.stringify(manifest, null, 2) + '\n')
  return manifest
}
