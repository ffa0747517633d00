/** @module The JSON API at /api: sign-in, session, administration, tokens, audit (docs/api.md). */
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import type { ObjectStore, OidcClientConfig } from '@kura/core'
import type { Database } from '@kura/storage'
import { adminRoutes } from './admin.ts'
import { auditRoutes } from './audit.ts'
import { quarantineRoutes } from './quarantine.ts'
import { sessionRoutes } from './session.ts'
import { tokenRoutes } from './tokens.ts'

export interface ApiOptions {
  db: Kysely<Database>
  objects: Pick<ObjectStore, 'delete'>
  secure: boolean
  oidc: OidcClientConfig | null
}

export async function apiRoutes(app: FastifyInstance, opts: ApiOptions) {
  const own = { db: opts.db, secure: opts.secure, oidc: opts.oidc }
  await app.register(sessionRoutes, own)
  await app.register(adminRoutes, own)
  await app.register(tokenRoutes, own)
  await app.register(auditRoutes, own)
  await app.register(quarantineRoutes, { db: opts.db, objects: opts.objects })
}
