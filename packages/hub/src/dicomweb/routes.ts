/** @module The DICOMweb service at /dicomweb: STOW-RS, QIDO-RS and WADO-RS (PS3.18). */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Archive } from '../archive/archive.ts'
import type { GrantedPermission } from '../auth/roles.ts'
import { DicomwebErrors } from './errors.ts'
import { qidoRoutes } from './qido.ts'
import { stowRoutes } from './stow.ts'
import { wadoRoutes } from './wado.ts'

export async function dicomwebRoutes(app: FastifyInstance, opts: { archive: Archive; publicUrl?: string }) {
  // Only our own options: Fastify's `prefix` in `opts` would otherwise apply twice.
  const own = { archive: opts.archive, publicUrl: opts.publicUrl }
  const db = opts.archive.catalog.db

  // A study outside the principal's collections answers exactly like a missing one (404), so
  // nobody learns what other collections hold. Runs after the app-level permission check.
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const study = (req.params as { study?: string }).study
    if (!study) return
    const row = await db.selectFrom('study as st').innerJoin('collection as c', 'c.id', 'st.collection_id').select('c.name').where('st.study_instance_uid', '=', study).executeTakeFirst()
    if (!row) return
    const permission = req.routeOptions.config.permission as GrantedPermission
    req.audit.collection = row.name
    if (!req.access.can(permission, row.name)) {
      req.audit.outcome = 'denied'
      req.audit.detail = { hidden: 'study is in a collection this principal cannot access' }
      throw DicomwebErrors.notFound(`Study ${study}`)
    }
  })
  await app.register(stowRoutes, own)
  await app.register(qidoRoutes, own)
  await app.register(wadoRoutes, own)
}
