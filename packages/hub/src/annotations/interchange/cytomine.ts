/**
 * @module Cytomine annotation import. Cytomine's API answers with annotation objects whose `location` is WKT in
 * level-0 pixels with the origin at the BOTTOM-left (y up); Kura's y runs down, so y' = imageHeight − y, which
 * is why the image height is required (Cytomine's own crop URLs use the same flip). Accepted: one annotation,
 * the `{ annotation: ... }` answer to an add command (the sample's form), `{ collection: [...] }` lists and bare
 * arrays. The label's class name is the first term id (as a string; "" without terms); the annotation object
 * but its location is kept under `properties.cytomine` (term ids, user id, project, image...). The command
 * envelope (message, callback) is not kept: it names the annotator in prose and says nothing about the shape.
 */
import type { Geometry, Position } from '../model.ts'
import type { AnnotationDraft, ImportResult } from './draft.ts'
import { InterchangeErrors } from './errors.ts'
import { checkGeometry, shapeOf } from './geometry.ts'
import { applyPolicy, LabelResolver, type ImportOptions } from './labels.ts'
import { parseWkt } from './wkt.ts'

const FORMAT = 'Cytomine'

type Json = Record<string, unknown>

/** The same geometry with y measured from the top (y' = height − y). */
export function flipY(g: Geometry, height: number): Geometry {
  const f = (p: Position): Position => [p[0], height - p[1]]
  switch (g.type) {
    case 'Point':
      return { type: 'Point', coordinates: f(g.coordinates) }
    case 'MultiPoint':
    case 'LineString':
      return { type: g.type, coordinates: g.coordinates.map(f) } as Geometry
    case 'Polygon':
      return { type: 'Polygon', coordinates: g.coordinates.map((r) => r.map(f)) }
    case 'MultiPolygon':
      return { type: 'MultiPolygon', coordinates: g.coordinates.map((p) => p.map((r) => r.map(f))) }
  }
}

function annotationsOf(doc: unknown): Json[] {
  if (Array.isArray(doc)) return doc as Json[]
  if (doc && typeof doc === 'object') {
    const d = doc as Json
    if (Array.isArray(d.collection)) return d.collection as Json[]
    if (d.annotation && typeof d.annotation === 'object') return [d.annotation as Json]
    if (typeof d.location === 'string') return [d]
  }
  throw InterchangeErrors.badFile(FORMAT, 'expected an annotation, a {"annotation": ...} answer, a {"collection": [...]} list or an array of annotations')
}

export function importCytomine(text: string | Uint8Array, opts: ImportOptions & { imageHeight: number }): ImportResult {
  if (!(opts.imageHeight > 0)) throw InterchangeErrors.needsImageSize(FORMAT, 'height (Cytomine counts y from the bottom)')
  let doc: unknown
  try {
    doc = JSON.parse(typeof text === 'string' ? text : new TextDecoder().decode(text))
  } catch (e) {
    throw InterchangeErrors.badFile(FORMAT, `the JSON does not parse (${(e as Error).message})`)
  }
  const resolver = new LabelResolver(opts.labels)
  const drafts = annotationsOf(doc).map((a, i): AnnotationDraft | null => {
    if (!a || typeof a !== 'object' || typeof a.location !== 'string') throw InterchangeErrors.badFile(FORMAT, `annotation ${i} has no WKT location`)
    const { location, ...rest } = a
    const geometry = checkGeometry(FORMAT, flipY(parseWkt(location as string, FORMAT), opts.imageHeight))
    const terms = Array.isArray(rest.term) ? rest.term : []
    const label = resolver.resolve(terms.length ? String(terms[0]) : '')
    if (!label) return null
    const created = typeof rest.created === 'string' && /^\d+$/.test(rest.created) ? new Date(Number(rest.created)).toISOString() : undefined
    return { shape: shapeOf(geometry), geometry, label, properties: { cytomine: rest }, ...(created ? { createdAt: created } : {}) }
  })
  return applyPolicy(drafts, resolver, opts.onUnmapped)
}
