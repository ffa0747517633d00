/**
 * @module Image-level labels in the catalog (a slide's diagnosis, an endoscopy frame's finding): create, read, list,
 * change status or code, delete. Labels are codes checked against the collection's vocabularies, like annotations.
 * As with annotations, these functions check data, never who asks.
 */
import { newId } from '@kura/core'
import type { Kysely, Selectable } from 'kysely'
import type { Database } from '@kura/storage'
import { AnnotationErrors } from './errors.ts'
import { ANNOTATION_STATUSES, type AnnotationStatus, type AnnotationTarget, type CodeRef, type ImageLabel } from './model.ts'
import { targetColumns, targetOfRow, type AnnotationFilter } from './repository.ts'
import { canTransition } from './status.ts'
import { resolveLabel } from './vocabularies.ts'

type Db = Kysely<Database>

export interface StoredImageLabel extends ImageLabel {
  collectionId: string
}

export interface ImageLabelInput {
  id?: string
  target: AnnotationTarget
  label: CodeRef
  author: string
  confidence?: number | null
  status?: AnnotationStatus
  taskId?: string | null
  createdAt?: string
}

export interface ImageLabelPatch {
  label?: CodeRef
  status?: AnnotationStatus
  confidence?: number | null
}

async function labelOf(db: Db, r: Selectable<Database['image_label']>): Promise<StoredImageLabel> {
  const v = await db.selectFrom('vocabulary').select('version').where('id', '=', r.vocabulary_id).executeTakeFirst()
  return {
    id: r.id,
    target: targetOfRow(r),
    label: { system: r.label_system, code: r.label_code, version: v?.version },
    author: r.author,
    createdAt: r.created_at,
    confidence: r.confidence == null ? null : Number(r.confidence),
    status: r.status,
    taskId: r.task_id,
    collectionId: r.collection_id,
  }
}

function check(x: { status?: unknown; confidence?: unknown }) {
  if (x.status !== undefined && !ANNOTATION_STATUSES.includes(x.status as AnnotationStatus)) throw AnnotationErrors.badRequest(`"status" is one of ${ANNOTATION_STATUSES.join(', ')}.`)
  if (x.confidence != null && (typeof x.confidence !== 'number' || !(x.confidence >= 0 && x.confidence <= 1))) throw AnnotationErrors.badRequest('"confidence" is a number from 0 to 1, or null.')
}

/** Creates an image-level label; the caller has checked that the target is in this collection. */
export async function createImageLabel(db: Db, collectionId: string, input: ImageLabelInput): Promise<StoredImageLabel> {
  check(input)
  if (!input.author) throw AnnotationErrors.badRequest('A label needs an author.')
  const label = await resolveLabel(db, collectionId, input.label)
  const row = {
    id: input.id ?? newId(),
    collection_id: collectionId,
    ...targetColumns(input.target),
    label_system: label.system,
    label_code: label.code,
    vocabulary_id: label.vocabularyId,
    author: input.author,
    created_at: input.createdAt ?? new Date().toISOString(),
    confidence: input.confidence ?? null,
    status: input.status ?? 'draft',
    task_id: input.taskId ?? null,
  }
  await db.insertInto('image_label').values(row).execute()
  return labelOf(db, row)
}

export async function getImageLabel(db: Db, id: string): Promise<StoredImageLabel | undefined> {
  const r = await db.selectFrom('image_label').selectAll().where('id', '=', id).executeTakeFirst()
  return r && labelOf(db, r)
}

/** Labels of one image (or of a collection, or of tasks), filtered, oldest first. */
export async function listImageLabels(db: Db, query: AnnotationFilter & { target?: AnnotationTarget; collectionId?: string; limit?: number }): Promise<StoredImageLabel[]> {
  if (!query.target && !query.collectionId && !query.taskIds?.length) throw AnnotationErrors.badRequest('List labels of an image, a collection or a task.')
  let q = db.selectFrom('image_label').selectAll()
  if (query.target?.kind === 'slide') q = q.where('slide_id', '=', query.target.slideId)
  else if (query.target) {
    const t = query.target
    q = q.where('sop_instance_uid', '=', t.sopInstanceUid).where('series_instance_uid', '=', t.seriesInstanceUid).where('study_instance_uid', '=', t.studyInstanceUid)
    if (t.frame != null) q = q.where('frame', '=', t.frame)
  }
  if (query.collectionId) q = q.where('collection_id', '=', query.collectionId)
  if (query.labels?.length) q = q.where('label_code', 'in', query.labels)
  if (query.authors?.length) q = q.where('author', 'in', query.authors)
  if (query.statuses?.length) q = q.where('status', 'in', query.statuses)
  if (query.taskIds?.length) q = q.where('task_id', 'in', query.taskIds)
  const rows = await q.orderBy('created_at').orderBy('id').limit(Math.min(query.limit ?? 10_000, 10_000)).execute()
  const out: StoredImageLabel[] = []
  for (const r of rows) out.push(await labelOf(db, r))
  return out
}

/** Changes a label's code, status or confidence. Throws IMAGE_LABEL_NOT_FOUND, ANNOTATION_BAD_STATUS, VOCABULARY_*. */
export async function updateImageLabel(db: Db, id: string, patch: ImageLabelPatch): Promise<StoredImageLabel> {
  check(patch)
  const current = await getImageLabel(db, id)
  if (!current) throw AnnotationErrors.labelNotFound('The label')
  if (patch.status && !canTransition(current.status, patch.status)) throw AnnotationErrors.badStatus(current.status, patch.status)
  const set: Partial<Database['image_label']> = {}
  if (patch.label) {
    const l = await resolveLabel(db, current.collectionId, patch.label)
    Object.assign(set, { label_system: l.system, label_code: l.code, vocabulary_id: l.vocabularyId })
  }
  if (patch.status) set.status = patch.status
  if (patch.confidence !== undefined) set.confidence = patch.confidence
  if (Object.keys(set).length) await db.updateTable('image_label').set(set).where('id', '=', id).execute()
  return (await getImageLabel(db, id))!
}

export async function deleteImageLabel(db: Db, id: string): Promise<boolean> {
  const r = await db.deleteFrom('image_label').where('id', '=', id).executeTakeFirst()
  return Number(r.numDeletedRows) > 0
}
