/** @module De-identified clinical records under /api: receipt from gateways, search, per-site counts. */
import type { FastifyInstance } from 'fastify'
import type { Archive } from '../archive/archive.ts'

export async function recordRoutes(_app: FastifyInstance, _opts: { archive: Archive }) {}
