/**
 * @module ASAP (Computational Pathology Group, Radboudumc) XML import. `<ASAP_Annotations>` holds
 * `<Annotation Name Type PartOfGroup Color>` elements with `<Coordinate Order X Y>` in level-0 pixels, y down.
 * Types: Dot (a point), PointSet (points), Polygon and Spline (closed; the ring is stored open, so it is closed
 * here; a spline keeps its control points as the polygon), Rectangle (four corners). The class name is the
 * group (`PartOfGroup`; "None" means no class, so ""). Name, Type, Color and the group's own colour and parent
 * are kept under `properties.asap`.
 */
import { XMLParser } from 'fast-xml-parser'
import type { Geometry, Position, ShapeKind } from '../model.ts'
import type { AnnotationDraft, ImportResult } from './draft.ts'
import { InterchangeErrors } from './errors.ts'
import { checkGeometry, closeRing } from './geometry.ts'
import { applyPolicy, LabelResolver, type ImportOptions } from './labels.ts'

const FORMAT = 'ASAP XML'

type Json = Record<string, unknown>
const arr = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v])

function coordinates(a: Json, i: number): Position[] {
  const coords = arr((a.Coordinates as Json | undefined)?.Coordinate as Json | Json[] | undefined)
  if (!coords.length) throw InterchangeErrors.badFile(FORMAT, `annotation ${i} has no coordinates`)
  const num = (v: unknown, what: string) => {
    const n = typeof v === 'string' ? Number(v) : NaN
    if (!Number.isFinite(n)) throw InterchangeErrors.badFile(FORMAT, `annotation ${i} has a coordinate whose ${what} is not a number`)
    return n
  }
  return coords
    .map((c, k) => ({ order: c['@_Order'] === undefined ? k : num(c['@_Order'], 'Order'), p: [num(c['@_X'], 'X'), num(c['@_Y'], 'Y')] as Position }))
    .sort((a, b) => a.order - b.order)
    .map((c) => c.p)
}

function geometryOf(type: string, pts: Position[], i: number): { geometry: Geometry; shape: ShapeKind } {
  switch (type) {
    case 'Dot':
      return { geometry: { type: 'Point', coordinates: pts[0]! }, shape: 'point' }
    case 'PointSet':
      return { geometry: { type: 'MultiPoint', coordinates: pts }, shape: 'point' }
    case 'Polygon':
    case 'Spline':
      return { geometry: { type: 'Polygon', coordinates: [closeRing(pts)] }, shape: 'polygon' }
    case 'Rectangle':
      return { geometry: { type: 'Polygon', coordinates: [closeRing(pts)] }, shape: 'rectangle' }
    default:
      throw InterchangeErrors.unsupportedGeometry(FORMAT, `annotation ${i} of type "${type.slice(0, 30)}"`)
  }
}

export function importAsap(text: string | Uint8Array, opts: ImportOptions): ImportResult {
  const xml = typeof text === 'string' ? text : new TextDecoder().decode(text)
  let doc: Json
  try {
    doc = new XMLParser({ ignoreAttributes: false, parseAttributeValue: false, processEntities: true }).parse(xml, true) as Json
  } catch (e) {
    throw InterchangeErrors.badFile(FORMAT, `the XML does not parse (${String((e as Error).message ?? e).split('\n')[0]})`)
  }
  const root = doc.ASAP_Annotations as Json | undefined
  if (!root || typeof root !== 'object') throw InterchangeErrors.badFile(FORMAT, 'there is no <ASAP_Annotations> root element')
  const groups = new Map<string, Json>()
  for (const g of arr((root.AnnotationGroups as Json | undefined)?.Group as Json | Json[] | undefined)) groups.set(String(g['@_Name']), g)
  const resolver = new LabelResolver(opts.labels)
  const drafts = arr((root.Annotations as Json | undefined)?.Annotation as Json | Json[] | undefined).map((a, i): AnnotationDraft | null => {
    const type = String(a['@_Type'] ?? '')
    const { geometry, shape } = geometryOf(type, coordinates(a, i), i)
    const group = a['@_PartOfGroup'] === undefined || a['@_PartOfGroup'] === 'None' ? '' : String(a['@_PartOfGroup'])
    const label = resolver.resolve(group)
    if (!label) return null
    const g = groups.get(group)
    const asap: Json = { name: a['@_Name'], type, group: group || null, color: a['@_Color'] ?? null }
    if (g) asap.groupColor = g['@_Color'] ?? null
    if (g && g['@_PartOfGroup'] !== undefined && g['@_PartOfGroup'] !== 'None') asap.parentGroup = g['@_PartOfGroup']
    return { shape, geometry: checkGeometry(FORMAT, geometry), label, properties: { asap } }
  })
  return applyPolicy(drafts, resolver, opts.onUnmapped)
}
