/**
 * @module Annotation tasks: make one (items assigned round-robin to its readers), list and open the tasks a caller
 * may see, progress per item and per reader, a reader's own items, and submitting an item.
 *
 * Who sees a task: its readers (members with role annotator) and whoever holds annotation:review on its
 * collection (reviewers, curators, admins). Anyone else gets TASK_NOT_FOUND, exactly as for a task that does not
 * exist. A reader sees only their own assignments and counts, so readings stay independent of one another.
 */
import { newId } from '@kura/core'
import type { Kysely, Selectable } from 'kysely'
import type { Database } from '@kura/storage'
import type { Access } from '../auth/access.ts'
import { listImageLabels, updateImageLabel } from '../annotations/image-labels.ts'
import type { AnnotationTarget } from '../annotations/model.ts'
import { listAnnotations, targetCollections, targetColumns, targetOfRow, updateAnnotation, type AnnotationListQuery, type StoredAnnotation } from '../annotations/repository.ts'
import { TaskErrors } from './errors.ts'
import { isUuid, targetKey, type NewTask } from './input.ts'
import { userHolds, userRefs } from './members.ts'
import type { AssignmentState, AssignmentView, Counts, TaskItemView, TaskSummary, UserRef } from './model.ts'

type Db = Kysely<Database>
type TaskRow = Selectable<Database['task']> & { collection: string; reviewer_username: string | null; items: number | null }

export interface TaskCaller {
  userId: string
  access: Access
}

/** A task as the caller may see it, with the caller's part in it. */
export interface TaskContext {
  task: TaskRow
  annotator: boolean
  reviewer: boolean
}

async function inTransaction<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn)
}

const taskQuery = (db: Db) =>
  db
    .selectFrom('task as t')
    .innerJoin('collection as c', 'c.id', 't.collection_id')
    .leftJoin('user as r', 'r.id', 't.reviewer_id')
    .selectAll('t')
    .select(['c.name as collection', 'r.username as reviewer_username'])
    .select((eb) => eb.selectFrom('task_item as ti').whereRef('ti.task_id', '=', 't.id').select(eb.fn.countAll<number>().as('n')).as('items'))

function summaryOf(r: TaskRow, myRole: TaskSummary['myRole']): TaskSummary {
  return {
    id: r.id,
    collection: r.collection,
    name: r.name,
    description: r.description,
    kind: r.kind,
    status: r.status,
    vocabularyId: r.vocabulary_id,
    level: r.vocabulary_level == null ? null : Number(r.vocabulary_level),
    annotatorsPerItem: Number(r.annotators_per_item),
    reviewer: r.reviewer_id ? { id: r.reviewer_id, username: r.reviewer_username ?? '' } : null,
    createdBy: r.created_by,
    createdAt: r.created_at,
    items: Number(r.items ?? 0),
    myRole,
  }
}

export function itemOf(r: Selectable<Database['task_item']>): TaskItemView {
  return { id: r.id, position: Number(r.position), target: targetOfRow(r) }
}

/**
 * Item i goes to readers (i·k + j) mod n for j < k (n readers, k per item): every reader gets ⌊ik/n⌋ or ⌈ik/n⌉
 * of the first i items, and an item's k readers are distinct.
 */
export function roundRobin(items: number, annotators: readonly string[], perItem: number): string[][] {
  const n = annotators.length
  return Array.from({ length: items }, (_, i) => Array.from({ length: perItem }, (_, j) => annotators[(i * perItem + j) % n]!))
}

// ---------------------------------------------------------------------------------------------- create

export async function createTask(db: Db, caller: TaskCaller, input: NewTask): Promise<TaskSummary> {
  const collection = await db.selectFrom('collection').select(['id', 'name']).where('name', '=', input.collection).executeTakeFirst()
  if (!collection) throw TaskErrors.collectionNotFound(input.collection)
  if (!caller.access.can('annotation:review', collection.name)) throw TaskErrors.forbidden(collection.name)
  for (const [i, a] of input.annotators.entries()) if (!(await userHolds(db, a, 'annotation:write', collection.name))) throw TaskErrors.memberCannot('annotators', i, 'annotation:write')
  if (input.reviewer && !(await userHolds(db, input.reviewer, 'annotation:review', collection.name))) throw TaskErrors.memberCannot('reviewer', 0, 'annotation:review')
  if (input.vocabularyId) {
    const enabled = await db
      .selectFrom('collection_vocabulary')
      .select('vocabulary_id')
      .where('collection_id', '=', collection.id)
      .where('vocabulary_id', '=', input.vocabularyId)
      .executeTakeFirst()
    if (!enabled) throw TaskErrors.vocabularyNotEnabled()
  }
  for (const [i, t] of input.items.entries()) {
    if (!(await targetCollections(db, t)).some((c) => c.id === collection.id)) throw TaskErrors.itemNotInCollection(i)
  }
  const now = new Date().toISOString()
  const id = newId()
  const items = input.items.map((t, i) => ({ id: newId(), task_id: id, position: i, ...targetColumns(t) }))
  const assigned = roundRobin(items.length, input.annotators, input.annotatorsPerItem)
  await inTransaction(db, async (tx) => {
    await tx
      .insertInto('task')
      .values({
        id,
        collection_id: collection.id,
        name: input.name,
        description: input.description,
        vocabulary_id: input.vocabularyId,
        vocabulary_level: input.level,
        kind: input.kind,
        annotators_per_item: input.annotatorsPerItem,
        reviewer_id: input.reviewer,
        status: 'open',
        created_by: caller.userId,
        created_at: now,
      })
      .execute()
    const members = [...input.annotators.map((u) => ({ task_id: id, user_id: u, role: 'annotator' as const })), ...(input.reviewer ? [{ task_id: id, user_id: input.reviewer, role: 'reviewer' as const }] : [])]
    await tx.insertInto('task_member').values(members).execute()
    for (let i = 0; i < items.length; i += 500) await tx.insertInto('task_item').values(items.slice(i, i + 500)).execute()
    const rows = items.flatMap((it, i) => assigned[i]!.map((u) => ({ task_id: id, item_id: it.id, user_id: u, state: 'todo' as const, updated_at: now, submitted_at: null })))
    for (let i = 0; i < rows.length; i += 500) await tx.insertInto('task_assignment').values(rows.slice(i, i + 500)).execute()
  })
  const row = await taskQuery(db).where('t.id', '=', id).executeTakeFirstOrThrow()
  return summaryOf(row, { annotator: input.annotators.includes(caller.userId), reviewer: true })
}

// ---------------------------------------------------------------------------------------------- read

/** The tasks the caller reads in, and the tasks of every collection they review. */
export async function listTasks(db: Db, caller: TaskCaller, filter: { collection?: string; status?: string } = {}): Promise<(TaskSummary & { progress: Counts & { assignments: number } })[]> {
  const reviewable = caller.access.collectionsWith('annotation:review')
  let q = taskQuery(db)
  if (reviewable !== 'all') {
    q = q.where((eb) => {
      const mine = eb('t.id', 'in', eb.selectFrom('task_member').select('task_id').where('user_id', '=', caller.userId).where('role', '=', 'annotator'))
      return reviewable.length ? eb.or([mine, eb('c.name', 'in', reviewable)]) : mine
    })
  }
  if (filter.collection) q = q.where('c.name', '=', filter.collection)
  if (filter.status) q = q.where('t.status', '=', filter.status as 'open')
  const rows = await q.orderBy('t.created_at', 'desc').orderBy('t.id', 'desc').limit(1000).execute()
  const mine = new Set((await db.selectFrom('task_member').select('task_id').where('user_id', '=', caller.userId).where('role', '=', 'annotator').execute()).map((r) => r.task_id))
  // Assignment counts by stored state: all readers' for a reviewer, the caller's own for a reader.
  const counts = new Map<string, Counts & { assignments: number }>()
  const ids = rows.map((r) => r.id)
  for (let i = 0; i < ids.length; i += 500) {
    const grouped = await db
      .selectFrom('task_assignment as a')
      .innerJoin('task as t', 't.id', 'a.task_id')
      .innerJoin('collection as c', 'c.id', 't.collection_id')
      .select(['a.task_id', 'a.state', 'a.user_id', 'c.name as collection'])
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('a.task_id', 'in', ids.slice(i, i + 500))
      .groupBy(['a.task_id', 'a.state', 'a.user_id', 'c.name'])
      .execute()
    for (const g of grouped) {
      if (g.user_id !== caller.userId && !caller.access.can('annotation:review', g.collection)) continue
      const c = counts.get(g.task_id) ?? { todo: 0, inProgress: 0, submitted: 0, assignments: 0 }
      const n = Number(g.n)
      c[g.state === 'in_progress' ? 'inProgress' : g.state] += n
      c.assignments += n
      counts.set(g.task_id, c)
    }
  }
  return rows.map((r) => ({
    ...summaryOf(r, { annotator: mine.has(r.id), reviewer: caller.access.can('annotation:review', r.collection) }),
    progress: counts.get(r.id) ?? { todo: 0, inProgress: 0, submitted: 0, assignments: 0 },
  }))
}

/** The task if the caller may see it; TASK_NOT_FOUND otherwise (the same answer as for no task at all). */
export async function visibleTask(db: Db, caller: TaskCaller, id: string): Promise<TaskContext> {
  if (!isUuid(id)) throw TaskErrors.notFound()
  const task = await taskQuery(db).where('t.id', '=', id.toLowerCase()).executeTakeFirst()
  if (!task) throw TaskErrors.notFound()
  const member = await db.selectFrom('task_member').select('user_id').where('task_id', '=', task.id).where('user_id', '=', caller.userId).where('role', '=', 'annotator').executeTakeFirst()
  const reviewer = caller.access.can('annotation:review', task.collection)
  if (!member && !reviewer) throw TaskErrors.notFound()
  return { task, annotator: !!member, reviewer }
}

export async function taskItem(db: Db, taskId: string, itemId: string): Promise<TaskItemView> {
  if (!isUuid(itemId)) throw TaskErrors.itemNotFound()
  const r = await db.selectFrom('task_item').selectAll().where('task_id', '=', taskId).where('id', '=', itemId.toLowerCase()).executeTakeFirst()
  if (!r) throw TaskErrors.itemNotFound()
  return itemOf(r)
}

/** Every page of a task's annotations (the repository pages at 10,000). */
export async function allAnnotations(db: Db, query: AnnotationListQuery): Promise<StoredAnnotation[]> {
  const out: StoredAnnotation[] = []
  for (let after: string | undefined; ; ) {
    const page = await listAnnotations(db, { ...query, limit: 10_000, after })
    out.push(...page)
    if (page.length < 10_000) return out
    after = page[page.length - 1]!.id
  }
}

/** The ids of the ground-truth results of a task (they carry its task id but are the reviewer's, not a reader's). */
export async function groundTruthIds(db: Db, taskId: string): Promise<Set<string>> {
  const rows = await db.selectFrom('adjudication').select('result_id').where('task_id', '=', taskId).where('result_id', 'is not', null).execute()
  return new Set(rows.map((r) => r.result_id!))
}

interface WorkCount {
  annotations: number
  imageLabels: number
}

/** How many annotations and image-level labels each reader made on each item (key `${itemId} ${userId}`). */
async function workCounts(db: Db, taskId: string, items: TaskItemView[]): Promise<Map<string, WorkCount>> {
  const itemOfTarget = new Map(items.map((it) => [targetKey(it.target), it.id]))
  const exclude = await groundTruthIds(db, taskId)
  const out = new Map<string, WorkCount>()
  const cols = ['id', 'author', 'slide_id', 'study_instance_uid', 'series_instance_uid', 'sop_instance_uid', 'frame'] as const
  const add = (r: { id: string; author: string; slide_id: string | null; study_instance_uid: string | null; series_instance_uid: string | null; sop_instance_uid: string | null; frame: number | null }, field: keyof WorkCount) => {
    if (exclude.has(r.id)) return
    const item = itemOfTarget.get(targetKey(targetOfRow(r)))
    if (!item) return
    const key = `${item} ${r.author}`
    const c = out.get(key) ?? { annotations: 0, imageLabels: 0 }
    c[field]++
    out.set(key, c)
  }
  for (const r of await db.selectFrom('annotation').select(cols).where('task_id', '=', taskId).execute()) add(r, 'annotations')
  for (const r of await db.selectFrom('image_label').select(cols).where('task_id', '=', taskId).execute()) add(r, 'imageLabels')
  return out
}

/** A stored 'todo' with work on it shows as in_progress: the annotation API need not touch assignments. */
function effectiveState(state: AssignmentState, work: WorkCount | undefined): AssignmentState {
  return state === 'todo' && work && work.annotations + work.imageLabels > 0 ? 'in_progress' : state
}

const countsOf = (states: AssignmentState[]): Counts => ({
  todo: states.filter((s) => s === 'todo').length,
  inProgress: states.filter((s) => s === 'in_progress').length,
  submitted: states.filter((s) => s === 'submitted').length,
})

export interface TaskProgress extends TaskSummary {
  members: (UserRef & { role: 'annotator' | 'reviewer' })[]
  progress: Counts & { items: number; assignments: number; itemsFullySubmitted: number; itemsAdjudicated: number }
  annotators: (UserRef & Counts & { annotations: number; imageLabels: number })[]
  itemProgress: (TaskItemView & { assignments: AssignmentView[]; adjudicated: boolean })[]
}

/** GET /api/tasks/{id}: the task with progress; a reader who does not review sees only their own part. */
export async function taskProgress(db: Db, caller: TaskCaller, ctx: TaskContext): Promise<TaskProgress> {
  const { task } = ctx
  const onlyMine = !ctx.reviewer
  const items = (await db.selectFrom('task_item').selectAll().where('task_id', '=', task.id).orderBy('position').execute()).map(itemOf)
  let aq = db.selectFrom('task_assignment').selectAll().where('task_id', '=', task.id)
  if (onlyMine) aq = aq.where('user_id', '=', caller.userId)
  const assignments = await aq.execute()
  const memberRows = await db.selectFrom('task_member').selectAll().where('task_id', '=', task.id).execute()
  const users = await userRefs(db, memberRows.map((m) => m.user_id))
  const work = await workCounts(db, task.id, items)
  const adjudicated = new Set((await db.selectFrom('adjudication').select('item_id').where('task_id', '=', task.id).distinct().execute()).map((r) => r.item_id))

  const byItem = new Map<string, AssignmentView[]>()
  const byUser = new Map<string, { states: AssignmentState[]; annotations: number; imageLabels: number }>()
  for (const a of assignments) {
    const w = work.get(`${a.item_id} ${a.user_id}`)
    const state = effectiveState(a.state, w)
    const view: AssignmentView = { user: users.get(a.user_id) ?? { id: a.user_id, username: '' }, state, submittedAt: a.submitted_at, annotations: w?.annotations ?? 0, imageLabels: w?.imageLabels ?? 0 }
    byItem.set(a.item_id, [...(byItem.get(a.item_id) ?? []), view])
    const u = byUser.get(a.user_id) ?? { states: [], annotations: 0, imageLabels: 0 }
    u.states.push(state)
    u.annotations += view.annotations
    u.imageLabels += view.imageLabels
    byUser.set(a.user_id, u)
  }
  const visibleItems = onlyMine ? items.filter((it) => byItem.has(it.id)) : items
  const all = assignments.map((a) => effectiveState(a.state, work.get(`${a.item_id} ${a.user_id}`)))
  return {
    ...summaryOf(task, { annotator: ctx.annotator, reviewer: ctx.reviewer }),
    members: memberRows
      .filter((m) => !onlyMine || m.user_id === caller.userId || m.role === 'reviewer')
      .map((m) => ({ ...(users.get(m.user_id) ?? { id: m.user_id, username: '' }), role: m.role })),
    progress: {
      items: visibleItems.length,
      assignments: assignments.length,
      ...countsOf(all),
      itemsFullySubmitted: visibleItems.filter((it) => (byItem.get(it.id) ?? []).length > 0 && byItem.get(it.id)!.every((a) => a.state === 'submitted')).length,
      itemsAdjudicated: visibleItems.filter((it) => adjudicated.has(it.id)).length,
    },
    annotators: [...byUser.entries()].map(([id, u]) => ({ ...(users.get(id) ?? { id, username: '' }), ...countsOf(u.states), annotations: u.annotations, imageLabels: u.imageLabels })),
    itemProgress: visibleItems.map((it) => ({ ...it, assignments: byItem.get(it.id) ?? [], adjudicated: adjudicated.has(it.id) })),
  }
}

/** GET /api/tasks/{id}/items: the caller's own assignments, in item order. */
export async function myItems(db: Db, caller: TaskCaller, ctx: TaskContext): Promise<(TaskItemView & { state: AssignmentState; submittedAt: string | null; annotations: number; imageLabels: number })[]> {
  const rows = await db
    .selectFrom('task_assignment as a')
    .innerJoin('task_item as i', 'i.id', 'a.item_id')
    .selectAll('i')
    .select(['a.state', 'a.submitted_at'])
    .where('a.task_id', '=', ctx.task.id)
    .where('a.user_id', '=', caller.userId)
    .orderBy('i.position')
    .execute()
  const items = rows.map((r) => itemOf(r))
  const work = await workCounts(db, ctx.task.id, items)
  return rows.map((r, i) => {
    const w = work.get(`${r.id} ${caller.userId}`)
    return { ...items[i]!, state: effectiveState(r.state, w), submittedAt: r.submitted_at, annotations: w?.annotations ?? 0, imageLabels: w?.imageLabels ?? 0 }
  })
}

// ---------------------------------------------------------------------------------------------- submit

/**
 * POST /api/tasks/{id}/items/{item}/submit: the reader is done with the item. Their draft annotations and labels
 * on it in this task become submitted (through the annotation repository, so each change is in the revision
 * log), and the assignment is submitted. Submitting again changes nothing.
 */
export async function submitItem(db: Db, caller: TaskCaller, ctx: TaskContext, itemId: string) {
  const item = await taskItem(db, ctx.task.id, itemId)
  if (ctx.task.status !== 'open') throw TaskErrors.closed()
  return inTransaction(db, async (tx) => {
    const a = await tx.selectFrom('task_assignment').selectAll().where('item_id', '=', item.id).where('user_id', '=', caller.userId).executeTakeFirst()
    if (!a) throw TaskErrors.notAssigned()
    let annotations = 0
    let imageLabels = 0
    if (a.state !== 'submitted') {
      const filter = { target: item.target, taskIds: [ctx.task.id], authors: [caller.userId], statuses: ['draft' as const] }
      for (const an of await allAnnotations(tx, filter)) {
        await updateAnnotation(tx, an.id, { status: 'submitted' }, caller.userId)
        annotations++
      }
      for (const l of await listImageLabels(tx, filter)) {
        await updateImageLabel(tx, l.id, { status: 'submitted' })
        imageLabels++
      }
      const now = new Date().toISOString()
      await tx.updateTable('task_assignment').set({ state: 'submitted', submitted_at: now, updated_at: now }).where('item_id', '=', item.id).where('user_id', '=', caller.userId).execute()
    }
    const after = await tx.selectFrom('task_assignment').select(['state', 'submitted_at']).where('item_id', '=', item.id).where('user_id', '=', caller.userId).executeTakeFirstOrThrow()
    return { item, state: after.state, submittedAt: after.submitted_at, submitted: { annotations, imageLabels } }
  })
}

// ---------------------------------------------------------------------------------------------- the annotation API's hook

/**
 * For the annotation API, before it writes an annotation or label with a task id: the author must be a reader of
 * the open task with an unsubmitted assignment on the item of that image. Marks a 'todo' assignment in_progress.
 * Throws TASK_NOT_FOUND (no such task, or the author is no reader of it), TASK_CLOSED, TASK_NOT_ASSIGNED or
 * TASK_ITEM_SUBMITTED.
 */
export async function checkTaskWork(db: Db, input: { taskId: string; userId: string; target: AnnotationTarget }): Promise<void> {
  if (!isUuid(input.taskId)) throw TaskErrors.notFound()
  const task = await db.selectFrom('task').select(['id', 'status']).where('id', '=', input.taskId.toLowerCase()).executeTakeFirst()
  const member = task && (await db.selectFrom('task_member').select('user_id').where('task_id', '=', task.id).where('user_id', '=', input.userId).where('role', '=', 'annotator').executeTakeFirst())
  if (!task || !member) throw TaskErrors.notFound()
  if (task.status !== 'open') throw TaskErrors.closed()
  const key = targetKey(input.target)
  const rows = await db
    .selectFrom('task_assignment as a')
    .innerJoin('task_item as i', 'i.id', 'a.item_id')
    .select(['a.item_id', 'a.state', 'i.slide_id', 'i.study_instance_uid', 'i.series_instance_uid', 'i.sop_instance_uid', 'i.frame'])
    .where('a.task_id', '=', task.id)
    .where('a.user_id', '=', input.userId)
    .where(input.target.kind === 'slide' ? 'i.slide_id' : 'i.sop_instance_uid', '=', input.target.kind === 'slide' ? input.target.slideId : input.target.sopInstanceUid)
    .execute()
  const mine = rows.find((r) => targetKey(targetOfRow(r)) === key)
  if (!mine) throw TaskErrors.notAssigned()
  if (mine.state === 'submitted') throw TaskErrors.alreadySubmitted()
  if (mine.state === 'todo') {
    await db.updateTable('task_assignment').set({ state: 'in_progress', updated_at: new Date().toISOString() }).where('item_id', '=', mine.item_id).where('user_id', '=', input.userId).where('state', '=', 'todo').execute()
  }
}
