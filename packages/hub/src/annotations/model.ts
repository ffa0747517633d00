/**
 * @module The annotation model shared by the catalog, the HTTP API, tasks and interchange formats.
 *
 * Geometry is GeoJSON (RFC 7946 shapes, not its WGS 84 meaning) in the image's own pixel space: for a slide,
 * level-0 pixels with x to the right and y down, as QuPath and OpenSlide use; for a DICOM image, its
 * column/row. Polygons are closed rings, the first the outline and the rest holes. A rectangle and an ellipse are
 * stored as polygons too (so every query and metric treats them alike), and keep their shape kind (and the
 * ellipse its parameters) so editors and exporters can give them back as drawn.
 */

export type Position = [number, number]

export type Geometry =
  | { type: 'Point'; coordinates: Position }
  | { type: 'MultiPoint'; coordinates: Position[] }
  | { type: 'LineString'; coordinates: Position[] }
  | { type: 'Polygon'; coordinates: Position[][] }
  | { type: 'MultiPolygon'; coordinates: Position[][][] }

/** How the shape was drawn. `mask` is a brush-painted region, stored as its (Multi)Polygon outline. */
export type ShapeKind = 'point' | 'polyline' | 'rectangle' | 'ellipse' | 'polygon' | 'mask'
export const SHAPE_KINDS: readonly ShapeKind[] = ['point', 'polyline', 'rectangle', 'ellipse', 'polygon', 'mask']

export type AnnotationStatus = 'draft' | 'submitted' | 'accepted' | 'rejected'
export const ANNOTATION_STATUSES: readonly AnnotationStatus[] = ['draft', 'submitted', 'accepted', 'rejected']

/** A label is always a code from a vocabulary, never free text. */
export interface CodeRef {
  /** The vocabulary's code system (`KURA-HE-TISSUE`, `KURA-GROUP`, `SNOMED-CT`, ...). */
  system: string
  code: string
  /** The vocabulary version the code was chosen from (filled in by the hub when absent). */
  version?: string
}

/** What an annotation or image-level label is on. */
export type AnnotationTarget =
  | { kind: 'slide'; slideId: string }
  | { kind: 'instance'; studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUid: string; frame?: number }

export interface Annotation {
  id: string
  target: AnnotationTarget
  shape: ShapeKind
  geometry: Geometry
  /** For `ellipse`: centre, radii and rotation (radians) as drawn; `geometry` holds its polygon. */
  ellipse?: { cx: number; cy: number; rx: number; ry: number; rotation: number }
  label: CodeRef
  /** User id, or `ai:<model>` for a model's output. */
  author: string
  createdAt: string
  updatedAt: string
  /** 0..1 for AI results; null for people. */
  confidence: number | null
  status: AnnotationStatus
  /** The annotation task it was made in, if any. */
  taskId: string | null
  /**
   * Whatever else the source carried that we do not model (QuPath name, colour, measurements, Cytomine term ids,
   * ASAP group): kept so an export gives back what an import took in.
   */
  properties?: Record<string, unknown>
}

/** A label on a whole image (a slide's diagnosis, an endoscopy frame's finding). */
export interface ImageLabel {
  id: string
  target: AnnotationTarget
  label: CodeRef
  author: string
  createdAt: string
  confidence: number | null
  status: AnnotationStatus
  taskId: string | null
}

/** Axis-aligned bounds [minX, minY, maxX, maxY] of a geometry. */
export type Bounds = [number, number, number, number]

export function boundsOf(g: Geometry): Bounds {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity
  const visit = (p: Position) => {
    if (p[0] < minX) minX = p[0]
    if (p[0] > maxX) maxX = p[0]
    if (p[1] < minY) minY = p[1]
    if (p[1] > maxY) maxY = p[1]
  }
  switch (g.type) {
    case 'Point': visit(g.coordinates); break
    case 'MultiPoint': case 'LineString': g.coordinates.forEach(visit); break
    case 'Polygon': for (const r of g.coordinates) r.forEach(visit); break
    case 'MultiPolygon': for (const poly of g.coordinates) for (const r of poly) r.forEach(visit); break
  }
  return [minX, minY, maxX, maxY]
}
