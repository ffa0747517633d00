/**
 * @module COCO (Common Objects in Context) JSON export of region annotations for detection and segmentation
 * training. Images are slides (level-0 size), categories the export's codes, segmentation polygons in level-0
 * pixels. COCO polygons cannot carry holes, so each hole is joined to its outline by a zero-width bridge (the
 * "keyhole" ring): the bridge is walked there and back, so it adds no area under the shoelace formula and is
 * filled an even number of times by even-odd rasterisers such as pycocotools'. `area` is the true polygon area
 * (outline minus holes); `iscrowd` is 0. Points and lines have no area and are left out (counted in `info`).
 * Annotations are numbered 1..N in the order given (the caller sorts), so the same input gives the same file.
 */
import type { Annotation, Position } from '../model.ts'
import type { Categories } from './categories.ts'
import { isRegion, polygonsOf, ringArea } from './geometry.ts'
import { boundsOf } from '../model.ts'

export interface CocoImage {
  id: number
  file_name: string
  width: number
  height: number
  kura_slide_id: string
}

export interface CocoAnnotation {
  id: number
  image_id: number
  category_id: number
  segmentation: number[][]
  area: number
  bbox: [number, number, number, number]
  iscrowd: 0
  kura_annotation_id: string
}

export interface CocoDocument {
  info: { description: string; version: string; kura: Record<string, unknown> }
  images: CocoImage[]
  categories: { id: number; name: string; supercategory: string; kura_code: { system: string; code: string } }[]
  annotations: CocoAnnotation[]
}

/** Outline with every hole bridged in, holes wound against the outline; flat [x0, y0, x1, y1, ...]. */
export function keyholeRing(rings: Position[][]): number[] {
  const open = (r: Position[]) => (r.length > 1 && r[0]![0] === r[r.length - 1]![0] && r[0]![1] === r[r.length - 1]![1] ? r.slice(0, -1) : r)
  const outer = open(rings[0]!)
  const outerSign = Math.sign(ringArea(rings[0]!))
  const path: Position[] = [...outer]
  for (const hole of rings.slice(1)) {
    let h = open(hole)
    if (Math.sign(ringArea(hole)) === outerSign) h = [...h].reverse()
    // From the outline's first vertex into the hole, round it, and back.
    path.push(outer[0]!, ...h, h[0]!)
  }
  path.push(outer[0]!)
  return path.flat()
}

export interface SlideImage {
  slideId: string
  width: number
  height: number
}

export function exportCoco(slides: SlideImage[], annotations: Annotation[], categories: Categories, info: Record<string, unknown> = {}): CocoDocument {
  const imageIds = new Map(slides.map((s, i) => [s.slideId, i + 1]))
  const out: CocoAnnotation[] = []
  let skipped = 0
  for (const a of annotations) {
    const image = a.target.kind === 'slide' ? imageIds.get(a.target.slideId) : undefined
    if (!image || !isRegion(a.geometry)) {
      skipped++
      continue
    }
    const polys = polygonsOf(a.geometry)
    const area = polys.reduce((s, rings) => s + Math.abs(ringArea(rings[0]!)) - rings.slice(1).reduce((h, r) => h + Math.abs(ringArea(r)), 0), 0)
    const [x0, y0, x1, y1] = boundsOf(a.geometry)
    out.push({
      id: out.length + 1,
      image_id: image,
      category_id: categories.indexOf(a.label),
      segmentation: polys.map(keyholeRing),
      area,
      bbox: [x0, y0, x1 - x0, y1 - y0],
      iscrowd: 0,
      kura_annotation_id: a.id,
    })
  }
  return {
    info: { description: 'Kura annotation export (COCO)', version: '1.0', kura: { ...info, pointsAndLinesLeftOut: skipped } },
    images: slides.map((s, i) => ({ id: i + 1, file_name: s.slideId, width: s.width, height: s.height, kura_slide_id: s.slideId })),
    categories: categories.list.map((c) => ({ id: c.index, name: c.name, supercategory: c.system, kura_code: { system: c.system, code: c.code } })),
    annotations: out,
  }
}
