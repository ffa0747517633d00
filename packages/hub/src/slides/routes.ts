/**
 * @module Slide serving: `/slides` (store, list, describe, Deep Zoom, thumbnails, associated
 * images) and `/iiif` (IIIF Image API 3.0), over one set of open readers.
 */
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Archive } from '../archive/archive.ts'
import { iiifRoutes } from './iiif.ts'
import { SlideServing } from './serving.ts'
import { slideApiRoutes } from './slide-api.ts'

export async function slideRoutes(app: FastifyInstance, opts: { archive: Archive; dataDir: string; publicUrl?: string }) {
  const serving = new SlideServing(opts.archive)
  app.addHook('onClose', () => serving.readers.closeAll())
  await app.register(slideApiRoutes, { prefix: '/slides', serving, tmpDir: join(opts.dataDir, 'tmp') })
  await app.register(iiifRoutes, { prefix: '/iiif', serving, publicUrl: opts.publicUrl })
}
