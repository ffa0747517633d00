/**
 * @module /slides: store a slide (raw file body, or a DICOM WSI's instances as a ustar archive), list and describe slides, thumbnails,
 * associated images, and Deep Zoom (`/slides/{id}.dzi`, `/slides/{id}_files/{level}/{col}_{row}.jpeg`,
 * the URL OpenSeadragon derives from the .dzi one).
 */
import type { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { AuthErrors } from '../auth/errors.ts'
import { isSlideId, slideInfo, slideQuery } from './catalog.ts'
import { SlideErrors } from './errors.ts'
import { dziLayout, dziTile, regionSource } from './geometry.ts'
import { imageEtag, notModified } from './http-cache.ts'
import { renderRegion, renderSource } from './render.ts'
import type { SlideServing } from './serving.ts'
import { storeDicomSlideTar, storeSlide } from './upload.ts'

const read = { config: { permission: 'study:read' as const } }
const write = { config: { permission: 'study:write' as const } }
const THUMBNAIL_MAX = 512
const TILE = /^(\d{1,2})\/(\d{1,7})_(\d{1,7})\.(jpeg|jpg)$/

export async function slideApiRoutes(app: FastifyInstance, opts: { serving: SlideServing; tmpDir: string }) {
  const { serving } = opts
  const db = serving.archive.catalog.db
  // The slide body stays a stream (Fastify's bodyLimit never applies); storeSlide spools it to disk.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload))
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload))

  app.post<{ Querystring: { collection?: string } }>('/', write, async (req, reply) => {
    const name = req.query.collection
    if (!name) throw SlideErrors.collectionRequired()
    req.audit.collection = name
    if (!req.access.can('study:write', name)) throw AuthErrors.forbidden(`study:write permission on collection "${name.slice(0, 64)}"`)
    const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    if (ct !== 'application/octet-stream' && ct !== 'application/x-tar') {
      ;(req.body as Readable | undefined)?.resume?.()
      throw SlideErrors.mediaType(ct || '(none)')
    }
    const collection = await db.selectFrom('collection').select(['id', 'name', 'deidentified']).where('name', '=', name).executeTakeFirst()
    if (!collection) {
      ;(req.body as Readable).resume()
      throw SlideErrors.collectionNotFound(name)
    }
    const target = { id: collection.id, name: collection.name, deidentified: collection.deidentified === 1 }
    const r = ct === 'application/x-tar' ? await storeDicomSlideTar(serving.archive, opts.tmpDir, target, req.body as Readable) : await storeSlide(serving.archive, opts.tmpDir, target, req.body as Readable)
    req.audit.detail = { slide: r.row.id, status: r.status }
    return reply.status(r.status === 'stored' ? 201 : 200).send(slideInfo(r.row))
  })

  app.get<{ Querystring: { collection?: string; limit?: string; before?: string } }>('/', read, async (req) => {
    const visible = req.access.collectionsWith('study:read')
    let q = slideQuery(db).orderBy('s.created_at', 'desc').orderBy('s.id', 'desc').limit(Math.min(Number(req.query.limit) || 100, 1000))
    if (visible !== 'all') q = q.where('c.name', 'in', visible.length ? visible : [''])
    if (req.query.collection) {
      req.audit.collection = req.query.collection
      q = q.where('c.name', '=', req.query.collection)
    }
    if (req.query.before) q = q.where('s.created_at', '<', req.query.before)
    return (await q.execute()).map(slideInfo)
  })

  // `/slides/{id}` (JSON) and `/slides/{id}.dzi` share one route: a parameter cannot end in a literal.
  app.get<{ Params: { ref: string } }>('/:ref', read, async (req, reply) => {
    const dzi = req.params.ref.endsWith('.dzi')
    const id = dzi ? req.params.ref.slice(0, -4) : req.params.ref
    if (!isSlideId(id)) throw SlideErrors.notFound()
    const row = await serving.guard(req, id, 'study:read')
    if (!dzi) return { ...slideInfo(row), properties: JSON.parse(row.properties) as Record<string, string> }
    if (notModified(req, reply, imageEtag(row.sha256, req.url))) return reply.status(304).send()
    const d = dziLayout(slideInfo(row).levels)
    return reply
      .type('application/xml')
      .send(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="jpeg" Overlap="${d.overlap}" TileSize="${d.tileSize}"><Size Width="${d.width}" Height="${d.height}"/></Image>\n`,
      )
  })

  app.get<{ Params: { dir: string; level: string; tile: string } }>('/:dir/:level/:tile', read, async (req, reply) => {
    const { dir } = req.params
    const id = dir.endsWith('_files') ? dir.slice(0, -6) : ''
    if (!isSlideId(id)) throw SlideErrors.notFound()
    const m = TILE.exec(`${req.params.level}/${req.params.tile}`)
    if (!m) throw SlideErrors.badTile(`${req.params.level}/${req.params.tile}`)
    const row = await serving.guard(req, id, 'study:read')
    const [level, col, row_] = [Number(m[1]), Number(m[2]), Number(m[3])]
    const levels = slideInfo(row).levels
    const d = dziLayout(levels)
    const src = dziTile(levels, d, level, col, row_)
    if (!src) throw SlideErrors.tileOutOfRange(`Deep Zoom tile ${col}_${row_} of level ${level}`)
    serving.auditTile(req, row)
    if (notModified(req, reply, imageEtag(row.sha256, req.url))) return reply.status(304).send()
    const img = await serving.withSlide(row, (slide) => renderSource(slide, src, 'jpeg'))
    return reply.type(img.mediaType).header('X-Kura-Tile', img.passThrough ? 'stored' : 'rendered').send(Buffer.from(img.bytes.buffer, img.bytes.byteOffset, img.bytes.length))
  })

  app.get<{ Params: { id: string } }>('/:id/thumbnail', read, async (req, reply) => {
    const row = await serving.guard(req, req.params.id, 'study:read')
    if (notModified(req, reply, imageEtag(row.sha256, req.url))) return reply.status(304).send()
    const info = slideInfo(row)
    const scale = Math.max(info.width / THUMBNAIL_MAX, info.height / THUMBNAIL_MAX, 1)
    const outW = Math.max(1, Math.round(info.width / scale))
    const outH = Math.max(1, Math.round(info.height / scale))
    const src = regionSource(info.levels, 0, 0, info.width, info.height, outW, outH)
    const bytes = await serving.thumbnail(row, async () => {
      const img = await serving.withSlide(row, (slide) => (src.kind === 'render' ? renderRegion(slide, src.read, 'jpeg', 85) : renderSource(slide, src, 'jpeg')))
      return img.bytes
    })
    return reply.type('image/jpeg').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length))
  })

  // study:write, not study:read: a real slide's label is a photograph of the glass label, with the
  // patient's name or accession number on it, and the macro image often shows it too. Curators and
  // uploaders (who handle identified material anyway) may see them; researchers get the tiles only.
  app.get<{ Params: { id: string; name: string } }>('/:id/associated/:name', write, async (req, reply) => {
    const row = await serving.guard(req, req.params.id, 'study:write')
    const name = req.params.name
    if (!(JSON.parse(row.associated) as { name: string }[]).some((a) => a.name === name)) throw SlideErrors.notFound(`Associated image "${name.slice(0, 40)}"`)
    if (notModified(req, reply, imageEtag(row.sha256, req.url))) return reply.status(304).send()
    const img = await serving.withSlide(row, (slide) => slide.associated.get(name as 'label')!.read())
    return reply.type(img.mediaType).send(Buffer.from(img.bytes))
  })
}

