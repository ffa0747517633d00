/** @module Annotation import and export (QuPath GeoJSON, Cytomine, ASAP, Sectra; COCO, CSV, tiles with masks) under /api. */
import type { FastifyInstance } from 'fastify'
import type { Archive } from '../../archive/archive.ts'

export async function interchangeRoutes(_app: FastifyInstance, _opts: { archive: Archive; dataDir: string }) {}
