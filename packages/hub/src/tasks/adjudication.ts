/**
 * @module Review and adjudication: every reader's work on one item side by side, the reviewer's decision on each
 * reader annotation or image-level label, and the ground truth those decisions make.
 *
 * Accepting or editing makes a ground-truth copy: a new annotation (or image-level label) with status accepted,
 * authored by the reviewer, in the same task, whose `properties.provenance` names the reader annotations it came
 * from, their readers, the reviewer and the decision. Several readers' annotations of the same structure may be
 * accepted as one (one decision with several sources). The source keeps its reader as author and becomes
 * accepted or rejected. Each source has one `adjudication` row, which links it to its result, so image-level
 * labels (which have no properties) have provenance too. Deciding again on a source replaces its decision, and
 * a ground-truth copy no decision points to any more is deleted (its revision log keeps it).
 */
import { newId } from '@kura/core'
import type { Kysely } from 'kysely'
import type { Database } from '@kura/storage'
import { createImageLabel, getImageLabel, listImageLabels, updateImageLabel, deleteImageLabel, type StoredImageLabel } from '../annotations/image-labels.ts'
import { createAnnotation, deleteAnnotation, getAnnotations, updateAnnotation, type StoredAnnotation } from '../annotations/repository.ts'
import { TaskErrors } from './errors.ts'
import { targetKey, type Decision } from './input.ts'
import { userRefs } from './members.ts'
import type { AdjudicationDecision, AssignmentState, SourceKind, TaskItemView, UserRef } from './model.ts'
import { allAnnotations, groundTruthIds, taskItem, type TaskCaller, type TaskContext } from './service.ts'

type Db = Kysely<Database>

async function inTransaction<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn)
}

export interface Provenance {
  task: string
  item: string
  decision: AdjudicationDecision
  reviewer: string
  decidedAt: string
  sources: { id: string; kind: SourceKind; author: string }[]
  note?: string
}

export interface DecisionView {
  source: string
  sourceKind: SourceKind
  sourceAuthor: string
  decision: AdjudicationDecision
  reviewer: string
  decidedAt: string
  result: string | null
  note: string
}

export interface ReviewView {
  item: TaskItemView
  readers: (UserRef & { state: AssignmentState; submittedAt: string | null; annotations: StoredAnnotation[]; imageLabels: StoredImageLabel[] })[]
  decisions: DecisionView[]
  groundTruth: { annotations: StoredAnnotation[]; imageLabels: StoredImageLabel[] }
}

const decisionOf = (r: Database['adjudication']): DecisionView => ({
  source: r.source_id,
  sourceKind: r.source_kind,
  sourceAuthor: r.source_author,
  decision: r.decision,
  reviewer: r.reviewer_id,
  decidedAt: r.decided_at,
  result: r.result_id,
  note: r.note,
})

/** GET /api/tasks/{id}/items/{item}/review: each assigned reader's annotations and labels, and what is decided. */
export async function reviewItem(db: Db, ctx: TaskContext, itemId: string): Promise<ReviewView> {
  const item = await taskItem(db, ctx.task.id, itemId)
  const assignments = await db.selectFrom('task_assignment').selectAll().where('item_id', '=', item.id).execute()
  const users = await userRefs(db, assignments.map((a) => a.user_id))
  const gt = await groundTruthIds(db, ctx.task.id)
  const filter = { target: item.target, taskIds: [ctx.task.id] }
  const annotations = await allAnnotations(db, filter)
  const labels = await listImageLabels(db, filter)
  const decisions = (await db.selectFrom('adjudication').selectAll().where('item_id', '=', item.id).orderBy('decided_at').execute()).map(decisionOf)
  return {
    item,
    readers: assignments
      .map((a) => ({
        ...(users.get(a.user_id) ?? { id: a.user_id, username: '' }),
        state: a.state,
        submittedAt: a.submitted_at,
        annotations: annotations.filter((x) => x.author === a.user_id && !gt.has(x.id)),
        imageLabels: labels.filter((x) => x.author === a.user_id && !gt.has(x.id)),
      }))
      .sort((x, y) => x.username.localeCompare(y.username)),
    decisions,
    groundTruth: { annotations: annotations.filter((x) => gt.has(x.id)), imageLabels: labels.filter((x) => gt.has(x.id)) },
  }
}

type Source = { kind: 'annotation'; value: StoredAnnotation } | { kind: 'image-label'; value: StoredImageLabel }

/**
 * POST /api/tasks/{id}/items/{item}/adjudicate. All decisions of one request are one transaction. Sources must be
 * readers' submitted (or already adjudicated) work on this item of this task.
 */
export async function adjudicate(db: Db, caller: TaskCaller, ctx: TaskContext, itemId: string, decisions: Decision[]): Promise<{ item: TaskItemView; decisions: DecisionView[] }> {
  const item = await taskItem(db, ctx.task.id, itemId)
  const readers = new Set((await db.selectFrom('task_assignment').select('user_id').where('item_id', '=', item.id).execute()).map((r) => r.user_id))
  const sameTarget = (t: StoredAnnotation['target']) => targetKey(t) === targetKey(item.target)
  const made: DecisionView[] = []
  await inTransaction(db, async (tx) => {
    const gt = await groundTruthIds(tx, ctx.task.id)
    for (const d of decisions) {
      const sources: Source[] = []
      for (const id of d.sources) {
        const [an] = await getAnnotations(tx, [id])
        const src: Source | null = an ? { kind: 'annotation', value: an } : await getImageLabel(tx, id).then((l) => (l ? { kind: 'image-label' as const, value: l } : null))
        if (!src || src.value.taskId !== ctx.task.id || gt.has(id) || !readers.has(src.value.author) || !sameTarget(src.value.target)) throw TaskErrors.sourceNotFound(id)
        if (src.value.status === 'draft') throw TaskErrors.sourceNotSubmitted(id)
        sources.push(src)
      }
      if (new Set(sources.map((s) => s.kind)).size > 1) throw TaskErrors.badRequest('One decision covers annotations or image-level labels, not both; send two decisions.')
      if (sources[0]!.kind === 'image-label' && (d.shape || d.geometry)) throw TaskErrors.badRequest('An image-level label has no geometry; an edit may change only its "label".')

      // A source decided before: its old decision goes, and so does a result nothing else points to.
      const previous = await tx.selectFrom('adjudication').selectAll().where('task_id', '=', ctx.task.id).where('source_id', 'in', d.sources).execute()
      await tx.deleteFrom('adjudication').where('task_id', '=', ctx.task.id).where('source_id', 'in', d.sources).execute()
      for (const old of new Set(previous.map((p) => p.result_id).filter((r): r is string => !!r))) {
        const still = await tx.selectFrom('adjudication').select('id').where('result_id', '=', old).executeTakeFirst()
        if (still) continue
        if (!(await deleteAnnotation(tx, old, caller.userId))) await deleteImageLabel(tx, old)
      }

      const decidedAt = new Date().toISOString()
      let result: string | null = null
      if (d.decision !== 'rejected') {
        const provenance: Provenance = {
          task: ctx.task.id,
          item: item.id,
          decision: d.decision,
          reviewer: caller.userId,
          decidedAt,
          sources: sources.map((s) => ({ id: s.value.id, kind: s.kind, author: s.value.author })),
          ...(d.note ? { note: d.note } : {}),
        }
        const first = sources[0]!
        if (first.kind === 'annotation') {
          const a = first.value
          const { provenance: _p, ...carried } = a.properties ?? {}
          const copy = await createAnnotation(tx, a.collectionId, {
            target: a.target,
            shape: d.shape ?? a.shape,
            geometry: d.geometry ?? a.geometry,
            ...(a.ellipse && !d.geometry && !d.shape ? { ellipse: a.ellipse } : {}),
            label: d.label ?? { system: a.label.system, code: a.label.code },
            author: caller.userId,
            status: 'accepted',
            taskId: ctx.task.id,
            properties: { ...carried, provenance },
          })
          result = copy.id
        } else {
          const l = first.value
          const copy = await createImageLabel(tx, l.collectionId, { target: l.target, label: d.label ?? { system: l.label.system, code: l.label.code }, author: caller.userId, status: 'accepted', taskId: ctx.task.id })
          result = copy.id
        }
      }
      for (const s of sources) {
        const status = d.decision === 'rejected' ? 'rejected' : 'accepted'
        if (s.kind === 'annotation') await updateAnnotation(tx, s.value.id, { status }, caller.userId)
        else await updateImageLabel(tx, s.value.id, { status })
        const row = {
          id: newId(),
          task_id: ctx.task.id,
          item_id: item.id,
          source_kind: s.kind,
          source_id: s.value.id,
          source_author: s.value.author,
          decision: d.decision,
          reviewer_id: caller.userId,
          decided_at: decidedAt,
          result_id: result,
          note: d.note,
        }
        await tx.insertInto('adjudication').values(row).execute()
        made.push(decisionOf(row))
      }
      if (result) gt.add(result)
    }
  })
  return { item, decisions: made }
}

export interface GroundTruth {
  task: string
  annotations: StoredAnnotation[]
  imageLabels: (StoredImageLabel & { provenance: Provenance })[]
  readers: UserRef[]
}

/**
 * GET /api/tasks/{id}/ground-truth: the accepted results of adjudication. Annotations carry their provenance in
 * `properties.provenance`; image-level labels get it here, from the adjudication rows.
 */
export async function groundTruth(db: Db, ctx: TaskContext): Promise<GroundTruth> {
  const rows = await db.selectFrom('adjudication').selectAll().where('task_id', '=', ctx.task.id).where('result_id', 'is not', null).orderBy('decided_at').execute()
  const byResult = new Map<string, typeof rows>()
  for (const r of rows) byResult.set(r.result_id!, [...(byResult.get(r.result_id!) ?? []), r])
  const ids = [...byResult.keys()]
  const annotations = (await getAnnotations(db, ids)).filter((a) => a.status === 'accepted')
  const found = new Set(annotations.map((a) => a.id))
  const imageLabels: GroundTruth['imageLabels'] = []
  for (const id of ids) {
    if (found.has(id)) continue
    const l = await getImageLabel(db, id)
    if (!l || l.status !== 'accepted') continue
    const rs = byResult.get(id)!
    const note = rs.find((r) => r.note)?.note
    imageLabels.push({
      ...l,
      provenance: {
        task: ctx.task.id,
        item: rs[0]!.item_id,
        decision: rs[0]!.decision,
        reviewer: rs[0]!.reviewer_id,
        decidedAt: rs[0]!.decided_at,
        sources: rs.map((r) => ({ id: r.source_id, kind: r.source_kind, author: r.source_author })),
        ...(note ? { note } : {}),
      },
    })
  }
  const readers = await userRefs(db, rows.map((r) => r.source_author))
  return { task: ctx.task.id, annotations, imageLabels, readers: [...readers.values()] }
}
