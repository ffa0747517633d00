/**
 * @module The audit log over HTTP (/api/audit), for auditors.
 */
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '@kura/storage'
import { auditView, listAudit, verifyAudit } from '../audit/log.ts'

export async function auditRoutes(app: FastifyInstance, opts: { db: Kysely<Database> }) {
  const auditor = { config: { permission: 'audit:read' as const } }

  app.get<{ Querystring: { limit?: string; before?: string; actor?: string; action?: string; from?: string; to?: string } }>('/audit', auditor, async (req) => {
    const q = req.query
    const rows = await listAudit(opts.db, { limit: q.limit ? Number(q.limit) : undefined, before: q.before ? Number(q.before) : undefined, actor: q.actor || undefined, action: q.action || undefined, from: q.from || undefined, to: q.to || undefined })
    return { events: rows.map(auditView) }
  })

  app.get('/audit/verify', auditor, async () => {
    const r = await verifyAudit(opts.db)
    return { ok: r.ok, events: r.events, firstBad: r.firstBad, reason: r.reason, head: r.head }
  })
}
