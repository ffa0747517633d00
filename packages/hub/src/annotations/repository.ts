/**
 * @module Annotations in the catalog: create (one or many), update, delete, read, list with filters, and the
 * viewport query the slide viewer and the benchmark use. Every change appends an `annotation_revision` row (the
 * annotation as it was after a create or update, before a delete), and the annotation's `seq` is its latest
 * revision, so `annotationSetVersion` (the largest seq) pins what an export saw.
 *
 * These functions check data (geometry, labels against the collection's vocabularies, status transitions), never
 * who asks: the HTTP routes and task code decide who may call them. Deletes are hard deletes; the revision log
 * keeps what was deleted.
 */
import { newId } from '@kura/core'
import { sql, PostgresAdapter, type Kysely, type Selectable } from 'kysely'
import type { Database } from '@kura/storage'
import { AnnotationErrors } from './errors.ts'
import { geometryFacts, lodColumn, lodGeometries, lodTierFor, normaliseGeometry } from './geometry.ts'
import { ANNOTATION_STATUSES, SHAPE_KINDS, type Annotation, type AnnotationStatus, type AnnotationTarget, type CodeRef, type Geometry, type ShapeKind } from './model.ts'
import { canTransition } from './status.ts'
import { resolveLabel, type ResolvedLabel } from './vocabularies.ts'

type Db = Kysely<Database>
/** The columns an annotation is read back from (the derived ones exist for the index and metrics only). */
const READ_COLUMNS = ['id', 'collection_id', 'slide_id', 'study_instance_uid', 'series_instance_uid', 'sop_instance_uid', 'frame', 'shape', 'geometry', 'ellipse', 'label_system', 'label_code', 'vocabulary_id', 'author', 'created_at', 'updated_at', 'confidence', 'status', 'task_id', 'properties', 'seq'] as const
const TARGET_COLUMNS = ['slide_id', 'study_instance_uid', 'series_instance_uid', 'sop_instance_uid', 'frame'] as const
type AnnotationRow = Pick<Selectable<Database['annotation']>, (typeof READ_COLUMNS)[number]>
/** A viewport row: `geometry` is the stored simplified text of the tier read, `simplified` 1 when it was one. */
type ViewportRow = AnnotationRow & { simplified: number | boolean }

/** An annotation as stored: the model plus the collection it belongs to and its revision number. */
export interface StoredAnnotation extends Annotation {
  collectionId: string
  seq: number
}

/** What a caller supplies to create an annotation; the hub fills in ids, times and the label's version. */
export interface AnnotationInput {
  /** Keep an id from an import; a new uuidv7 otherwise. */
  id?: string
  target: AnnotationTarget
  shape: ShapeKind
  geometry: Geometry
  ellipse?: Annotation['ellipse']
  label: CodeRef
  author: string
  confidence?: number | null
  status?: AnnotationStatus
  taskId?: string | null
  properties?: Record<string, unknown>
  /** Keep the creation time from an import; now otherwise. */
  createdAt?: string
}

/** What an update may change. Absent fields stay; `null` clears confidence, task or properties. */
export interface AnnotationPatch {
  shape?: ShapeKind
  geometry?: Geometry
  ellipse?: Annotation['ellipse'] | null
  label?: CodeRef
  status?: AnnotationStatus
  confidence?: number | null
  taskId?: string | null
  properties?: Record<string, unknown> | null
}

export interface AnnotationFilter {
  /** Label codes (any system). */
  labels?: string[]
  authors?: string[]
  statuses?: AnnotationStatus[]
  taskIds?: string[]
  /**
   * Blind reading: readers' work inside tasks is hidden from everyone but its author (and reviewers, who do not set
   * this), so annotators do not see each other's answers. Accepted work (the ground truth) stays visible.
   */
  blindTo?: string
}

export interface AnnotationListQuery extends AnnotationFilter {
  /** One image; or all of a collection (with collectionId). At least one of the two. */
  target?: AnnotationTarget
  collectionId?: string
  /** Page size (default 1000, at most 10,000). Results are in id order (creation order). */
  limit?: number
  /** Id of the last annotation of the previous page. */
  after?: string
}

export interface Viewport {
  x: number
  y: number
  w: number
  h: number
  /** Level-0 pixels per screen pixel (1 at full resolution, 32 when zoomed out 32×). */
  scale?: number
  /** false: never answer with a density grid (shapes only, truncated at the limit). Default true. */
  density?: boolean
}

/**
 * Counts of matching annotations per grid cell and label: what a zoomed-out viewport over more shapes than its
 * limit answers with (`mode: 'density'`), read from `annotation_density` (migration 000012). A shape counts in the
 * cell holding the centre of its bounds.
 */
export interface DensityGrid {
  /** Cell side in level-0 pixels: cell (gx, gy) covers [gx·cellSize, (gx+1)·cellSize) × [gy·cellSize, (gy+1)·cellSize). */
  cellSize: number
  /** The labels `cells` index into. */
  labels: { system: string; code: string }[]
  /** Flat quadruples [gx, gy, label index, count, gx, gy, ...], count > 0. */
  cells: number[]
  /** Sum of the counts: every matching shape whose centre is in a cell overlapping the viewport. */
  total: number
}

export interface ViewportResult {
  /**
   * 'shapes': `annotations` are every matching shape in view (unless `truncated`). 'density': zoomed out over more
   * shapes than the limit, `density` counts them all per grid cell and `annotations` holds only the shapes at
   * least `minExtent` (one density cell) across, which are drawn as shapes too. Never a full set in that mode.
   */
  mode: 'shapes' | 'density'
  density?: DensityGrid
  annotations: StoredAnnotation[]
  /** Rows returned. */
  count: number
  /** More shapes matched than `limit`: zoom in or filter. */
  truncated: boolean
  /** Some polygon or line lost vertices to simplification (at `tolerance`, at most one screen pixel). */
  simplified: boolean
  /** The simplification tolerance read, in level-0 pixels (a stored tier ≤ scale, so under one screen pixel); 0: full geometry. */
  tolerance: number
  /** Shapes whose larger side is below this many level-0 pixels were left out (about one screen pixel). */
  minExtent: number
  limit: number
}

export const VIEWPORT_DEFAULT_LIMIT = 5000
export const VIEWPORT_MAX_LIMIT = 50_000
const LIST_DEFAULT_LIMIT = 1000
const LIST_MAX_LIMIT = 10_000
/** Rows per INSERT: about 30 parameters each, under SQLite's 32,766 and PostgreSQL's 65,535. */
const CHUNK = 500
/** The partial GiST indexes of migration 000007 (PostgreSQL), by `lod_extent`. */
const LOD_TIERS = [16, 64, 256, 1024] as const
/** The cell sizes `annotation_density` holds (migration 000012), level-0 pixels. */
export const DENSITY_CELLS = [256, 512, 1024, 2048, 4096, 8192, 16384] as const
/**
 * Zoomed out this far or more (level-0 pixels per screen pixel: cells are then a few screen pixels across), a
 * viewport over more matching shapes than its limit is answered with a density grid rather than a capped subset.
 */
export const DENSITY_MIN_SCALE = 4
/**
 * A density cell is at least this many screen pixels across (under twice that: cell sizes double), so a 1600 × 1000
 * screen holds at most ~1,600 cells. At 16 px (~6,000 cells, ~30,000 rows with 5 labels) a read cost up to 36 ms of
 * Node CPU at 1,000,000 annotations.
 */
const DENSITY_CELL_SCREEN_PX = 32

const postgres = (db: Db) => db.getExecutor().adapter instanceof PostgresAdapter

async function inTransaction<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn)
}

// ---------------------------------------------------------------------------------------------- targets

/** The catalog columns of a target. */
export function targetColumns(t: AnnotationTarget) {
  return t.kind === 'slide'
    ? { slide_id: t.slideId, study_instance_uid: null, series_instance_uid: null, sop_instance_uid: null, frame: null }
    : { slide_id: null, study_instance_uid: t.studyInstanceUid, series_instance_uid: t.seriesInstanceUid, sop_instance_uid: t.sopInstanceUid, frame: t.frame ?? null }
}

export function targetOfRow(r: { slide_id: string | null; study_instance_uid: string | null; series_instance_uid: string | null; sop_instance_uid: string | null; frame: number | null }): AnnotationTarget {
  if (r.slide_id) return { kind: 'slide', slideId: r.slide_id }
  const t: AnnotationTarget = { kind: 'instance', studyInstanceUid: r.study_instance_uid ?? '', seriesInstanceUid: r.series_instance_uid ?? '', sopInstanceUid: r.sop_instance_uid ?? '' }
  if (r.frame != null) t.frame = Number(r.frame)
  return t
}

/**
 * The collections a target's image is stored in (a slide is in one; a DICOM instance may be in several), for the
 * caller to pick one the principal may use. Empty when the image is not in the archive.
 */
export async function targetCollections(db: Db, target: AnnotationTarget): Promise<{ id: string; name: string }[]> {
  if (target.kind === 'slide') {
    if (!/^[0-9a-f-]{36}$/.test(target.slideId)) return []
    return db.selectFrom('slide as s').innerJoin('collection as c', 'c.id', 's.collection_id').select(['c.id', 'c.name']).where('s.id', '=', target.slideId).execute()
  }
  return db
    .selectFrom('instance as i')
    .innerJoin('series as se', 'se.id', 'i.series_id')
    .innerJoin('study as st', 'st.id', 'i.study_id')
    .innerJoin('collection as c', 'c.id', 'st.collection_id')
    .select(['c.id', 'c.name'])
    .where('i.sop_instance_uid', '=', target.sopInstanceUid)
    .where('se.series_instance_uid', '=', target.seriesInstanceUid)
    .where('st.study_instance_uid', '=', target.studyInstanceUid)
    .distinct()
    .execute()
}

function whereTarget<Q extends { where: (...a: any[]) => Q }>(q: Q, t: AnnotationTarget, prefix = ''): Q {
  if (t.kind === 'slide') return q.where(`${prefix}slide_id`, '=', t.slideId)
  q = q.where(`${prefix}sop_instance_uid`, '=', t.sopInstanceUid).where(`${prefix}series_instance_uid`, '=', t.seriesInstanceUid).where(`${prefix}study_instance_uid`, '=', t.studyInstanceUid)
  return t.frame == null ? q : q.where(`${prefix}frame`, '=', t.frame)
}

// ---------------------------------------------------------------------------------------------- rows

/** Vocabulary versions by id: vocabulary rows never change, so this never goes stale. */
const versions = new Map<string, string>()

async function versionsOf(db: Db, ids: Iterable<string>): Promise<void> {
  const missing = [...new Set(ids)].filter((id) => !versions.has(id))
  if (!missing.length) return
  for (const r of await db.selectFrom('vocabulary').select(['id', 'version']).where('id', 'in', missing).execute()) versions.set(r.id, r.version)
}

/** `target`: the slide a viewport read was of (its rows leave the target columns out). */
function annotationOf(r: AnnotationRow, target?: AnnotationTarget): StoredAnnotation {
  const a: StoredAnnotation = {
    id: r.id,
    target: target ?? targetOfRow(r),
    shape: r.shape as ShapeKind,
    geometry: JSON.parse(r.geometry) as Geometry,
    label: { system: r.label_system, code: r.label_code, version: versions.get(r.vocabulary_id) },
    author: r.author,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    confidence: r.confidence == null ? null : Number(r.confidence),
    status: r.status,
    taskId: r.task_id,
    collectionId: r.collection_id,
    seq: Number(r.seq),
  }
  if (r.ellipse) a.ellipse = JSON.parse(r.ellipse)
  if (r.properties) a.properties = JSON.parse(r.properties)
  return a
}

async function annotationsOf(db: Db, rows: AnnotationRow[]): Promise<StoredAnnotation[]> {
  await versionsOf(db, rows.map((r) => r.vocabulary_id))
  return rows.map((r) => annotationOf(r))
}

function checkScalars(x: { shape?: unknown; status?: unknown; confidence?: unknown; taskId?: unknown; properties?: unknown; ellipse?: unknown }): void {
  if (x.shape !== undefined && !SHAPE_KINDS.includes(x.shape as ShapeKind)) throw AnnotationErrors.badRequest(`"shape" is one of ${SHAPE_KINDS.join(', ')}.`)
  if (x.status !== undefined && !ANNOTATION_STATUSES.includes(x.status as AnnotationStatus)) throw AnnotationErrors.badRequest(`"status" is one of ${ANNOTATION_STATUSES.join(', ')}.`)
  if (x.confidence != null && (typeof x.confidence !== 'number' || !(x.confidence >= 0 && x.confidence <= 1))) throw AnnotationErrors.badRequest('"confidence" is a number from 0 to 1 (or null for a person\'s annotation).')
  if (x.taskId != null && typeof x.taskId !== 'string') throw AnnotationErrors.badRequest('"taskId" is a task id (string) or null.')
  if (x.properties != null && (typeof x.properties !== 'object' || Array.isArray(x.properties))) throw AnnotationErrors.badRequest('"properties" is a JSON object.')
  if (x.ellipse != null) {
    const e = x.ellipse as Record<string, unknown>
    if (typeof e !== 'object' || !['cx', 'cy', 'rx', 'ry', 'rotation'].every((k) => typeof e[k] === 'number' && Number.isFinite(e[k]))) {
      throw AnnotationErrors.badRequest('"ellipse" is { cx, cy, rx, ry, rotation } with finite numbers.')
    }
  }
}

function rowValues(id: string, collectionId: string, a: { target: AnnotationTarget; shape: ShapeKind; geometry: Geometry; ellipse?: Annotation['ellipse'] | null; confidence?: number | null; status: AnnotationStatus; taskId?: string | null; properties?: Record<string, unknown> | null; author: string; createdAt: string; updatedAt: string }, label: ResolvedLabel, seq: number) {
  const f = geometryFacts(a.geometry)
  return {
    id,
    collection_id: collectionId,
    ...targetColumns(a.target),
    shape: a.shape,
    geometry: JSON.stringify(a.geometry),
    ellipse: a.ellipse ? JSON.stringify(a.ellipse) : null,
    min_x: f.bounds[0],
    min_y: f.bounds[1],
    max_x: f.bounds[2],
    max_y: f.bounds[3],
    lod_extent: f.lodExtent,
    ...lodGeometries(a.geometry, f.lodExtent),
    area: f.area,
    vertex_count: f.vertexCount,
    label_system: label.system,
    label_code: label.code,
    vocabulary_id: label.vocabularyId,
    author: a.author,
    created_at: a.createdAt,
    updated_at: a.updatedAt,
    confidence: a.confidence ?? null,
    status: a.status,
    task_id: a.taskId ?? null,
    properties: a.properties ? JSON.stringify(a.properties) : null,
    seq,
  }
}

function snapshotOf(a: StoredAnnotation): string {
  const { seq: _seq, ...rest } = a
  return JSON.stringify(rest)
}

// ---------------------------------------------------------------------------------------------- writes

/**
 * Creates annotations in one collection, in one transaction (all or none). Labels are checked against the
 * collection's vocabularies (VOCABULARY_* errors), geometry against its shape (ANNOTATION_BAD_GEOMETRY). The
 * caller has checked that each target is in this collection (targetCollections).
 */
export async function createAnnotations(db: Db, collectionId: string, inputs: AnnotationInput[]): Promise<StoredAnnotation[]> {
  if (!inputs.length) return []
  const labels = new Map<string, ResolvedLabel>()
  const now = new Date().toISOString()
  const prepared: StoredAnnotation[] = []
  const resolved: ResolvedLabel[] = []
  for (const input of inputs) {
    checkScalars(input)
    if (!input.author) throw AnnotationErrors.badRequest('An annotation needs an author.')
    const geometry = normaliseGeometry(input.shape, input.geometry)
    const key = `${input.label?.system}\u0000${input.label?.version ?? ''}\u0000${input.label?.code}`
    let label = labels.get(key)
    if (!label) labels.set(key, (label = await resolveLabel(db, collectionId, input.label)))
    versions.set(label.vocabularyId, label.version)
    resolved.push(label)
    const a: StoredAnnotation = {
      id: input.id ?? newId(),
      target: input.target,
      shape: input.shape,
      geometry,
      label: { system: label.system, code: label.code, version: label.version },
      author: input.author,
      createdAt: input.createdAt ?? now,
      updatedAt: now,
      confidence: input.confidence ?? null,
      status: input.status ?? 'draft',
      taskId: input.taskId ?? null,
      collectionId,
      seq: 0,
    }
    if (input.ellipse) a.ellipse = input.ellipse
    if (input.properties) a.properties = input.properties
    prepared.push(a)
  }
  await inTransaction(db, async (tx) => {
    for (let i = 0; i < prepared.length; i += CHUNK) {
      const chunk = prepared.slice(i, i + CHUNK)
      const seqs = await tx
        .insertInto('annotation_revision')
        .values(chunk.map((a) => ({ annotation_id: a.id, collection_id: collectionId, op: 'create' as const, author: a.author, at: now, snapshot: snapshotOf(a) })))
        .returning(['seq', 'annotation_id'])
        .execute()
      const seqOf = new Map(seqs.map((s) => [s.annotation_id, Number(s.seq)]))
      for (const a of chunk) a.seq = seqOf.get(a.id)!
      await tx.insertInto('annotation').values(chunk.map((a, j) => rowValues(a.id, collectionId, a, resolved[i + j]!, a.seq))).execute()
    }
  })
  return prepared
}

export async function createAnnotation(db: Db, collectionId: string, input: AnnotationInput): Promise<StoredAnnotation> {
  return (await createAnnotations(db, collectionId, [input]))[0]!
}

/**
 * Changes an annotation; `actor` is recorded in the revision (the author field stays the original author).
 * Throws ANNOTATION_NOT_FOUND, ANNOTATION_BAD_STATUS for a transition that does not exist, and the label and
 * geometry errors of createAnnotations.
 */
export async function updateAnnotation(db: Db, id: string, patch: AnnotationPatch, actor: string): Promise<StoredAnnotation> {
  checkScalars(patch)
  return inTransaction(db, async (tx) => {
    const current = await getAnnotation(tx, id)
    if (!current) throw AnnotationErrors.notFound()
    if (patch.status && !canTransition(current.status, patch.status)) throw AnnotationErrors.badStatus(current.status, patch.status)
    const shape = patch.shape ?? current.shape
    const geometry = patch.geometry !== undefined || patch.shape !== undefined ? normaliseGeometry(shape, patch.geometry ?? current.geometry) : current.geometry
    const label = patch.label
      ? await resolveLabel(tx, current.collectionId, patch.label)
      : await labelOfRow(tx, id)
    versions.set(label.vocabularyId, label.version)
    const next: StoredAnnotation = {
      ...current,
      shape,
      geometry,
      label: { system: label.system, code: label.code, version: label.version },
      status: patch.status ?? current.status,
      confidence: patch.confidence !== undefined ? patch.confidence : current.confidence,
      taskId: patch.taskId !== undefined ? patch.taskId : current.taskId,
      updatedAt: new Date().toISOString(),
    }
    if (patch.ellipse !== undefined) {
      if (patch.ellipse) next.ellipse = patch.ellipse
      else delete next.ellipse
    }
    if (shape !== 'ellipse') delete next.ellipse
    if (patch.properties !== undefined) {
      if (patch.properties) next.properties = patch.properties
      else delete next.properties
    }
    const rev = await tx
      .insertInto('annotation_revision')
      .values({ annotation_id: id, collection_id: current.collectionId, op: 'update', author: actor, at: next.updatedAt, snapshot: snapshotOf(next) })
      .returning('seq')
      .executeTakeFirstOrThrow()
    next.seq = Number(rev.seq)
    const { id: _id, collection_id: _c, created_at: _ca, author: _a, ...values } = rowValues(id, current.collectionId, next, label, next.seq)
    await tx.updateTable('annotation').set(values).where('id', '=', id).execute()
    return next
  })
}

async function labelOfRow(db: Db, id: string): Promise<ResolvedLabel> {
  const r = await db.selectFrom('annotation as a').innerJoin('vocabulary as v', 'v.id', 'a.vocabulary_id').select(['a.vocabulary_id', 'a.label_system', 'a.label_code', 'v.version']).where('a.id', '=', id).executeTakeFirstOrThrow()
  return { vocabularyId: r.vocabulary_id, system: r.label_system, code: r.label_code, version: r.version }
}

/** Deletes an annotation (its last state stays in the revision log). False when it did not exist. */
export async function deleteAnnotation(db: Db, id: string, actor: string): Promise<boolean> {
  return inTransaction(db, async (tx) => {
    const current = await getAnnotation(tx, id)
    if (!current) return false
    await tx
      .insertInto('annotation_revision')
      .values({ annotation_id: id, collection_id: current.collectionId, op: 'delete', author: actor, at: new Date().toISOString(), snapshot: snapshotOf(current) })
      .execute()
    await tx.deleteFrom('annotation').where('id', '=', id).execute()
    return true
  })
}

// ---------------------------------------------------------------------------------------------- reads

export async function getAnnotation(db: Db, id: string): Promise<StoredAnnotation | undefined> {
  const r = await db.selectFrom('annotation').select(READ_COLUMNS).where('id', '=', id).executeTakeFirst()
  return r && (await annotationsOf(db, [r]))[0]
}

export async function getAnnotations(db: Db, ids: string[]): Promise<StoredAnnotation[]> {
  if (!ids.length) return []
  const rows: AnnotationRow[] = []
  for (let i = 0; i < ids.length; i += CHUNK) rows.push(...(await db.selectFrom('annotation').select(READ_COLUMNS).where('id', 'in', ids.slice(i, i + CHUNK)).execute()))
  return annotationsOf(db, rows)
}

function applyFilter<Q extends { where: (...a: any[]) => Q }>(q: Q, f: AnnotationFilter, prefix = ''): Q {
  if (f.labels?.length) q = q.where(`${prefix}label_code`, 'in', f.labels)
  if (f.authors?.length) q = q.where(`${prefix}author`, 'in', f.authors)
  if (f.statuses?.length) q = q.where(`${prefix}status`, 'in', f.statuses)
  if (f.taskIds?.length) q = q.where(`${prefix}task_id`, 'in', f.taskIds)
  if (f.blindTo !== undefined) {
    const me = f.blindTo
    q = q.where((eb: any) => eb.or([eb(`${prefix}task_id`, 'is', null), eb(`${prefix}author`, '=', me), eb(`${prefix}status`, '=', 'accepted')]))
  }
  return q
}

/** Annotations of one image or one collection, filtered, in creation (id) order, a page at a time. */
export async function listAnnotations(db: Db, query: AnnotationListQuery): Promise<StoredAnnotation[]> {
  if (!query.target && !query.collectionId && !query.taskIds?.length) throw AnnotationErrors.badRequest('List annotations of an image, a collection or a task.')
  let q = db.selectFrom('annotation').select(READ_COLUMNS)
  if (query.target) q = whereTarget(q, query.target)
  if (query.collectionId) q = q.where('collection_id', '=', query.collectionId)
  q = applyFilter(q, query)
  if (query.after) q = q.where('id', '>', query.after)
  const limit = Math.min(Math.max(1, Math.floor(query.limit ?? LIST_DEFAULT_LIMIT)), LIST_MAX_LIMIT)
  return annotationsOf(db, await q.orderBy('id').limit(limit).execute())
}

/**
 * Shapes whose bounding box overlaps the viewport (edges included), at most `limit`. Zoomed out (`scale` > 1),
 * shapes whose larger side is under `scale` level-0 pixels (under a screen pixel) are left out, points excepted,
 * and the rest come simplified (Douglas-Peucker, done at write time) at the largest stored tolerance ≤ `scale`
 * (2, 8, 32 or 128 level-0 pixels; full geometry below scale 2). The spatial index does the
 * work on both engines (R*Tree on SQLite, GiST on PostgreSQL); see migration 000007.
 *
 * Zoomed out at least DENSITY_MIN_SCALE over more matching shapes than `limit` (on a slide), the answer is a
 * density grid instead (`mode: 'density'`, see ViewportResult): a capped subset would show part of the tissue
 * annotated and the rest bare, and all of them is hundreds of thousands of shapes no screen can tell apart.
 */
export async function queryViewport(db: Db, target: AnnotationTarget, view: Viewport, filter: AnnotationFilter = {}, limit = VIEWPORT_DEFAULT_LIMIT): Promise<ViewportResult> {
  const { density, minExtent } = await densityChoice(db, target, view, filter, limit)
  const { rows, ...meta } = await viewportRows(db, target, view, filter, limit, minExtent)
  await versionsOf(db, rows.map((r) => r.vocabulary_id))
  const known = target.kind === 'slide' ? target : undefined
  return { mode: density ? 'density' : 'shapes', ...(density && { density }), annotations: rows.map((r) => annotationOf(r, known)), count: rows.length, ...meta }
}

/**
 * queryViewport for the HTTP route: the same answer, with `annotations` as JSON text spliced from the stored
 * GeoJSON text (no JSON.parse, no object per vertex), which is most of a dense viewport's cost in Node.
 * `JSON.parse(annotationsJson)` equals queryViewport's `annotations`.
 */
export async function queryViewportJson(db: Db, target: AnnotationTarget, view: Viewport, filter: AnnotationFilter = {}, limit = VIEWPORT_DEFAULT_LIMIT): Promise<Omit<ViewportResult, 'annotations'> & { annotationsJson: string }> {
  const { density, minExtent } = await densityChoice(db, target, view, filter, limit)
  const mode = density ? ('density' as const) : ('shapes' as const)
  if (postgres(db) && target.kind === 'slide') return { mode, ...(density && { density }), ...(await viewportJsonInPostgres(db, target, view, filter, limit, minExtent)) }
  const { rows, ...meta } = await viewportRows(db, target, view, filter, limit, minExtent)
  await versionsOf(db, rows.map((r) => r.vocabulary_id))
  const known = target.kind === 'slide' ? JSON.stringify(target) : undefined
  return { mode, ...(density && { density }), annotationsJson: `[${rows.map((r) => annotationJsonOf(r, known)).join(',')}]`, count: rows.length, ...meta }
}

const scaleOf = (view: Viewport) => (view.scale != null && Number.isFinite(view.scale) && view.scale > 0 ? view.scale : 1)
const capOf = (limit: number) => Math.min(Math.max(1, Math.floor(limit)), VIEWPORT_MAX_LIMIT)

/** The density grid when the viewport gets one (and the smallest shape extent to list beside it); nothing otherwise. */
async function densityChoice(db: Db, target: AnnotationTarget, view: Viewport, filter: AnnotationFilter, limit: number): Promise<{ density?: DensityGrid; minExtent?: number }> {
  const density = await viewportDensity(db, target, view, filter)
  if (!density || density.total <= capOf(limit)) return {}
  // Shapes larger than a density cell stay shapes (a tumour outline, a region): the grid cannot draw them.
  return { density, minExtent: density.cellSize }
}

/**
 * Counts of the annotations matching `filter` per grid cell and label over a zoomed-out slide viewport, from
 * `annotation_density`; undefined where counts cannot answer: not a slide, zoomed in under DENSITY_MIN_SCALE,
 * `density: false`, or a filter by author or task (the counts are kept per label, status and task visibility only).
 * Blind reading (`blindTo`) counts the work nobody hides plus the reader's own hidden work (read from `annotation`:
 * one person's open task work is small).
 */
export async function viewportDensity(db: Db, target: AnnotationTarget, view: Viewport, filter: AnnotationFilter = {}): Promise<DensityGrid | undefined> {
  const scale = scaleOf(view)
  if (view.density === false || target.kind !== 'slide' || scale < DENSITY_MIN_SCALE || filter.authors?.length || filter.taskIds?.length) return undefined
  checkView(view)
  // The finest cell at least DENSITY_CELL_SCREEN_PX screen pixels across, coarser while the grid would pass 16,384
  // cells (a viewport far wider than a screen).
  const cells = (c: number) => (Math.floor((view.x + view.w) / c) - Math.floor(view.x / c) + 1) * (Math.floor((view.y + view.h) / c) - Math.floor(view.y / c) + 1)
  const cell = DENSITY_CELLS.find((c) => c >= DENSITY_CELL_SCREEN_PX * scale && cells(c) <= 16_384) ?? DENSITY_CELLS[DENSITY_CELLS.length - 1]
  const [gx0, gy0, gx1, gy1] = [view.x / cell, view.y / cell, (view.x + view.w) / cell, (view.y + view.h) / cell].map(Math.floor) as [number, number, number, number]
  // One row per label with its cells as text "gx,gy,n,gx,gy,n,...": decoding ~8,000 rows of five columns was most of
  // the read's time in Node (the driver builds an object per row).
  const agg = postgres(db) ? sql<string>`string_agg(concat(d.gx, ',', d.gy, ',', d.n), ',')` : sql<string>`group_concat(d.gx || ',' || d.gy || ',' || d.n, ',')`
  const perLabel = await db
    .selectFrom(densityQuery(db, target.slideId, cell, [gx0, gy0, gx1, gy1], filter).as('d'))
    .select(['d.label_system', 'd.label_code', agg.as('cells')])
    .groupBy(['d.label_system', 'd.label_code'])
    .execute()
  const rows: { gx: number; gy: number; label_system: string; label_code: string; n: string | number }[] = []
  const labels: DensityGrid['labels'] = []
  const labelIndex = new Map<string, number>()
  const out: number[] = []
  let total = 0
  for (const r of perLabel) {
    const li = labels.push({ system: r.label_system, code: r.label_code }) - 1
    labelIndex.set(`${r.label_system}\u0000${r.label_code}`, li)
    const xs = (r.cells ?? '').split(',')
    for (let i = 0; i + 2 < xs.length; i += 3) {
      const n = Number(xs[i + 2])
      if (!(n > 0)) continue
      out.push(Number(xs[i]), Number(xs[i + 1]), li, n)
      total += n
    }
  }
  if (filter.blindTo !== undefined) {
    const [cx, cy] = [sql<number>`(min_x + max_x) / 2`, sql<number>`(min_y + max_y) / 2`]
    let own = db
      .selectFrom('annotation')
      .select([sql<number>`cast(floor(${cx} / ${cell}) as integer)`.as('gx'), sql<number>`cast(floor(${cy} / ${cell}) as integer)`.as('gy'), 'label_system', 'label_code', sql<string>`count(*)`.as('n')])
      .where('author', '=', filter.blindTo)
      .where('slide_id', '=', target.slideId)
      .where('task_id', 'is not', null)
      .where('status', '<>', 'accepted')
      .where(sql<boolean>`${cx} >= ${gx0 * cell} and ${cx} < ${(gx1 + 1) * cell} and ${cy} >= ${gy0 * cell} and ${cy} < ${(gy1 + 1) * cell}`)
      .groupBy([sql`1`, sql`2`, 'label_system', 'label_code'])
    if (filter.labels?.length) own = own.where('label_code', 'in', filter.labels)
    if (filter.statuses?.length) own = own.where('status', 'in', filter.statuses)
    rows.push(...(await own.execute()))
  }
  // The reader's own hidden work (few rows): added to the (cell, label) it falls in, or a new one.
  if (rows.length) {
    const at = new Map<string, number>()
    for (let i = 0; i < out.length; i += 4) at.set(`${out[i]},${out[i + 1]},${out[i + 2]}`, i)
    for (const r of rows) {
      const lk = `${r.label_system}\u0000${r.label_code}`
      let li = labelIndex.get(lk)
      if (li === undefined) labelIndex.set(lk, (li = labels.push({ system: r.label_system, code: r.label_code }) - 1))
      const n = Number(r.n)
      total += n
      const i = at.get(`${r.gx},${r.gy},${li}`)
      if (i !== undefined) out[i + 3] += n
      else out.push(Number(r.gx), Number(r.gy), li, n)
    }
  }
  return { cellSize: cell, labels, cells: out, total }
}

/**
 * PostgreSQL writes the JSON text itself, one string for the whole answer: decoding thousands of rows of twenty
 * columns was most of a dense viewport's cost in Node. Measured with 1,000,000 cells and 5,000 rows per answer
 * (bench/annotations.ts, p95): the hub's CPU fell from ~100 to ~20–25 ms a query, PostgreSQL's rose from ~20 to
 * ~50 ms; less in all, and the hub's single event loop is the scarcer of the two. The inner query is
 * viewportQuery's, so the index and the limit work as there.
 */
async function viewportJsonInPostgres(db: Db, target: AnnotationTarget & { kind: 'slide' }, view: Viewport, filter: AnnotationFilter, limit: number, minExtentAtLeast?: number) {
  return inTransaction(db, async (tx) => {
    await sql`set local enable_bitmapscan = off`.execute(tx)
    const { query, minExtent, cap, tolerance } = viewportQuery(tx, target, view, filter, limit, minExtentAtLeast)
    const q = (col: string) => sql`to_json(${sql.ref(`a.${col}`)})`
    const optional = (key: string, col: string) => sql`case when ${sql.ref(`a.${col}`)} is null then '' else concat(${`,"${key}":`}::text, ${sql.ref(`a.${col}`)}) end`
    const annotation = sql`concat(${'{"id":'}::text, ${q('id')}, ${`,"target":${JSON.stringify(target)},"shape":`}::text, ${q('shape')},
      ${',"geometry":'}::text, a.geometry, ${',"label":{"system":'}::text, ${q('label_system')}, ${',"code":'}::text, ${q('label_code')},
      case when v.version is null then '' else concat(${',"version":'}::text, to_json(v.version)) end,
      ${'},"author":'}::text, ${q('author')}, ${',"createdAt":'}::text, ${q('created_at')}, ${',"updatedAt":'}::text, ${q('updated_at')},
      ${',"confidence":'}::text, coalesce(a.confidence::text, 'null'), ${',"status":'}::text, ${q('status')},
      ${',"taskId":'}::text, coalesce(to_json(a.task_id)::text, 'null'), ${',"collectionId":'}::text, ${q('collection_id')},
      ${',"seq":'}::text, a.seq, ${optional('ellipse', 'ellipse')}, ${optional('properties', 'properties')}, '}')`
    const r = await sql<{ n: string; simplified: boolean | null; json: string | null }>`
      select count(*) as n, coalesce(bool_or(a.simplified) filter (where a.rn <= ${cap}), false) as simplified,
        string_agg(${annotation}, ',' order by a.rn) filter (where a.rn <= ${cap}) as json
      from (select l.*, row_number() over () as rn from (${query}) as l) as a
      left join vocabulary as v on v.id = a.vocabulary_id`.execute(tx)
    const row = r.rows[0]!
    const n = Number(row.n)
    return { annotationsJson: `[${row.json ?? ''}]`, count: Math.min(n, cap), truncated: n > cap, simplified: Boolean(row.simplified), tolerance, minExtent, limit: cap }
  })
}

async function viewportRows(db: Db, target: AnnotationTarget, view: Viewport, filter: AnnotationFilter, limit: number, minExtentAtLeast?: number) {
  let rows: ViewportRow[]
  let plan: ReturnType<typeof viewportQuery>
  if (postgres(db)) {
    // A plain GiST index scan streams and stops at the limit; the bitmap scan PostgreSQL often picks reads every
    // match in the viewport first (measured with 1,000,000 cells: 2 ms against 56 ms zoomed in). SET LOCAL needs
    // a transaction.
    const run = async (tx: Db) => {
      await sql`set local enable_bitmapscan = off`.execute(tx)
      plan = viewportQuery(tx, target, view, filter, limit, minExtentAtLeast)
      return (await plan.query.execute()) as ViewportRow[]
    }
    rows = db.isTransaction ? await run(db) : await db.transaction().execute(run)
  } else {
    plan = viewportQuery(db, target, view, filter, limit, minExtentAtLeast)
    rows = (await plan.query.execute()) as ViewportRow[]
  }
  const { minExtent, cap, tolerance } = plan!
  const truncated = rows.length > cap
  if (truncated) rows = rows.slice(0, cap)
  // PostgreSQL answers a boolean, SQLite 0/1.
  const simplified = rows.some((r) => r.simplified === true || r.simplified === 1)
  return { rows, truncated, simplified, tolerance, minExtent, limit: cap }
}

/** One annotation as JSON text, the same as JSON.stringify(annotationOf(r)) (keys in the same order). */
function annotationJsonOf(r: AnnotationRow, targetJson?: string): string {
  const q = JSON.stringify
  const version = versions.get(r.vocabulary_id)
  return (
    `{"id":${q(r.id)},"target":${targetJson ?? q(targetOfRow(r))},"shape":${q(r.shape)},"geometry":${r.geometry}` +
    `,"label":{"system":${q(r.label_system)},"code":${q(r.label_code)}${version === undefined ? '' : `,"version":${q(version)}`}}` +
    `,"author":${q(r.author)},"createdAt":${q(r.created_at)},"updatedAt":${q(r.updated_at)},"confidence":${r.confidence == null ? 'null' : Number(r.confidence)}` +
    `,"status":${q(r.status)},"taskId":${r.task_id == null ? 'null' : q(r.task_id)},"collectionId":${q(r.collection_id)},"seq":${Number(r.seq)}` +
    `${r.ellipse ? `,"ellipse":${r.ellipse}` : ''}${r.properties ? `,"properties":${r.properties}` : ''}}`
  )
}

/** The SQL of a density read (grid cells gx0..gx1 × gy0..gy1 of one cell size), for viewportDensity and EXPLAIN in tests. */
export function densityQuery(db: Db, slideId: string, cell: number, [gx0, gy0, gx1, gy1]: [number, number, number, number], filter: AnnotationFilter = {}) {
  let q = db
    .selectFrom('annotation_density')
    .select(['gx', 'gy', 'label_system', 'label_code', sql<string>`sum(n)`.as('n')])
    .where('slide_id', '=', slideId)
    .where('cell', '=', cell)
    // Rows of the grid listed: the B-tree then seeks each row's gx range instead of reading whole rows (7 ms → 0.4 ms
    // for a 26 × 17 grid at 1,000,000 cells).
    .where((eb) => (gy1 - gy0 < 1000 ? eb('gy', 'in', Array.from({ length: gy1 - gy0 + 1 }, (_, i) => gy0 + i)) : eb.and([eb('gy', '>=', gy0), eb('gy', '<=', gy1)])))
    .where('gx', '>=', gx0)
    .where('gx', '<=', gx1)
    .groupBy(['gy', 'gx', 'label_system', 'label_code'])
  if (filter.labels?.length) q = q.where('label_code', 'in', filter.labels)
  if (filter.statuses?.length) q = q.where('status', 'in', filter.statuses)
  if (filter.blindTo !== undefined) q = q.where('hidden', '=', 0)
  return q
}

function checkView(view: Viewport): void {
  for (const k of ['x', 'y', 'w', 'h'] as const) if (!Number.isFinite(view[k])) throw AnnotationErrors.badRequest('A viewport is x, y, w, h in level-0 pixels (numbers).')
  if (view.w < 0 || view.h < 0) throw AnnotationErrors.badRequest('Viewport width and height must not be negative.')
}

/**
 * The SQL of a viewport query (cap + 1 rows, to tell whether it was truncated), for queryViewport and for checking
 * its plan (EXPLAIN) in tests and the benchmark. `minExtentAtLeast`: leave out shapes smaller than this too (the
 * density answer lists only shapes larger than its cells).
 */
export function viewportQuery(db: Db, target: AnnotationTarget, view: Viewport, filter: AnnotationFilter = {}, limit = VIEWPORT_DEFAULT_LIMIT, minExtentAtLeast = 0) {
  checkView(view)
  const scale = scaleOf(view)
  const cap = capOf(limit)
  const minExtent = Math.max(scale > 1 ? scale : 0, minExtentAtLeast)
  const [x1, y1, x2, y2] = [view.x, view.y, view.x + view.w, view.y + view.h]
  // The stored simplification of the largest tier ≤ scale (shapes smaller than the tier are left out anyway).
  const tier = scale > 1 ? lodTierFor(scale) : undefined
  const tolerance = tier ?? 0
  const lod = (prefix: string) => {
    const col = tier ? sql.ref(`${prefix}${lodColumn(tier)}`) : undefined
    return col
      ? [sql<string>`coalesce(${col}, ${sql.ref(`${prefix}geometry`)})`.as('geometry'), sql<boolean>`${col} is not null`.as('simplified')]
      : [sql.ref<string>(`${prefix}geometry`).as('geometry'), sql<boolean>`1 = 0`.as('simplified')]
  }
  // A slide's rows all have the same target: leave its columns out (fewer bytes per row to send and decode).
  const skip = new Set<string>(['geometry', ...(target.kind === 'slide' ? TARGET_COLUMNS : [])])
  const others = READ_COLUMNS.filter((c) => !skip.has(c))
  if (postgres(db)) {
    let q = db
      .selectFrom('annotation')
      .select(others)
      .select(lod(''))
      .where(sql<boolean>`box(point(min_x, min_y), point(max_x, max_y)) && box(point(${x1}, ${y1}), point(${x2}, ${y2}))`)
    q = whereTarget(q, target)
    if (minExtent > 0) {
      q = q.where('lod_extent', '>=', minExtent)
      // A literal the planner can match against a partial index's predicate.
      const tier = [...LOD_TIERS].reverse().find((t) => t <= minExtent)
      if (tier) q = q.where(sql<boolean>`lod_extent >= ${sql.lit(tier)}`)
    }
    return { query: applyFilter(q, filter).limit(cap + 1), scale, minExtent, cap, tolerance }
  }
  // The R*Tree drives the query (CROSS JOIN fixes the join order in SQLite); the exact columns are re-checked
  // because the R*Tree stores 32-bit floats rounded outwards.
  let q = db
    .selectFrom(sql<{ rid: number }>`annotation_rtree`.as('r'))
    .crossJoin('annotation as a')
    .select(others.map((c) => `a.${c}` as const))
    .select(lod('a.'))
    .whereRef('a.rid', '=', sql.ref('r.rid') as never)
    .where(sql<boolean>`r.min_x <= ${x2} and r.max_x >= ${x1} and r.min_y <= ${y2} and r.max_y >= ${y1}`)
    .where('a.min_x', '<=', x2)
    .where('a.max_x', '>=', x1)
    .where('a.min_y', '<=', y2)
    .where('a.max_y', '>=', y1)
  if (minExtent > 0) q = q.where(sql<boolean>`r.max_e >= ${minExtent}`).where('a.lod_extent', '>=', minExtent)
  q = whereTarget(q, target, 'a.')
  return { query: applyFilter(q, filter, 'a.').limit(cap + 1), scale, minExtent, cap, tolerance }
}

/** The annotation set version: the latest revision seq (of one collection, or of all). 0 when nothing was ever annotated. */
export async function annotationSetVersion(db: Db, collectionId?: string): Promise<number> {
  let q = db.selectFrom('annotation_revision').select((eb) => eb.fn.max('seq').as('seq'))
  if (collectionId) q = q.where('collection_id', '=', collectionId)
  const r = await q.executeTakeFirst()
  return Number(r?.seq ?? 0)
}

export interface AnnotationRevision {
  seq: number
  annotationId: string
  op: 'create' | 'update' | 'delete'
  author: string
  at: string
  snapshot: Annotation
}

/** An annotation's history, oldest first (deleted annotations keep theirs). */
export async function annotationHistory(db: Db, id: string): Promise<AnnotationRevision[]> {
  const rows = await db.selectFrom('annotation_revision').selectAll().where('annotation_id', '=', id).orderBy('seq').execute()
  return rows.map((r) => ({ seq: Number(r.seq), annotationId: r.annotation_id, op: r.op, author: r.author, at: r.at, snapshot: JSON.parse(r.snapshot) as Annotation }))
}
