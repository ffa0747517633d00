/**
 * @module Annotation tasks under /api: make and list tasks, progress, a reader's items and submit, review and
 * adjudication, ground truth, and agreement (JSON or CSV). See docs/api.md, "Annotation tasks".
 *
 * Reading in a task needs annotation:write; making tasks, reviewing and adjudicating need annotation:review on
 * the task's collection. A task the caller may not see answers TASK_NOT_FOUND, like one that does not exist.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Archive } from '../archive/archive.ts'
import { adjudicate, groundTruth, reviewItem } from './adjudication.ts'
import { agreementAsCsv, agreementOf } from './agreement-report.ts'
import { TaskErrors } from './errors.ts'
import { parseDecisions, parseNewTask } from './input.ts'
import { createTask, listTasks, myItems, submitItem, taskProgress, visibleTask, type TaskCaller, type TaskContext } from './service.ts'

const write = { config: { permission: 'annotation:write' as const } }
const review = { config: { permission: 'annotation:review' as const } }

type IdParams = { Params: { id: string } }
type ItemParams = { Params: { id: string; item: string } }

export async function taskRoutes(app: FastifyInstance, opts: { archive: Archive }) {
  const db = opts.archive.catalog.db
  const caller = (req: FastifyRequest): TaskCaller => ({ userId: req.access.principal!.userId, access: req.access })

  /** The task for this request, audited under its collection; `needReview` refuses readers who do not review. */
  async function open(req: FastifyRequest<{ Params: { id: string; item?: string } }>, needReview = false): Promise<TaskContext> {
    const ctx = await visibleTask(db, caller(req), req.params.id)
    req.audit.collection = ctx.task.collection
    req.audit.detail = { task: ctx.task.id, ...(req.params.item ? { item: req.params.item.slice(0, 40) } : {}) }
    if (needReview && !ctx.reviewer) throw TaskErrors.forbidden(ctx.task.collection)
    return ctx
  }

  app.post('/tasks', review, async (req, reply) => {
    const input = parseNewTask(req.body)
    req.audit.collection = input.collection
    const task = await createTask(db, caller(req), input)
    req.audit.detail = { task: task.id, items: task.items, annotators: input.annotators.length }
    return reply.status(201).send(task)
  })

  app.get<{ Querystring: { collection?: string; status?: string } }>('/tasks', write, async (req) => {
    const status = req.query.status
    if (status !== undefined && status !== 'open' && status !== 'closed') throw TaskErrors.badRequest('"status" is open or closed.')
    if (req.query.collection) req.audit.collection = req.query.collection
    return listTasks(db, caller(req), { collection: req.query.collection, status })
  })

  app.get<IdParams>('/tasks/:id', write, async (req) => taskProgress(db, caller(req), await open(req)))

  app.patch<IdParams & { Body: { status?: unknown; name?: unknown; description?: unknown } }>('/tasks/:id', review, async (req) => {
    const ctx = await open(req, true)
    const b = req.body ?? {}
    const set: { status?: 'open' | 'closed'; name?: string; description?: string } = {}
    if (b.status !== undefined) {
      if (b.status !== 'open' && b.status !== 'closed') throw TaskErrors.badRequest('"status" is open or closed.')
      set.status = b.status
    }
    if (b.name !== undefined) {
      if (typeof b.name !== 'string' || !b.name.trim() || b.name.length > 200) throw TaskErrors.badRequest('"name" is a non-empty string of at most 200 characters.')
      set.name = b.name.trim()
    }
    if (b.description !== undefined) {
      if (typeof b.description !== 'string' || b.description.length > 5000) throw TaskErrors.badRequest('"description" is a string of at most 5000 characters.')
      set.description = b.description
    }
    if (!Object.keys(set).length) throw TaskErrors.badRequest('Give "status", "name" or "description" to change.')
    await db.updateTable('task').set(set).where('id', '=', ctx.task.id).execute()
    req.audit.detail = { ...req.audit.detail, ...(set.status ? { status: set.status } : {}) }
    return taskProgress(db, caller(req), await visibleTask(db, caller(req), ctx.task.id))
  })

  app.get<IdParams>('/tasks/:id/items', write, async (req) => myItems(db, caller(req), await open(req)))

  app.post<ItemParams>('/tasks/:id/items/:item/submit', write, async (req) => {
    const r = await submitItem(db, caller(req), await open(req), req.params.item)
    req.audit.detail = { ...req.audit.detail, submitted: r.submitted }
    return r
  })

  app.get<ItemParams>('/tasks/:id/items/:item/review', review, async (req) => reviewItem(db, await open(req, true), req.params.item))

  app.post<ItemParams>('/tasks/:id/items/:item/adjudicate', review, async (req) => {
    const ctx = await open(req, true)
    const decisions = parseDecisions(req.body)
    const r = await adjudicate(db, caller(req), ctx, req.params.item, decisions)
    req.audit.detail = {
      ...req.audit.detail,
      accepted: r.decisions.filter((d) => d.decision === 'accepted').length,
      edited: r.decisions.filter((d) => d.decision === 'edited').length,
      rejected: r.decisions.filter((d) => d.decision === 'rejected').length,
    }
    return r
  })

  app.get<IdParams>('/tasks/:id/ground-truth', review, async (req) => groundTruth(db, await open(req, true)))

  app.get<IdParams & { Querystring: { format?: string; radius?: string } }>('/tasks/:id/agreement', review, async (req, reply) => {
    const ctx = await open(req, true)
    const radius = req.query.radius === undefined ? undefined : Number(req.query.radius)
    if (radius !== undefined && !(radius >= 0 && radius <= 1e6)) throw TaskErrors.badRequest('"radius" is the point-matching distance in level-0 pixels (0 to 1,000,000).')
    const format = req.query.format ?? 'json'
    if (format !== 'json' && format !== 'csv') throw TaskErrors.badRequest('"format" is json or csv.')
    const report = await agreementOf(db, ctx, { pointRadius: radius })
    if (format === 'json') return report
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="agreement-${ctx.task.id}.csv"`)
      .send(agreementAsCsv(report))
  })
}
