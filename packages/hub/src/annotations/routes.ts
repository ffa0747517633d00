/**
 * @module Vocabularies, annotations (with viewport queries) and image-level labels under /api.
 *
 * Who may do what: reading needs study:read on the image's collection; drawing and labelling annotation:write;
 * changing or deleting someone else's work, accepting or rejecting, and choosing a collection's vocabularies
 * need annotation:review. Anything in a collection the caller cannot read answers 404, like a missing thing.
 * Shipped vocabularies are loaded when the plugin starts (new versions only).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Archive } from '../archive/archive.ts'
import type { GrantedPermission } from '../auth/roles.ts'
import { TileAuditThrottle } from '../slides/audit-throttle.ts'
import { AnnotationErrors, VocabularyErrors } from './errors.ts'
import { createImageLabel, deleteImageLabel, getImageLabel, listImageLabels, updateImageLabel } from './image-labels.ts'
import { ANNOTATION_STATUSES, type AnnotationStatus, type AnnotationTarget, type CodeRef } from './model.ts'
import {
  annotationHistory,
  createAnnotations,
  deleteAnnotation,
  getAnnotation,
  listAnnotations,
  queryViewportJson,
  targetCollections,
  updateAnnotation,
  VIEWPORT_DEFAULT_LIMIT,
  type AnnotationFilter,
  type AnnotationInput,
  type AnnotationPatch,
} from './repository.ts'
import { needsReview } from './status.ts'
import { importVocabularyFile, loadShippedVocabularies, parseColumnMap, type TextEncoding } from './vocabulary-file.ts'
import { codeMap, collectionVocabularies, getVocabulary, listVocabularies, rollUp, setCollectionVocabularies, vocabularyCodes } from './vocabularies.ts'
import { checkTaskWork } from '../tasks/service.ts'

const read = { config: { permission: 'study:read' as const } }
const write = { config: { permission: 'annotation:write' as const } }
const review = { config: { permission: 'annotation:review' as const } }
/** Annotations per POST; bigger imports go through the interchange routes or several requests. */
const MAX_BULK = 10_000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const UID = /^[0-9.]{1,64}$/
const IMPORT_BODY_LIMIT = 512 * 1024 * 1024

type Query = Record<string, string | undefined>

const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined)
const userOf = (req: FastifyRequest) => req.access.principal!.userId

function filterOf(q: Query): AnnotationFilter {
  const statuses = list(q.status)
  if (statuses?.some((s) => !ANNOTATION_STATUSES.includes(s as AnnotationStatus))) throw AnnotationErrors.badRequest(`"status" is a comma-separated list of ${ANNOTATION_STATUSES.join(', ')}.`)
  return { labels: list(q.label), authors: list(q.author), statuses: statuses as AnnotationStatus[] | undefined, taskIds: list(q.task) }
}

function num(q: Query, k: string): number | undefined {
  if (q[k] === undefined || q[k] === '') return undefined
  const n = Number(q[k])
  if (!Number.isFinite(n)) throw AnnotationErrors.badRequest(`"${k}" must be a number.`)
  return n
}

export async function annotationRoutes(app: FastifyInstance, opts: { archive: Archive }) {
  const db = opts.archive.catalog.db
  await loadShippedVocabularies(db)
  // A viewer pans and zooms: like tile reads, viewport reads of one image are recorded once per principal per window.
  const viewportAudit = new TileAuditThrottle()

  // Vocabulary files arrive as the raw body (they can be large, and may be Shift_JIS).
  app.addContentTypeParser(['text/csv', 'text/tab-separated-values', 'text/plain', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: IMPORT_BODY_LIMIT }, (_req, body, done) => done(null, body))

  /** The collection of a target the caller may act on with `permission`; 404 otherwise (also audited as denied). */
  async function guardTarget(req: FastifyRequest, target: AnnotationTarget, permission: GrantedPermission): Promise<{ id: string; name: string }> {
    const found = await targetCollections(db, target)
    const ok = found.find((c) => req.access.can(permission, c.name))
    if (!ok) {
      const readable = found.find((c) => req.access.can('study:read', c.name))
      if (readable) {
        // Visible but not writable: say so plainly rather than pretend it is missing.
        req.audit.collection = readable.name
        req.audit.outcome = 'denied'
        throw forbidden(permission, readable.name)
      }
      if (found[0]) {
        req.audit.collection = found[0].name
        req.audit.outcome = 'denied'
        req.audit.detail = { hidden: 'image is in a collection this principal cannot access' }
      }
      throw AnnotationErrors.notFound(target.kind === 'slide' ? 'The slide' : 'The image')
    }
    req.audit.collection = ok.name
    return ok
  }

  /** A stored annotation or label the caller may read; 404 otherwise. Returns the collection name too. */
  async function guardStored<T extends { collectionId: string }>(req: FastifyRequest, item: T | undefined, permission: GrantedPermission, what: () => Error): Promise<{ item: T; collection: string }> {
    if (!item) throw what()
    const c = await db.selectFrom('collection').select('name').where('id', '=', item.collectionId).executeTakeFirst()
    if (!c || !req.access.can('study:read', c.name)) {
      if (c) {
        req.audit.collection = c.name
        req.audit.outcome = 'denied'
      }
      throw what()
    }
    req.audit.collection = c.name
    if (!req.access.can(permission, c.name)) {
      req.audit.outcome = 'denied'
      throw forbidden(permission, c.name)
    }
    return { item, collection: c.name }
  }

  /** Whether the caller may change this author's work: their own, or as a reviewer. */
  function mayEdit(req: FastifyRequest, collection: string, item: { author: string; status: AnnotationStatus }): void {
    const reviewer = req.access.can('annotation:review', collection)
    if (reviewer) return
    if (item.author !== userOf(req)) throw AnnotationErrors.notAuthor()
    if (item.status === 'accepted' || item.status === 'rejected') throw AnnotationErrors.locked()
  }

  function checkStatus(req: FastifyRequest, collection: string, from: AnnotationStatus | null, to: AnnotationStatus | undefined): void {
    if (to && needsReview(from, to) && !req.access.can('annotation:review', collection)) throw AnnotationErrors.reviewOnly(`Setting status ${to}${from ? ` (from ${from})` : ''}`)
  }

  /**
   * Work inside an annotation task is the assigned annotator's, on an item they have not submitted yet; reviewers
   * (who adjudicate) are not held to it. Throws the task's own 404/403/409 errors.
   */
  async function checkTask(req: FastifyRequest, collection: string, taskId: unknown, target: AnnotationTarget): Promise<void> {
    if (taskId === null || taskId === undefined || req.access.can('annotation:review', collection)) return
    await checkTaskWork(db, { taskId: String(taskId), userId: userOf(req), target })
  }

  // ------------------------------------------------------------------------------------------ vocabularies

  app.get('/vocabularies', read, async () => listVocabularies(db))

  app.get<{ Params: { id: string }; Querystring: Query }>('/vocabularies/:id', read, async (req) => {
    if (!UUID.test(req.params.id)) throw VocabularyErrors.notFound()
    const v = await getVocabulary(db, req.params.id)
    if (!v) throw VocabularyErrors.notFound()
    const level = num(req.query, 'level')
    if (level !== undefined && (!Number.isInteger(level) || level < 0)) throw VocabularyErrors.badRequest('"level" is a code level: 0 (coarsest), 1, 2, ...')
    const retired = req.query.retired === 'true'
    if (level === undefined) return { ...v, codes: await vocabularyCodes(db, v.id, { includeRetired: retired }) }
    // With ?level=, each code also says which code of that level it rolls up to (codes finer than the level).
    const all = await codeMap(db, v.id)
    const codes = [...all.values()].filter((c) => (retired || c.status === 'active'))
    return {
      ...v,
      level,
      codes: codes.filter((c) => c.level === level),
      rollUp: Object.fromEntries(codes.filter((c) => c.level > level).map((c) => [c.code, rollUp(all, c.code, level) ?? null])),
    }
  })

  app.post<{ Querystring: Query; Body: unknown }>('/vocabularies/import', { ...review, bodyLimit: IMPORT_BODY_LIMIT }, async (req, reply) => {
    const q = req.query
    if (!Buffer.isBuffer(req.body)) throw VocabularyErrors.badRequest('Send the CSV or TSV file itself as the body (content-type text/csv or text/tab-separated-values), with ?system=&version= in the URL.')
    if (!q.system || !q.version) throw VocabularyErrors.badRequest('Name the code system and version: POST /api/vocabularies/import?system=SNOMED-CT&version=2026-09.')
    const encoding = (q.encoding ?? 'auto').toLowerCase().replace('sjis', 'shift_jis').replace('utf8', 'utf-8') as TextEncoding
    if (!['auto', 'utf-8', 'shift_jis'].includes(encoding)) throw VocabularyErrors.badRequest('"encoding" is utf-8, shift_jis or auto.')
    const delimiter = q.delimiter === 'tab' ? '\t' : q.delimiter === 'comma' ? ',' : 'auto'
    const { vocabulary, codes } = await importVocabularyFile(db, req.body, { system: q.system, version: q.version, name: q.name, nameJa: q.nameJa, licence: q.licence }, { encoding, delimiter, columns: parseColumnMap(q.columns) })
    req.audit.detail = { vocabulary: vocabulary.id, system: vocabulary.system, version: vocabulary.version, codes }
    return reply.status(201).send({ ...vocabulary, codes })
  })

  async function collectionByName(req: FastifyRequest, name: string, permission: GrantedPermission) {
    const c = await db.selectFrom('collection').select(['id', 'name']).where('name', '=', name).executeTakeFirst()
    if (!c || !req.access.can('study:read', c.name)) throw AnnotationErrors.notFound('The collection')
    req.audit.collection = c.name
    if (!req.access.can(permission, c.name)) throw forbidden(permission, c.name)
    return c
  }

  app.get<{ Params: { name: string } }>('/collections/:name/vocabularies', read, async (req) => {
    const c = await collectionByName(req, req.params.name, 'study:read')
    return collectionVocabularies(db, c.id)
  })

  app.put<{ Params: { name: string }; Body: { vocabularies?: { id?: unknown; level?: unknown }[] } }>('/collections/:name/vocabularies', review, async (req) => {
    const c = await collectionByName(req, req.params.name, 'annotation:review')
    const items = req.body?.vocabularies
    if (!Array.isArray(items)) throw VocabularyErrors.badRequest('Send { "vocabularies": [{ "id": "<vocabulary id>", "level": 1 }] } (level optional: the code level annotators use).')
    const choice = items.map((v) => {
      if (typeof v?.id !== 'string' || !UUID.test(v.id)) throw VocabularyErrors.badRequest('Each entry needs the "id" of a vocabulary (GET /api/vocabularies).')
      if (v.level != null && (!Number.isInteger(v.level) || (v.level as number) < 0)) throw VocabularyErrors.badRequest('"level" is a code level: 0 (coarsest), 1, 2, ... or null.')
      return { vocabularyId: v.id, level: (v.level as number | null | undefined) ?? null }
    })
    const out = await setCollectionVocabularies(db, c.id, choice)
    req.audit.detail = { vocabularies: out.map((v) => ({ id: v.vocabulary.id, system: v.vocabulary.system, version: v.vocabulary.version, level: v.level })) }
    return out
  })

  // ------------------------------------------------------------------------------------------ annotations on a target

  async function readTargetAnnotations(req: FastifyRequest<{ Querystring: Query }>, reply: FastifyReply, target: AnnotationTarget) {
    const c = await guardTarget(req, target, 'study:read')
    const q = req.query
    const filter: AnnotationFilter = { ...filterOf(q), ...(req.access.can('annotation:review', c.name) ? {} : { blindTo: userOf(req) }) }
    const [x, y, w, h] = ['x', 'y', 'w', 'h'].map((k) => num(q, k))
    const limit = num(q, 'limit')
    if (x !== undefined || y !== undefined || w !== undefined || h !== undefined) {
      if (x === undefined || y === undefined || w === undefined || h === undefined) throw AnnotationErrors.badRequest('A viewport needs all of x, y, w and h (level-0 pixels).')
      // JSON text spliced from the stored GeoJSON: parsing and re-serialising thousands of shapes is what a dense
      // viewport costs in Node (see bench/annotations.ts).
      if (q.density !== undefined && q.density !== 'auto' && q.density !== 'off') throw AnnotationErrors.badRequest('"density" is auto (the default: a grid of counts when zoomed out over more shapes than the limit) or off (shapes only).')
      const r = await queryViewportJson(db, target, { x, y, w, h, scale: num(q, 'scale'), density: q.density !== 'off' }, filter, limit ?? VIEWPORT_DEFAULT_LIMIT)
      req.audit.detail = { target: targetDetail(target), viewport: [x, y, w, h], scale: num(q, 'scale') ?? 1, returned: r.count, ...(r.density && { density: r.density.total }) }
      const p = req.access.principal
      if (viewportAudit.shouldRecord(p ? `${p.username}\u0000${p.tokenId ?? ''}` : 'anonymous', JSON.stringify(target))) {
        req.audit.detail.viewports = 'further viewport reads of this image by this principal within 10 minutes are not recorded'
      } else req.audit.recorded = true
      const { annotationsJson, ...meta } = r
      return reply.type('application/json; charset=utf-8').send(`{"annotations":${annotationsJson},${JSON.stringify(meta).slice(1)}`)
    }
    const annotations = await listAnnotations(db, { target, ...filter, limit, after: q.after })
    req.audit.detail = { target: targetDetail(target), returned: annotations.length }
    return { annotations: annotations, count: annotations.length, next: annotations.length && annotations.length === Math.min(Math.max(1, Math.floor(limit ?? 1000)), 10_000) ? annotations[annotations.length - 1]!.id : null }
  }

  async function createOnTarget(req: FastifyRequest<{ Body: unknown }>, target: AnnotationTarget) {
    const c = await guardTarget(req, target, 'annotation:write')
    const body = req.body
    const many = Array.isArray(body)
    const items = (many ? body : [body]) as Record<string, unknown>[]
    if (!items.length || items.some((i) => !i || typeof i !== 'object')) throw AnnotationErrors.badRequest('Send an annotation object, or an array of them: { shape, geometry, label: { system, code }, status?, confidence?, taskId?, properties? }.')
    if (items.length > MAX_BULK) throw AnnotationErrors.tooMany(items.length, MAX_BULK)
    const me = userOf(req)
    const inputs: AnnotationInput[] = items.map((i) => {
      const status = (i.status ?? 'draft') as AnnotationStatus
      checkStatus(req, c.name, null, status)
      return {
        target,
        shape: i.shape as AnnotationInput['shape'],
        geometry: i.geometry as AnnotationInput['geometry'],
        ellipse: (i.ellipse ?? undefined) as AnnotationInput['ellipse'],
        label: i.label as CodeRef,
        author: authorFor(req, c.name, i.author, me),
        confidence: (i.confidence ?? null) as number | null,
        status,
        taskId: (i.taskId ?? null) as string | null,
        properties: (i.properties ?? undefined) as Record<string, unknown> | undefined,
      }
    })
    for (const taskId of new Set(inputs.map((i) => i.taskId).filter((t) => t !== null))) await checkTask(req, c.name, taskId, target)
    const made = await createAnnotations(db, c.id, inputs)
    req.audit.detail = { target: targetDetail(target), created: made.length, ...(made.length <= 20 ? { annotations: made.map((a) => a.id) } : {}) }
    return many ? made : made[0]!
  }

  /** Model output may be stored under `ai:<model>` by reviewers (who import it); everyone else writes as themselves. */
  function authorFor(req: FastifyRequest, collection: string, given: unknown, me: string): string {
    if (given === undefined || given === null || given === me) return me
    if (typeof given === 'string' && /^ai:[\w.:@/-]{1,100}$/.test(given)) {
      if (!req.access.can('annotation:review', collection)) throw AnnotationErrors.reviewOnly('Storing a model\'s output (author "ai:...")')
      return given
    }
    throw AnnotationErrors.badRequest('"author" is set by the hub (you); only "ai:<model>" may be given, for a model\'s output.')
  }

  const slideTarget = (id: string): AnnotationTarget => {
    if (!UUID.test(id)) throw AnnotationErrors.notFound('The slide')
    return { kind: 'slide', slideId: id }
  }
  const instanceTarget = (p: { study: string; series: string; sop: string }, q: Query): AnnotationTarget => {
    if (![p.study, p.series, p.sop].every((u) => UID.test(u))) throw AnnotationErrors.notFound('The image')
    const frame = num(q, 'frame')
    if (frame !== undefined && (!Number.isInteger(frame) || frame < 1)) throw AnnotationErrors.badRequest('"frame" is a frame number from 1.')
    return { kind: 'instance', studyInstanceUid: p.study, seriesInstanceUid: p.series, sopInstanceUid: p.sop, ...(frame ? { frame } : {}) }
  }
  type InstanceParams = { study: string; series: string; sop: string }
  const INSTANCE = '/studies/:study/series/:series/instances/:sop'

  const bulkBody = { bodyLimit: 64 * 1024 * 1024 }
  app.get<{ Params: { id: string }; Querystring: Query }>('/slides/:id/annotations', read, async (req, reply) => readTargetAnnotations(req, reply, slideTarget(req.params.id)))
  app.post<{ Params: { id: string }; Body: unknown }>('/slides/:id/annotations', { ...write, ...bulkBody }, async (req, reply) => reply.status(201).send(await createOnTarget(req, slideTarget(req.params.id))))
  app.get<{ Params: InstanceParams; Querystring: Query }>(`${INSTANCE}/annotations`, read, async (req, reply) => readTargetAnnotations(req, reply, instanceTarget(req.params, req.query)))
  app.post<{ Params: InstanceParams; Querystring: Query; Body: unknown }>(`${INSTANCE}/annotations`, { ...write, ...bulkBody }, async (req, reply) =>
    reply.status(201).send(await createOnTarget(req, instanceTarget(req.params, req.query))),
  )

  // ------------------------------------------------------------------------------------------ one annotation

  const annotationId = (id: string) => {
    if (!UUID.test(id)) throw AnnotationErrors.notFound()
    return id
  }

  app.get<{ Params: { id: string } }>('/annotations/:id', read, async (req) => {
    const { item } = await guardStored(req, await getAnnotation(db, annotationId(req.params.id)), 'study:read', () => AnnotationErrors.notFound())
    req.audit.detail = { annotation: item.id }
    return item
  })

  app.get<{ Params: { id: string } }>('/annotations/:id/history', read, async (req) => {
    const id = annotationId(req.params.id)
    const history = await annotationHistory(db, id)
    const last = history[history.length - 1]
    const collectionId = last ? (await db.selectFrom('annotation_revision').select('collection_id').where('annotation_id', '=', id).limit(1).executeTakeFirst())?.collection_id : undefined
    await guardStored(req, collectionId ? { collectionId } : undefined, 'study:read', () => AnnotationErrors.notFound())
    req.audit.detail = { annotation: id, revisions: history.length }
    return history
  })

  app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>('/annotations/:id', write, async (req) => {
    const { item, collection } = await guardStored(req, await getAnnotation(db, annotationId(req.params.id)), 'annotation:write', () => AnnotationErrors.notFound())
    mayEdit(req, collection, item)
    const b = req.body
    if (!b || typeof b !== 'object' || Array.isArray(b)) throw AnnotationErrors.badRequest('Send a JSON object with the fields to change: shape, geometry, ellipse, label, status, confidence, taskId, properties.')
    const allowed = ['shape', 'geometry', 'ellipse', 'label', 'status', 'confidence', 'taskId', 'properties']
    const unknown = Object.keys(b).filter((k) => !allowed.includes(k))
    if (unknown.length) throw AnnotationErrors.badRequest(`Cannot change ${unknown.map((k) => `"${k.slice(0, 20)}"`).join(', ')}; changeable: ${allowed.join(', ')}.`)
    if (!Object.keys(b).length) throw AnnotationErrors.badRequest('Nothing to change: send at least one of ' + allowed.join(', ') + '.')
    checkStatus(req, collection, item.status, b.status as AnnotationStatus | undefined)
    await checkTask(req, collection, item.taskId, item.target)
    if (b.taskId !== undefined && b.taskId !== item.taskId) await checkTask(req, collection, b.taskId, item.target)
    const updated = await updateAnnotation(db, item.id, b as AnnotationPatch, userOf(req))
    req.audit.detail = { annotation: item.id, changed: Object.keys(b), ...(b.status ? { status: b.status } : {}), seq: updated.seq }
    return updated
  })

  app.delete<{ Params: { id: string } }>('/annotations/:id', write, async (req, reply) => {
    const { item, collection } = await guardStored(req, await getAnnotation(db, annotationId(req.params.id)), 'annotation:write', () => AnnotationErrors.notFound())
    mayEdit(req, collection, item)
    await checkTask(req, collection, item.taskId, item.target)
    await deleteAnnotation(db, item.id, userOf(req))
    req.audit.detail = { annotation: item.id, deleted: true }
    return reply.status(204).send()
  })

  // ------------------------------------------------------------------------------------------ image-level labels

  async function readLabels(req: FastifyRequest<{ Querystring: Query }>, target: AnnotationTarget) {
    await guardTarget(req, target, 'study:read')
    const labels = await listImageLabels(db, { target, ...filterOf(req.query) })
    req.audit.detail = { target: targetDetail(target), returned: labels.length }
    return labels
  }

  async function createLabel(req: FastifyRequest<{ Body: Record<string, unknown> }>, target: AnnotationTarget) {
    const c = await guardTarget(req, target, 'annotation:write')
    const b = req.body
    if (!b || typeof b !== 'object' || Array.isArray(b)) throw AnnotationErrors.badRequest('Send { "label": { "system": "...", "code": "..." }, "status"?, "confidence"?, "taskId"? }.')
    const status = (b.status ?? 'draft') as AnnotationStatus
    checkStatus(req, c.name, null, status)
    await checkTask(req, c.name, b.taskId ?? null, target)
    const made = await createImageLabel(db, c.id, {
      target,
      label: b.label as CodeRef,
      author: authorFor(req, c.name, b.author, userOf(req)),
      confidence: (b.confidence ?? null) as number | null,
      status,
      taskId: (b.taskId ?? null) as string | null,
    })
    req.audit.detail = { target: targetDetail(target), label: made.id, code: `${made.label.system}|${made.label.code}` }
    return made
  }

  app.get<{ Params: { id: string }; Querystring: Query }>('/slides/:id/labels', read, async (req) => readLabels(req, slideTarget(req.params.id)))
  app.post<{ Params: { id: string }; Body: Record<string, unknown> }>('/slides/:id/labels', write, async (req, reply) => reply.status(201).send((await createLabel(req, slideTarget(req.params.id)))))
  app.get<{ Params: InstanceParams; Querystring: Query }>(`${INSTANCE}/labels`, read, async (req) => readLabels(req, instanceTarget(req.params, req.query)))
  app.post<{ Params: InstanceParams; Querystring: Query; Body: Record<string, unknown> }>(`${INSTANCE}/labels`, write, async (req, reply) =>
    reply.status(201).send((await createLabel(req, instanceTarget(req.params, req.query)))),
  )

  const labelId = (id: string) => {
    if (!UUID.test(id)) throw AnnotationErrors.labelNotFound('The label')
    return id
  }

  app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>('/labels/:id', write, async (req) => {
    const { item, collection } = await guardStored(req, await getImageLabel(db, labelId(req.params.id)), 'annotation:write', () => AnnotationErrors.labelNotFound('The label'))
    mayEdit(req, collection, item)
    const b = req.body
    if (!b || typeof b !== 'object' || Array.isArray(b) || !Object.keys(b).length) throw AnnotationErrors.badRequest('Send a JSON object with label, status or confidence.')
    const unknown = Object.keys(b).filter((k) => !['label', 'status', 'confidence'].includes(k))
    if (unknown.length) throw AnnotationErrors.badRequest(`Cannot change ${unknown.map((k) => `"${k.slice(0, 20)}"`).join(', ')}; changeable: label, status, confidence.`)
    checkStatus(req, collection, item.status, b.status as AnnotationStatus | undefined)
    await checkTask(req, collection, item.taskId, item.target)
    const updated = await updateImageLabel(db, item.id, b as never)
    req.audit.detail = { label: item.id, changed: Object.keys(b) }
    return updated
  })

  app.delete<{ Params: { id: string } }>('/labels/:id', write, async (req, reply) => {
    const { item, collection } = await guardStored(req, await getImageLabel(db, labelId(req.params.id)), 'annotation:write', () => AnnotationErrors.labelNotFound('The label'))
    mayEdit(req, collection, item)
    await checkTask(req, collection, item.taskId, item.target)
    await deleteImageLabel(db, item.id)
    req.audit.detail = { label: item.id, deleted: true }
    return reply.status(204).send()
  })
}

function forbidden(permission: GrantedPermission, collection: string) {
  return permission === 'annotation:review' ? AnnotationErrors.reviewOnly(`This change to collection "${collection.slice(0, 64)}"`) : AnnotationErrors.forbidden(permission, collection)
}

function targetDetail(t: AnnotationTarget): Record<string, unknown> {
  return t.kind === 'slide' ? { slide: t.slideId } : { sopInstanceUid: t.sopInstanceUid, ...(t.frame ? { frame: t.frame } : {}) }
}
