/** @module The DICOMweb service at /dicomweb: STOW-RS, QIDO-RS and WADO-RS (PS3.18). */
import type { FastifyInstance } from 'fastify'
import type { Archive } from '../archive/archive.ts'
import { qidoRoutes } from './qido.ts'
import { stowRoutes } from './stow.ts'
import { wadoRoutes } from './wado.ts'

export async function dicomwebRoutes(app: FastifyInstance, opts: { archive: Archive; publicUrl?: string }) {
  // Only our own options: Fastify's `prefix` in `opts` would otherwise apply twice.
  const own = { archive: opts.archive, publicUrl: opts.publicUrl }
  await app.register(stowRoutes, own)
  await app.register(qidoRoutes, own)
  await app.register(wadoRoutes, own)
}
