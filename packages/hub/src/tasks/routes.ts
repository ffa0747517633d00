/** @module Annotation tasks, progress, adjudication and agreement under /api. */
import type { FastifyInstance } from 'fastify'
import type { Archive } from '../archive/archive.ts'

export async function taskRoutes(_app: FastifyInstance, _opts: { archive: Archive }) {}
