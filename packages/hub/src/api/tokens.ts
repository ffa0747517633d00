/**
 * @module API tokens over HTTP (/api/tokens): issue, list, revoke.
 */
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '@kura/storage'
import { AuthErrors } from '../auth/errors.ts'
import { isRole, permissionsOf } from '../auth/roles.ts'
import { createToken, listTokens, revokeToken } from '../auth/tokens.ts'
import { optStr, str } from './admin.ts'

export async function tokenRoutes(app: FastifyInstance, opts: { db: Kysely<Database> }) {
  const { db } = opts
  const signedIn = { config: { permission: 'authenticated' as const } }

  app.get<{ Querystring: { all?: string } }>('/tokens', signedIn, async (req) => {
    const p = req.access.principal!
    return listTokens(db, req.query.all === '1' && p.isAdmin ? {} : { userId: p.userId })
  })

  app.post<{ Body: { name?: unknown; role?: unknown; collection?: unknown; site?: unknown; expiresInDays?: unknown } }>('/tokens', signedIn, async (req, reply) => {
    const p = req.access.principal!
    const b = req.body ?? {}
    const role = str(b.role, 'role')
    const collection = optStr(b.collection) ?? null
    if (!isRole(role)) throw AuthErrors.badRequest(`Unknown role "${role.slice(0, 40)}".`)
    // A token never carries more than its issuer holds on that collection (checked again at use).
    if (!p.isAdmin) {
      const covered = permissionsOf(role).every((perm) => (collection ? req.access.can(perm, collection) : req.access.collectionsWith(perm) === 'all'))
      if (!covered) throw AuthErrors.forbidden(`${role} role on ${collection ?? 'every collection'}`)
    }
    const { token, info } = await createToken(db, {
      userId: p.userId,
      name: str(b.name, 'name'),
      role,
      collection,
      site: optStr(b.site) ?? null,
      expiresInDays: typeof b.expiresInDays === 'number' ? b.expiresInDays : undefined,
    })
    req.audit.collection = collection ?? undefined
    req.audit.detail = { issued: info.id, role, site: info.site }
    return reply.status(201).send({ token, info })
  })

  app.delete<{ Params: { id: string } }>('/tokens/:id', signedIn, async (req, reply) => {
    const p = req.access.principal!
    const [info] = await listTokens(db, { id: req.params.id })
    if (!info || (info.userId !== p.userId && !p.isAdmin)) throw AuthErrors.notFound('The token')
    await revokeToken(db, info.id)
    app.principals.forget()
    req.audit.detail = { revoked: info.id, owner: info.username }
    return reply.status(204).send()
  })
}
