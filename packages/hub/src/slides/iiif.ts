/**
 * @module IIIF Image API 3.0 at /iiif/{slideId}: `info.json` and
 * `{region}/{size}/0/{default|color}.{jpg|png}` (level 1, plus pct regions/sizes and !w,h).
 * A request for exactly one stored tile at a stored scale (what OpenSeadragon's IIIF source asks
 * for) gets the stored JPEG as is.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { slideInfo } from './catalog.ts'
import { regionSource } from './geometry.ts'
import { imageEtag, notModified } from './http-cache.ts'
import { MAX_AREA, parseIiif } from './iiif-request.ts'
import { renderSource } from './render.ts'
import type { SlideServing } from './serving.ts'

const read = { config: { permission: 'study:read' as const } }
const CONTEXT = 'http://iiif.io/api/image/3/context.json'

/** `publicUrl` when configured (behind a proxy), otherwise what the client used to reach us. */
function iiifBase(req: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '') + '/iiif'
  return `${req.protocol}://${req.headers.host ?? req.hostname}/iiif`
}

export async function iiifRoutes(app: FastifyInstance, opts: { serving: SlideServing; publicUrl?: string }) {
  const { serving } = opts

  app.get<{ Params: { id: string } }>('/:id', read, async (req, reply) => {
    await serving.guard(req, req.params.id, 'study:read')
    return reply.redirect(`${iiifBase(req, opts.publicUrl)}/${req.params.id}/info.json`, 303)
  })

  app.get<{ Params: { id: string } }>('/:id/info.json', read, async (req, reply) => {
    const row = await serving.guard(req, req.params.id, 'study:read')
    const info = slideInfo(row)
    const l0 = info.levels[0]!
    // Every power of two down to one tile is served (stored levels pass through, the rest are
    // rendered), so tiled viewers can zoom out all the way.
    const scaleFactors: number[] = []
    for (let s = 1; ; s *= 2) {
      scaleFactors.push(s)
      if (Math.ceil(info.width / s) <= l0.tileWidth && Math.ceil(info.height / s) <= l0.tileHeight) break
    }
    const sizes = info.levels
      .map((l) => ({ width: l.width, height: l.height }))
      .filter((s) => s.width * s.height <= MAX_AREA)
      .reverse()
    const accept = req.headers.accept ?? ''
    reply.type(accept.includes('application/ld+json') ? `application/ld+json;profile="${CONTEXT}"` : 'application/json')
    return {
      '@context': CONTEXT,
      id: `${iiifBase(req, opts.publicUrl)}/${row.id}`,
      type: 'ImageService3',
      protocol: 'http://iiif.io/api/image',
      profile: 'level1',
      width: info.width,
      height: info.height,
      maxArea: MAX_AREA,
      sizes: sizes.length ? sizes : [{ width: Math.ceil(info.width / scaleFactors.at(-1)!), height: Math.ceil(info.height / scaleFactors.at(-1)!) }],
      tiles: [{ width: l0.tileWidth, height: l0.tileHeight, scaleFactors }],
      extraFormats: ['png'],
      extraQualities: ['color'],
      extraFeatures: ['regionByPct', 'sizeByPct', 'sizeByConfinedWh'],
    }
  })

  app.get<{ Params: { id: string; region: string; size: string; rotation: string; file: string } }>('/:id/:region/:size/:rotation/:file', read, async (req, reply) => {
    const row = await serving.guard(req, req.params.id, 'study:read')
    const info = slideInfo(row)
    const p = req.params
    const r = parseIiif(info.width, info.height, p.region, p.size, p.rotation, p.file)
    serving.auditTile(req, row)
    if (notModified(req, reply, imageEtag(row.sha256, req.url))) return reply.status(304).send()
    const src = regionSource(info.levels, r.x, r.y, r.w, r.h, r.outW, r.outH)
    const img = await serving.withSlide(row, (slide) => renderSource(slide, src, r.format))
    return reply.type(img.mediaType).header('X-Kura-Tile', img.passThrough ? 'stored' : 'rendered').send(Buffer.from(img.bytes.buffer, img.bytes.byteOffset, img.bytes.length))
  })
}
