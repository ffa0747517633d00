/**
 * @module Caching headers for slide images. A slide id names immutable bytes (a new file is a
 * new slide), so every image under it is immutable: a strong ETag of (slide SHA-256, path) and a
 * year of max-age.
 *
 * `private`, not `public`: these are access-controlled patient images, and a shared cache would
 * hand them to anyone who asks for the URL. A CDN in front needs signed URLs (or a per-principal
 * cache key) first; the browser's own cache still gets everything.
 */
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

export const IMMUTABLE = 'private, max-age=31536000, immutable'

export function imageEtag(slideSha256: string, path: string): string {
  return `"${createHash('sha256').update(slideSha256).update('\n').update(path).digest('hex').slice(0, 40)}"`
}

/** Sets the caching headers; true when the client's copy is current (the caller sends 304). */
export function notModified(req: FastifyRequest, reply: FastifyReply, etag: string): boolean {
  reply.header('ETag', etag).header('Cache-Control', IMMUTABLE)
  const inm = req.headers['if-none-match']
  if (!inm) return false
  return inm.split(',').some((t) => {
    const v = t.trim()
    return v === '*' || v === etag || v === `W/${etag}`
  })
}
