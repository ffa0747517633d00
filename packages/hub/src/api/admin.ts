/**
 * @module Administration: users, sites, grants and collections (/api/users, /api/sites,
 * /api/grants, /api/collections). Every change is an audit event (the generic request event
 * names the route; the detail says what changed).
 */
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import type { Database } from '@kura/storage'
import { AuthErrors } from '../auth/errors.ts'
import { addGrant, createCollection, createSite, listCollections, listGrants, listSites, removeGrant, setCollectionDeidentified } from '../auth/grants.ts'
import { deleteSessionsOf } from '../auth/sessions.ts'
import { createUser, listUsers, updateUser, userView } from '../auth/users.ts'

export async function adminRoutes(app: FastifyInstance, opts: { db: Kysely<Database> }) {
  const { db } = opts
  const admin = { config: { permission: 'admin' as const } }

  app.get('/collections', { config: { permission: 'authenticated' } }, async (req) => {
    const names = new Set<string>()
    let all = false
    for (const s of req.access.principal!.scopes) {
      if (s.collection === null) all = true
      else names.add(s.collection)
    }
    return listCollections(db, all ? 'all' : [...names])
  })

  app.post<{ Body: { name?: unknown; deidentified?: unknown } }>('/collections', admin, async (req, reply) => {
    const name = str(req.body?.name, 'name')
    req.audit.collection = name
    return reply.status(201).send(await createCollection(db, name, req.body?.deidentified === true))
  })

  app.patch<{ Params: { name: string }; Body: { deidentified?: unknown } }>('/collections/:name', admin, async (req) => {
    if (typeof req.body?.deidentified !== 'boolean') throw AuthErrors.badRequest('Give "deidentified": true or false.')
    req.audit.collection = req.params.name
    req.audit.detail = { deidentified: req.body.deidentified }
    await setCollectionDeidentified(db, req.params.name, req.body.deidentified)
    return (await listCollections(db, [req.params.name]))[0]
  })

  app.get('/users', admin, async () => (await listUsers(db)).map(userView))

  app.post<{ Body: { username?: unknown; displayName?: unknown; email?: unknown; isAdmin?: unknown } }>('/users', admin, async (req, reply) => {
    const b = req.body ?? {}
    const { user, oneTimePassword } = await createUser(db, {
      username: str(b.username, 'username'),
      displayName: optStr(b.displayName),
      email: optStr(b.email),
      isAdmin: b.isAdmin === true,
    })
    req.audit.detail = { user: user.username, isAdmin: user.is_admin === 1 }
    return reply.status(201).send({ user: userView(user), oneTimePassword })
  })

  app.patch<{ Params: { id: string }; Body: Record<string, unknown> }>('/users/:id', admin, async (req) => {
    const b = req.body ?? {}
    const changes = {
      displayName: optStr(b.displayName),
      email: optStr(b.email),
      isAdmin: optBool(b.isAdmin),
      disabled: optBool(b.disabled),
      unlock: b.unlock === true,
    }
    if (req.params.id === req.access.principal!.userId && (changes.disabled || changes.isAdmin === false)) {
      throw AuthErrors.badRequest('You cannot disable yourself or remove your own admin rights; ask another administrator.')
    }
    const user = await updateUser(db, req.params.id, changes)
    if (changes.disabled) await deleteSessionsOf(db, user.id)
    app.principals.forget()
    req.audit.detail = { user: user.username, changes: Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined && v !== false)) }
    return userView(user)
  })

  app.get('/sites', admin, async () => listSites(db))
  app.post<{ Body: { name?: unknown } }>('/sites', admin, async (req, reply) => reply.status(201).send(await createSite(db, str(req.body?.name, 'name'))))

  app.get<{ Querystring: { user?: string } }>('/grants', admin, async (req) => listGrants(db, req.query.user || undefined))

  app.post<{ Body: { userId?: unknown; role?: unknown; collection?: unknown; site?: unknown } }>('/grants', admin, async (req, reply) => {
    const b = req.body ?? {}
    const grant = await addGrant(db, { userId: str(b.userId, 'userId'), role: str(b.role, 'role'), collection: optStr(b.collection) ?? null, site: optStr(b.site) ?? null })
    app.principals.forget()
    req.audit.collection = grant.collection ?? undefined
    req.audit.detail = { user: grant.username, role: grant.role, site: grant.site }
    return reply.status(201).send(grant)
  })

  app.delete<{ Params: { id: string } }>('/grants/:id', admin, async (req, reply) => {
    await removeGrant(db, req.params.id)
    app.principals.forget()
    return reply.status(204).send()
  })
}

export function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || !v.trim()) throw AuthErrors.badRequest(`Give "${field}" as a non-empty string.`)
  return v.trim()
}

export function optStr(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() ? v.trim() : undefined
}

function optBool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined
}
