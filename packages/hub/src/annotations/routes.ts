/** @module Vocabularies, annotations (with viewport queries) and image-level labels under /api. */
import type { FastifyInstance } from 'fastify'
import type { Archive } from '../archive/archive.ts'

export async function annotationRoutes(_app: FastifyInstance, _opts: { archive: Archive }) {}
