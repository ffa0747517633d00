/** @module Health: `GET /healthz` answers 200 once the catalog answers a query. */
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import type { Archive } from '../archive/archive.ts'

export async function healthRoutes(app: FastifyInstance, opts: { archive: Archive }) {
  app.get('/healthz', { config: { permission: 'public' } }, async (_req, reply) => {
    await sql`select 1`.execute(opts.archive.catalog.db)
    return reply.send({ status: 'ok', catalog: opts.archive.catalog.engine, objects: opts.archive.objects.kind })
  })
}
