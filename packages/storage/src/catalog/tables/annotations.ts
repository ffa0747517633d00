/**
 * @module Catalog tables: vocabularies and codes, the vocabularies each collection uses, annotations (with their
 * spatial index and revision log) and image-level labels (migration 000007).
 *
 * Geometry, ellipse parameters, properties and revision snapshots are JSON text. Bounds, `lod_extent` (the larger
 * side in level-0 pixels, 1e15 for points so they are never dropped as too small) and `area` are derived from the
 * geometry on write and exist for the spatial index and for metrics. SQLite also has the virtual table
 * `annotation_rtree` (rid, min_x, max_x, min_y, max_y, min_e, max_e), filled by triggers; it is not listed here
 * because only the viewport query reads it, through raw SQL.
 */
import type { Generated } from 'kysely'

export interface VocabularyTable {
  id: string
  /** Code system: `KURA-GROUP`, `KURA-HE-TISSUE`, `SNOMED-CT`, ... */
  system: string
  version: string
  name: string
  name_ja: string
  licence: string
  origin: 'builtin' | 'imported'
  created_at: string
}

export interface VocabularyCodeTable {
  vocabulary_id: string
  code: string
  meaning_en: string
  meaning_ja: string
  parent_code: string | null
  /** Depth in the hierarchy: 0 is the coarsest (a root). */
  level: number
  status: 'active' | 'retired'
  /** Position in the source file, so pickers list codes as the vocabulary orders them. */
  ord: number
}

export interface CollectionVocabularyTable {
  collection_id: string
  vocabulary_id: string
  /** The granularity annotators use (a code level); null: any level. */
  level: number | null
}

export interface AnnotationTable {
  rid: Generated<number>
  id: string
  collection_id: string
  slide_id: string | null
  study_instance_uid: string | null
  series_instance_uid: string | null
  sop_instance_uid: string | null
  frame: number | null
  shape: string
  geometry: string
  ellipse: string | null
  /** The geometry simplified at a tolerance of 2, 8, 32, 128 level-0 pixels (GeoJSON text); null: smaller than that, or unchanged. */
  geometry_lod2: string | null
  geometry_lod8: string | null
  geometry_lod32: string | null
  geometry_lod128: string | null
  min_x: number
  min_y: number
  max_x: number
  max_y: number
  lod_extent: number
  area: number
  vertex_count: number
  label_system: string
  label_code: string
  vocabulary_id: string
  author: string
  created_at: string
  updated_at: string
  confidence: number | null
  status: 'draft' | 'submitted' | 'accepted' | 'rejected'
  task_id: string | null
  properties: string | null
  /** The annotation_revision seq of its latest change. */
  seq: number
}

/** Append-only: one row per create, update and delete, with the annotation as it was after it (before, for delete). */
export interface AnnotationRevisionTable {
  seq: Generated<number>
  annotation_id: string
  collection_id: string
  op: 'create' | 'update' | 'delete'
  author: string
  at: string
  snapshot: string
}

export interface ImageLabelTable {
  id: string
  collection_id: string
  slide_id: string | null
  study_instance_uid: string | null
  series_instance_uid: string | null
  sop_instance_uid: string | null
  frame: number | null
  label_system: string
  label_code: string
  vocabulary_id: string
  author: string
  created_at: string
  confidence: number | null
  status: 'draft' | 'submitted' | 'accepted' | 'rejected'
  task_id: string | null
}

/**
 * Annotation counts per grid cell (migration 000012), kept exact by triggers on `annotation`; never written by the
 * application. `cell` is the cell size in level-0 pixels (256–16,384), `gx`/`gy` the cell's column and row, `hidden`
 * 1 for open task work that blind reading must not count.
 */
export interface AnnotationDensityTable {
  slide_id: string
  cell: number
  gy: number
  gx: number
  label_system: string
  label_code: string
  status: AnnotationTable['status']
  hidden: number
  n: number
}

export interface AnnotationTables {
  vocabulary: VocabularyTable
  vocabulary_code: VocabularyCodeTable
  collection_vocabulary: CollectionVocabularyTable
  annotation: AnnotationTable
  annotation_revision: AnnotationRevisionTable
  annotation_density: AnnotationDensityTable
  image_label: ImageLabelTable
}
