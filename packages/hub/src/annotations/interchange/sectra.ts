/**
 * @module Sectra pathology annotation import (the JSON Sectra's PACS answers with: one object or a list, each with
 * `type`, `content` [{x, y}] and bookkeeping such as `rowVersion`, `modifiedAt`, `result`).
 *
 * Sectra gives coordinates as fractions of the image (0..1, y down), not pixels, so the image's width and
 * height are required: x·width, y·height. ASSUMPTION, to be checked against a Sectra file with known pixel
 * positions: both axes are scaled by their own dimension (the public samples carry no image size). Types:
 * Area (a closed region, stored open), Polyline, Point, Rectangle. The class name is `name` ("" when null: the
 * samples have none); everything but `content` is kept under `properties.sectra`, `content` too in its original
 * fractions (so the import can be redone when the scaling assumption is corrected).
 */
import type { Geometry, Position, ShapeKind } from '../model.ts'
import type { AnnotationDraft, ImportResult } from './draft.ts'
import { InterchangeErrors } from './errors.ts'
import { checkGeometry, closeRing } from './geometry.ts'
import { applyPolicy, LabelResolver, type ImportOptions } from './labels.ts'

const FORMAT = 'Sectra'

type Json = Record<string, unknown>

function geometryOf(type: string, pts: Position[], i: number): { geometry: Geometry; shape: ShapeKind } {
  switch (type) {
    case 'Area':
      return { geometry: { type: 'Polygon', coordinates: [closeRing(pts)] }, shape: 'polygon' }
    case 'Rectangle':
      return { geometry: { type: 'Polygon', coordinates: [closeRing(pts)] }, shape: 'rectangle' }
    case 'Polyline':
      return { geometry: { type: 'LineString', coordinates: pts }, shape: 'polyline' }
    case 'Point':
      return { geometry: pts.length === 1 ? { type: 'Point', coordinates: pts[0]! } : { type: 'MultiPoint', coordinates: pts }, shape: 'point' }
    default:
      throw InterchangeErrors.unsupportedGeometry(FORMAT, `annotation ${i} of type "${type.slice(0, 30)}"`)
  }
}

export function importSectra(text: string | Uint8Array, opts: ImportOptions & { imageWidth: number; imageHeight: number }): ImportResult {
  if (!(opts.imageWidth > 0 && opts.imageHeight > 0)) throw InterchangeErrors.needsImageSize(FORMAT, 'width and height (Sectra coordinates are fractions of the image)')
  let doc: unknown
  try {
    doc = JSON.parse(typeof text === 'string' ? text : new TextDecoder().decode(text))
  } catch (e) {
    throw InterchangeErrors.badFile(FORMAT, `the JSON does not parse (${(e as Error).message})`)
  }
  const items = (Array.isArray(doc) ? doc : [doc]) as Json[]
  const resolver = new LabelResolver(opts.labels)
  const drafts = items.map((a, i): AnnotationDraft | null => {
    if (!a || typeof a !== 'object' || typeof a.type !== 'string' || !Array.isArray(a.content) || !a.content.length)
      throw InterchangeErrors.badFile(FORMAT, `annotation ${i} lacks a type or a content list of {x, y} points`)
    const pts = (a.content as Json[]).map((p): Position => {
      if (!p || !Number.isFinite(p.x) || !Number.isFinite(p.y)) throw InterchangeErrors.badFile(FORMAT, `annotation ${i} has a point without numeric x and y`)
      return [(p.x as number) * opts.imageWidth, (p.y as number) * opts.imageHeight]
    })
    const { geometry, shape } = geometryOf(a.type, pts, i)
    const label = resolver.resolve(typeof a.name === 'string' ? a.name : '')
    if (!label) return null
    const created = typeof a.modifiedAt === 'string' && !Number.isNaN(Date.parse(a.modifiedAt)) ? new Date(a.modifiedAt).toISOString() : undefined
    return { shape, geometry: checkGeometry(FORMAT, geometry), label, properties: { sectra: a }, ...(created ? { createdAt: created } : {}) }
  })
  return applyPolicy(drafts, resolver, opts.onUnmapped)
}
