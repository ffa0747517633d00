/**
 * @module The hub's quarantine over HTTP (/api/quarantine), for curators: objects that failed a
 * de-identified collection's receipt check, with the reasons (never their values). A curator
 * discards an entry once the sender has fixed its policy and sent the object again.
 */
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import type { ObjectStore } from '@kura/core'
import type { Database } from '@kura/storage'
import { AuthErrors } from '../auth/errors.ts'

export async function quarantineRoutes(app: FastifyInstance, opts: { db: Kysely<Database>; objects: Pick<ObjectStore, 'delete'> }) {
  const { db } = opts
  const curator = { config: { permission: 'quarantine:review' as const } }

  const rows = () =>
    db
      .selectFrom('quarantine as q')
      .innerJoin('collection as c', 'c.id', 'q.collection_id')
      .select(['q.id', 'c.name as collection', 'q.sop_instance_uid', 'q.study_instance_uid', 'q.sha256', 'q.size', 'q.findings', 'q.received_at', 'q.object_key'])

  app.get<{ Querystring: { collection?: string; limit?: string } }>('/quarantine', curator, async (req) => {
    const visible = req.access.collectionsWith('quarantine:review')
    let q = rows().orderBy('q.received_at', 'desc').limit(Math.min(Number(req.query.limit) || 100, 1000))
    if (visible !== 'all') q = q.where('c.name', 'in', visible.length ? visible : [''])
    if (req.query.collection) q = q.where('c.name', '=', req.query.collection)
    return (await q.execute()).map((r) => ({
      id: r.id,
      collection: r.collection,
      sopInstanceUid: r.sop_instance_uid,
      studyInstanceUid: r.study_instance_uid,
      sha256: r.sha256,
      size: Number(r.size),
      findings: JSON.parse(r.findings) as unknown[],
      receivedAt: r.received_at,
    }))
  })

  app.delete<{ Params: { id: string } }>('/quarantine/:id', curator, async (req, reply) => {
    const row = await rows().where('q.id', '=', req.params.id).executeTakeFirst()
    if (!row || !req.access.can('quarantine:review', row.collection)) throw AuthErrors.notFound('The quarantined object')
    req.audit.collection = row.collection
    req.audit.detail = { discarded: row.sop_instance_uid }
    await db.deleteFrom('quarantine').where('id', '=', row.id).execute()
    const others = await db.selectFrom('quarantine').select('id').where('object_key', '=', row.object_key).executeTakeFirst()
    if (!others) await opts.objects.delete(row.object_key)
    return reply.status(204).send()
  })
}
