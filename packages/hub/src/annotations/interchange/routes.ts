/**
 * @module Annotation import and export under /api.
 *
 * - POST /slides/:id/annotations/import?format=qupath|cytomine|asap|sectra: the file is the body; `labels` (a JSON
 *   mapping of class name to code) and `onUnmapped` (refuse|hold) say how classes become codes. annotation:write.
 * - GET /slides/:id/annotations/export?format=geojson|coco: one slide's annotations, streamed. study:read.
 * - POST /exports: an AI export of slides (and a task) written under dataDir/exports/<id>/ in the background;
 *   GET /exports/:id (status and manifest), GET /exports/:id/files/<path>, GET /exports/:id/archive (a tar,
 *   streamed). study:read on every slide's collection; an export is visible to whoever may read all of them.
 *
 * Exports live on the hub's data folder: with several API processes, that folder must be shared (or the export
 * fetched from the process that made it). Moving them to the object store is the next step.
 */
import { createReadStream, existsSync } from 'node:fs'
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isKuraError, newId } from '@kura/core'
import type { Archive } from '../../archive/archive.ts'
import type { GrantedPermission } from '../../auth/roles.ts'
import { findSlide, isSlideId, slideInfo, type SlideRow } from '../../slides/catalog.ts'
import { SlideServing } from '../../slides/serving.ts'
import { AnnotationErrors } from '../errors.ts'
import { listImageLabels } from '../image-labels.ts'
import { ANNOTATION_STATUSES, type AnnotationStatus } from '../model.ts'
import { annotationSetVersion, createAnnotations, listAnnotations, type AnnotationInput, type StoredAnnotation } from '../repository.ts'
import { importAsap } from './asap.ts'
import { Categories } from './categories.ts'
import { CodeNames } from './code-names.ts'
import { exportCoco } from './coco.ts'
import { importCytomine } from './cytomine.ts'
import type { ImportResult } from './draft.ts'
import { InterchangeErrors } from './errors.ts'
import { checkExportSpec, writeExport, type ExportSource, type ExportSpec } from './export.ts'
import { parseLabelMapping, type UnmappedPolicy } from './labels.ts'
import { checkExportPath, ExportFiles, MANIFEST, type ExportManifest } from './manifest.ts'
import { importQuPath, toQuPathFeature, type QuPathContainer } from './qupath.ts'
import { importSectra } from './sectra.ts'
import { ustarStream } from './tar.ts'

const read = { config: { permission: 'study:read' as const } }
const write = { config: { permission: 'annotation:write' as const } }
const IMPORT_BODY_LIMIT = 256 * 1024 * 1024
const PAGE = 10_000
const IMPORT_FORMATS = ['qupath', 'cytomine', 'asap', 'sectra'] as const
type ImportFormat = (typeof IMPORT_FORMATS)[number]
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

type Query = Record<string, string | undefined>

/** What the hub keeps about an export beside its files (export.json). */
interface ExportRecord {
  id: string
  status: 'running' | 'done' | 'failed'
  createdBy: string
  createdAt: string
  /** Collections of the exported slides: reading the export needs study:read on all of them. */
  collections: string[]
  spec: ExportSpec
  error?: { code: string; message: string }
}

function statusesOf(q: Query): AnnotationStatus[] | undefined {
  if (!q.status) return undefined
  const s = q.status.split(',').map((x) => x.trim())
  if (s.some((x) => !ANNOTATION_STATUSES.includes(x as AnnotationStatus))) throw AnnotationErrors.badRequest(`"status" is a comma-separated list of ${ANNOTATION_STATUSES.join(', ')}.`)
  return s as AnnotationStatus[]
}

/** All annotations of a slide matching a filter, page by page (id order). */
async function* slideAnnotations(archive: Archive, slideId: string, filter: { statuses?: AnnotationStatus[]; taskIds?: string[] }): AsyncGenerator<StoredAnnotation> {
  let after: string | undefined
  while (true) {
    const page = await listAnnotations(archive.catalog.db, { target: { kind: 'slide', slideId }, ...filter, limit: PAGE, after })
    yield* page
    if (page.length < PAGE) return
    after = page[page.length - 1]!.id
  }
}

/**
 * Ids for one import, increasing in file order: the catalog lists annotations by id, so an export gives them back
 * in the order the file had them. One time-ordered uuidv7, then its last 48 random bits counted up.
 */
export function orderedIds(n: number): string[] {
  const base = newId()
  const start = BigInt('0x' + base.slice(24)) & ((1n << 47n) - 1n)
  return Array.from({ length: n }, (_, i) => base.slice(0, 24) + (start + BigInt(i)).toString(16).padStart(12, '0'))
}

async function allOf<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

const CONTENT_TYPES: Record<string, string> = { json: 'application/json', geojson: 'application/geo+json', csv: 'text/csv; charset=utf-8', png: 'image/png' }

export async function interchangeRoutes(app: FastifyInstance, opts: { archive: Archive; dataDir: string }) {
  const db = opts.archive.catalog.db
  const serving = new SlideServing(opts.archive)
  const exportsDir = join(opts.dataDir, 'exports')
  const running = new Set<Promise<void>>()
  app.addHook('onClose', async () => {
    await Promise.allSettled([...running])
    await serving.readers.closeAll()
  })
  // Import bodies are files of any type; this plugin parses JSON itself where it takes JSON.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: IMPORT_BODY_LIMIT }, (_req, body, done) => done(null, body))

  /** The slide, when the caller holds `permission` on its collection: 404 when it cannot even read it, 403 when it can. */
  async function guardSlide(req: FastifyRequest, id: string, permission: GrantedPermission): Promise<SlideRow> {
    const row = isSlideId(id) ? await findSlide(db, id) : undefined
    if (!row) throw AnnotationErrors.notFound('The slide')
    req.audit.collection = row.collection
    if (!req.access.can('study:read', row.collection)) {
      req.audit.outcome = 'denied'
      req.audit.detail = { hidden: 'slide is in a collection this principal cannot access' }
      throw AnnotationErrors.notFound('The slide')
    }
    if (!req.access.can(permission, row.collection)) {
      req.audit.outcome = 'denied'
      throw AnnotationErrors.forbidden(permission, row.collection)
    }
    return row
  }

  app.post<{ Params: { id: string }; Querystring: Query; Body: unknown }>('/slides/:id/annotations/import', { ...write, bodyLimit: IMPORT_BODY_LIMIT }, async (req, reply) => {
    const row = await guardSlide(req, req.params.id, 'annotation:write')
    const q = req.query
    const format = (q.format ?? 'qupath') as ImportFormat
    if (!IMPORT_FORMATS.includes(format)) throw InterchangeErrors.badRequest(`"format" is one of ${IMPORT_FORMATS.join(', ')}.`)
    const onUnmapped = (q.onUnmapped ?? 'refuse') as UnmappedPolicy
    if (onUnmapped !== 'refuse' && onUnmapped !== 'hold') throw InterchangeErrors.badMapping('"onUnmapped" is refuse or hold')
    let labels
    try {
      labels = parseLabelMapping(q.labels ? JSON.parse(q.labels) : {})
    } catch (e) {
      throw isKuraError(e) ? e : InterchangeErrors.badMapping('"labels" is not valid JSON')
    }
    const status = (q.status ?? 'draft') as AnnotationStatus
    if (!ANNOTATION_STATUSES.includes(status)) throw AnnotationErrors.badRequest(`"status" is one of ${ANNOTATION_STATUSES.join(', ')}.`)
    if ((status === 'accepted' || status === 'rejected') && !req.access.can('annotation:review', row.collection)) throw AnnotationErrors.reviewOnly(`Importing as ${status}`)
    if (q.taskId !== undefined && !UUID.test(q.taskId)) throw AnnotationErrors.badRequest('"taskId" is a task id (a UUID).')
    const body = Buffer.isBuffer(req.body) ? req.body : null
    if (!body?.length) throw InterchangeErrors.badFile(format, 'the request body is empty; send the file itself as the body')
    const info = slideInfo(row)
    const options = { labels, onUnmapped }
    let result: ImportResult
    try {
      result =
        format === 'qupath'
          ? importQuPath(body, options)
          : format === 'cytomine'
            ? importCytomine(body, { ...options, imageHeight: info.height })
            : format === 'asap'
              ? importAsap(body, options)
              : importSectra(body, { ...options, imageWidth: info.width, imageHeight: info.height })
    } catch (e) {
      // The unmapped list is the answer the caller needs to fix the mapping: send it along.
      if (isKuraError(e) && e.code === 'INTERCHANGE_UNMAPPED_CLASSES') {
        req.audit.outcome = 'denied'
        req.audit.detail = { slide: row.id, format, refused: 'unmapped classes' }
        return reply.status(422).send({ code: e.code, message: e.message, unmapped: e.details?.unmapped })
      }
      throw e
    }
    const author = req.access.principal!.userId
    const ids = orderedIds(result.annotations.length)
    const inputs: AnnotationInput[] = result.annotations.map((d, i) => ({
      id: ids[i],
      target: { kind: 'slide', slideId: row.id },
      shape: d.shape,
      geometry: d.geometry,
      ellipse: d.ellipse,
      label: d.label,
      author,
      confidence: d.confidence ?? null,
      status,
      taskId: q.taskId ?? null,
      properties: d.properties,
      createdAt: d.createdAt,
    }))
    const stored = await createAnnotations(db, row.collection_id, inputs)
    req.audit.detail = { slide: row.id, format, imported: stored.length, held: result.held }
    return reply.status(201).send({ imported: stored.length, held: result.held, unmapped: result.unmapped, ids: stored.map((a) => a.id) })
  })

  app.get<{ Params: { id: string }; Querystring: Query }>('/slides/:id/annotations/export', read, async (req, reply) => {
    const row = await guardSlide(req, req.params.id, 'study:read')
    const q = req.query
    const format = q.format ?? 'geojson'
    const filter = { statuses: statusesOf(q), taskIds: q.task ? [q.task] : undefined }
    req.audit.detail = { slide: row.id, format }
    const names = new CodeNames(db)
    const classOf = (c: { system: string; code: string; version?: string }) => ({ name: names.nameOf(c) })
    if (format === 'geojson') {
      const container = (q.container ?? 'FeatureCollection') as QuPathContainer
      if (!['Feature', 'FeatureArray', 'FeatureCollection'].includes(container)) throw InterchangeErrors.badExport('"container" is Feature, FeatureArray or FeatureCollection.')
      if (container === 'Feature') {
        const all = await allOf(slideAnnotations(opts.archive, row.id, filter))
        if (all.length !== 1) throw InterchangeErrors.badExport(`container=Feature needs exactly one annotation; this slide has ${all.length}.`)
        await names.load([all[0]!.label])
        return reply.type('application/geo+json').send(JSON.stringify(toQuPathFeature(all[0]!, { classOf })))
      }
      async function* body() {
        yield container === 'FeatureCollection' ? '{"type":"FeatureCollection","features":[' : '['
        let first = true
        for await (const a of slideAnnotations(opts.archive, row.id, filter)) {
          await names.load([a.label])
          yield (first ? '\n' : ',\n') + JSON.stringify(toQuPathFeature(a, { classOf }))
          first = false
        }
        yield container === 'FeatureCollection' ? '\n]}\n' : '\n]\n'
      }
      return reply.type('application/geo+json').header('content-disposition', `attachment; filename="${row.id}.geojson"`).send(Readable.from(body()))
    }
    if (format === 'coco') {
      const all = await allOf(slideAnnotations(opts.archive, row.id, filter))
      await names.load(all.map((a) => a.label))
      const doc = exportCoco([{ slideId: row.id, width: Number(row.width), height: Number(row.height) }], all, new Categories(all.map((a) => a.label), names.nameOf))
      return reply.type('application/json').header('content-disposition', `attachment; filename="${row.id}.coco.json"`).send(JSON.stringify(doc))
    }
    throw InterchangeErrors.badExport('"format" is geojson or coco (for tiles and CSV, POST /api/exports).')
  })

  // ------------------------------------------------------------------------------------------ AI exports

  const recordPath = (id: string) => join(exportsDir, id, 'export.json')
  const filesDir = (id: string) => join(exportsDir, id, 'files')

  async function saveRecord(r: ExportRecord): Promise<void> {
    const tmp = `${recordPath(r.id)}.tmp`
    await writeFile(tmp, JSON.stringify(r, null, 2))
    await rename(tmp, recordPath(r.id))
  }

  /** The export record, if the caller may read every collection in it; 404 otherwise (like a missing one). */
  async function guardExport(req: FastifyRequest, id: string): Promise<ExportRecord> {
    if (!UUID.test(id) || !existsSync(recordPath(id))) throw InterchangeErrors.exportNotFound()
    const r = JSON.parse(await readFile(recordPath(id), 'utf8')) as ExportRecord
    req.audit.collection = r.collections[0]
    if (!r.collections.every((c) => req.access.can('study:read', c))) {
      req.audit.outcome = 'denied'
      req.audit.detail = { export: id, hidden: 'export holds slides of a collection this principal cannot access' }
      throw InterchangeErrors.exportNotFound()
    }
    return r
  }

  app.post<{ Body: unknown }>('/exports', read, async (req, reply) => {
    let body: unknown
    try {
      body = Buffer.isBuffer(req.body) && req.body.length ? JSON.parse(req.body.toString('utf8')) : {}
    } catch {
      throw InterchangeErrors.badExport('The body is not JSON: send {"slides": [...], "formats": [...], "tiles": {...}}.')
    }
    const spec = checkExportSpec(body)
    const statuses = (body as { statuses?: unknown }).statuses
    if (statuses !== undefined && !(Array.isArray(statuses) && statuses.every((s) => ANNOTATION_STATUSES.includes(s as AnnotationStatus))))
      throw InterchangeErrors.badExport(`"statuses" is a list of ${ANNOTATION_STATUSES.join(', ')} (e.g. ["accepted"] for ground truth).`)
    if (statuses) (spec as ExportSpec & { statuses?: AnnotationStatus[] }).statuses = statuses as AnnotationStatus[]
    const rows: SlideRow[] = []
    for (const id of spec.slides) rows.push(await guardSlide(req, id, 'study:read'))
    const id = newId()
    const record: ExportRecord = {
      id,
      status: 'running',
      createdBy: req.access.principal!.userId,
      createdAt: new Date().toISOString(),
      collections: [...new Set(rows.map((r) => r.collection))].sort(),
      spec,
    }
    await mkdir(filesDir(id), { recursive: true })
    await saveRecord(record)
    const filter = { statuses: statuses as AnnotationStatus[] | undefined, taskIds: spec.taskId ? [spec.taskId] : undefined }
    const byId = new Map(rows.map((r) => [r.id, r]))
    const names = new CodeNames(db)
    const source: ExportSource = {
      slide: async (sid) => {
        const row = byId.get(sid)!
        const i = slideInfo(row)
        return { id: sid, width: i.width, height: i.height, mpp: i.mpp, objectivePower: i.objectivePower, withSlide: async (fn) => serving.withSlide((await serving.served(sid)) ?? { ...row, derived_key: null }, fn) }
      },
      annotations: async (sid) => {
        const all = await allOf(slideAnnotations(opts.archive, sid, filter))
        await names.load(all.map((a) => a.label))
        return all
      },
      nameOf: names.nameOf,
      imageLabels: (sid) => listImageLabels(db, { target: { kind: 'slide', slideId: sid }, statuses: filter.statuses, taskIds: filter.taskIds }),
      annotationSetVersion: () => annotationSetVersion(db),
    }
    const job = writeExport(new ExportFiles(filesDir(id)), spec, source)
      .then(() => saveRecord({ ...record, status: 'done' }))
      .catch((e: unknown) => {
        req.log.error({ err: e, export: id }, 'export failed')
        const error = isKuraError(e) ? { code: e.code, message: e.message } : { code: 'INTERCHANGE_EXPORT_FAILED', message: 'The export failed; the server log has the details.' }
        return saveRecord({ ...record, status: 'failed', error })
      })
      .finally(() => running.delete(job))
    running.add(job)
    req.audit.detail = { export: id, slides: spec.slides.length, formats: spec.formats }
    return reply.status(202).send({ id, status: 'running', href: `/api/exports/${id}` })
  })

  app.get<{ Params: { id: string } }>('/exports/:id', read, async (req) => {
    const r = await guardExport(req, req.params.id)
    req.audit.detail = { export: r.id }
    const manifest = r.status === 'done' ? (JSON.parse(await readFile(join(filesDir(r.id), MANIFEST), 'utf8')) as ExportManifest) : undefined
    return { id: r.id, status: r.status, createdBy: r.createdBy, createdAt: r.createdAt, spec: r.spec, ...(r.error ? { error: r.error } : {}), ...(manifest ? { manifest } : {}) }
  })

  async function sendFile(reply: FastifyReply, abs: string, name: string) {
    const ext = name.split('.').pop() ?? ''
    const st = await stat(abs)
    return reply.type(CONTENT_TYPES[ext] ?? 'application/octet-stream').header('content-length', String(st.size)).send(createReadStream(abs))
  }

  app.get<{ Params: { id: string; '*': string } }>('/exports/:id/files/*', read, async (req, reply) => {
    const r = await guardExport(req, req.params.id)
    if (r.status !== 'done') throw InterchangeErrors.badExport(`The export is ${r.status}; files can be fetched once it is done.`)
    const path = req.params['*']
    let safe: string
    try {
      safe = checkExportPath(path)
    } catch {
      throw InterchangeErrors.exportNotFound()
    }
    const abs = join(filesDir(r.id), ...safe.split('/'))
    if (!existsSync(abs)) throw InterchangeErrors.exportNotFound()
    req.audit.detail = { export: r.id, file: safe }
    return sendFile(reply, abs, safe)
  })

  app.get<{ Params: { id: string } }>('/exports/:id/archive', read, async (req, reply) => {
    const r = await guardExport(req, req.params.id)
    if (r.status !== 'done') throw InterchangeErrors.badExport(`The export is ${r.status}; the archive can be fetched once it is done.`)
    const manifest = JSON.parse(await readFile(join(filesDir(r.id), MANIFEST), 'utf8')) as ExportManifest
    const manifestBytes = (await stat(join(filesDir(r.id), MANIFEST))).size
    const entries = [{ path: MANIFEST, abs: join(filesDir(r.id), MANIFEST), bytes: manifestBytes }, ...manifest.files.map((f) => ({ path: f.path, abs: join(filesDir(r.id), ...f.path.split('/')), bytes: f.bytes }))].map((e) => ({
      ...e,
      path: `kura-export-${r.id}/${e.path}`,
    }))
    req.audit.detail = { export: r.id, archive: true }
    return reply.type('application/x-tar').header('content-disposition', `attachment; filename="kura-export-${r.id}.tar"`).send(Readable.from(ustarStream(entries)))
  })
}
