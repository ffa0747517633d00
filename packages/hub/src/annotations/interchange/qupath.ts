/**
 * @module QuPath GeoJSON import and export, lossless for what QuPath writes.
 *
 * QuPath writes a Feature, an array of Features or a FeatureCollection. Each Feature has a geometry in level-0
 * pixels (y down, as Kura), an `id` (a UUID since QuPath 0.4, the object class such as `PathAnnotationObject`
 * before), and properties: `objectType` (annotation, detection, cell, tile...), `classification` (`name` or
 * derived `names`, with `color` [r,g,b] or the legacy packed `colorRGB`), `name`, `color`, `isLocked`,
 * `measurements` (a list before 0.4, an object since), `metadata`; cells carry `nucleusGeometry`.
 *
 * Kura models the geometry and the label (a code, mapped from the class name); everything else is kept verbatim
 * under `properties.qupath` (`feature`: the Feature's other members; `properties`: its properties but the
 * classification; `classification`: as written) and written back by the export. The classification is written
 * back as it was while the label still is the code it was imported as (kept in the stash); a relabelled annotation
 * gets the class name of its new code (from a mapping, or the caller's naming), so an edit in Kura is never hidden
 * by the stored original.
 */
import type { Annotation, CodeRef, Geometry } from '../model.ts'
import type { AnnotationDraft, ImportResult } from './draft.ts'
import { InterchangeErrors } from './errors.ts'
import { checkGeometry, shapeOf } from './geometry.ts'
import { applyPolicy, classNameOf, LabelResolver, sameCode, type ImportOptions, type LabelMapping } from './labels.ts'

const FORMAT = 'QuPath GeoJSON'

/** How the features were wrapped in the file. */
export type QuPathContainer = 'Feature' | 'FeatureArray' | 'FeatureCollection'

type Json = Record<string, unknown>

/** What an imported annotation keeps of its QuPath feature (under `properties.qupath`). */
export interface QuPathStash {
  /** The Feature's members other than type, geometry and properties (id, nucleusGeometry, ...). */
  feature: Json
  /** Its properties other than classification (name, objectType, color, isLocked, measurements, metadata...). */
  properties: Json
  /** The classification as written; absent when the object had none. */
  classification?: Json
  /** The class name the label was mapped from ("" for none), and the code it was mapped to. */
  className: string
  code: { system: string; code: string }
}

export interface QuPathImport extends ImportResult {
  container: QuPathContainer
  /** Members of a FeatureCollection other than type and features, kept for the export. */
  collection: Json
}

/** The class name QuPath shows: `name`, or the derived class parts joined as QuPath does ("Tumor: Positive"). */
export function qupathClassName(c: unknown): string {
  if (!c || typeof c !== 'object') return ''
  const { name, names } = c as { name?: unknown; names?: unknown }
  if (typeof name === 'string') return name
  if (Array.isArray(names) && names.every((n) => typeof n === 'string')) return names.join(': ')
  throw InterchangeErrors.badFile(FORMAT, 'a classification has neither a name nor a list of names')
}

export function importQuPath(text: string | Uint8Array, opts: ImportOptions): QuPathImport {
  let doc: unknown
  try {
    doc = JSON.parse(typeof text === 'string' ? text : new TextDecoder().decode(text))
  } catch (e) {
    throw InterchangeErrors.badFile(FORMAT, `the JSON does not parse (${(e as Error).message})`)
  }
  let features: unknown[]
  let container: QuPathContainer
  let collection: Json = {}
  if (Array.isArray(doc)) {
    features = doc
    container = 'FeatureArray'
  } else if (doc && typeof doc === 'object' && (doc as Json).type === 'FeatureCollection') {
    const { type: _t, features: f, ...rest } = doc as Json
    if (!Array.isArray(f)) throw InterchangeErrors.badFile(FORMAT, 'the FeatureCollection has no features list')
    features = f
    container = 'FeatureCollection'
    collection = rest
  } else if (doc && typeof doc === 'object' && (doc as Json).type === 'Feature') {
    features = [doc]
    container = 'Feature'
  } else throw InterchangeErrors.badFile(FORMAT, 'the top level is neither a Feature, a list of Features nor a FeatureCollection')

  const resolver = new LabelResolver(opts.labels)
  const drafts = features.map((f, i): AnnotationDraft | null => {
    if (!f || typeof f !== 'object' || (f as Json).type !== 'Feature') throw InterchangeErrors.badFile(FORMAT, `item ${i} is not a Feature`)
    const { type: _t, geometry, properties, ...feature } = f as Json
    const geom = checkGeometry(FORMAT, geometry)
    if (properties !== undefined && (properties === null || typeof properties !== 'object' || Array.isArray(properties)))
      throw InterchangeErrors.badFile(FORMAT, `the properties of feature ${i} are not an object`)
    const { classification, ...props } = (properties ?? {}) as Json
    const className = qupathClassName(classification)
    const label = resolver.resolve(className)
    if (!label) return null
    const stash: QuPathStash = { feature, properties: props, className, code: { system: label.system, code: label.code } }
    if (classification !== undefined) stash.classification = classification as Json
    // `properties` absent in the file must stay absent: record that it was.
    if (properties === undefined) stash.feature = { ...feature, '#noProperties': true }
    return { shape: shapeOf(geom), geometry: geom, label, properties: { qupath: stash } }
  })
  return { ...applyPolicy(drafts, resolver, opts.onUnmapped), container, collection }
}

export interface QuPathExportOptions {
  container?: QuPathContainer
  /** Members to put back on a FeatureCollection (from the import). */
  collection?: Json
  /** A class name per code (e.g. the import's mapping): relabelled and Kura-drawn annotations are named from it. */
  labels?: LabelMapping
  /** Class name and colour for a code the mapping does not name (default: the code itself, no colour). */
  classOf?: (code: CodeRef) => { name: string; color?: [number, number, number] }
}

function classification(a: Annotation, stash: QuPathStash | undefined, opts: QuPathExportOptions): Json | undefined {
  // Unchanged label: the classification exactly as it came (colour, derived names and all).
  if (stash && sameCode(stash.code, a.label)) return stash.classification
  const name = (opts.labels && classNameOf(opts.labels, a.label)) ?? null
  if (name === '') return undefined
  const c = name !== null ? { name } : (opts.classOf?.(a.label) ?? { name: a.label.code })
  return c.color ? { name: c.name, color: c.color } : { name: c.name }
}

/** One annotation as a QuPath Feature. */
export function toQuPathFeature(a: Annotation, opts: QuPathExportOptions = {}): Json {
  const stash = (a.properties?.qupath ?? undefined) as QuPathStash | undefined
  const { '#noProperties': noProps, ...feature } = stash?.feature ?? { id: a.id }
  const props: Json = stash ? { ...stash.properties } : { objectType: 'annotation' }
  const cls = classification(a, stash, opts)
  if (cls !== undefined) props.classification = cls
  const out: Json = { type: 'Feature', ...feature, geometry: a.geometry as Geometry }
  if (!noProps || Object.keys(props).length) out.properties = props
  return out
}

/** Annotations as a QuPath GeoJSON document (a value to JSON.stringify). */
export function exportQuPath(annotations: Annotation[], opts: QuPathExportOptions = {}): unknown {
  const features = annotations.map((a) => toQuPathFeature(a, opts))
  switch (opts.container ?? 'FeatureCollection') {
    case 'Feature':
      if (features.length !== 1) throw InterchangeErrors.badExport(`A single-Feature QuPath file holds exactly one annotation, not ${features.length}; export a FeatureCollection.`)
      return features[0]
    case 'FeatureArray':
      return features
    case 'FeatureCollection':
      return { type: 'FeatureCollection', ...(opts.collection ?? {}), features }
  }
}
