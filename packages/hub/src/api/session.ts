/**
 * @module Sign-in and the signed-in principal: /api/auth/* and /api/session.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type { OidcClientConfig } from '@kura/core'
import type { Database } from '@kura/storage'
import { AuthErrors } from '../auth/errors.ts'
import { listGrants } from '../auth/grants.ts'
import { RateLimiter } from '../auth/rate-limit.ts'
import { createSession, deleteSession, SESSION_COOKIE, SESSION_HOURS } from '../auth/sessions.ts'
import { authenticatePassword, changePassword, getUser, userForOidc, userView, type OidcIdentityLike, type UserRow } from '../auth/users.ts'
import { isKuraError } from '@kura/core'

export interface SessionRoutesOptions {
  db: Kysely<Database>
  secure: boolean
  oidc: OidcClientConfig | null
}

interface LoginBody {
  username?: unknown
  password?: unknown
}

export async function sessionRoutes(app: FastifyInstance, opts: SessionRoutesOptions) {
  const { db } = opts
  // Per address and per account, so one noisy client cannot lock everyone else out of trying.
  const perAddress = new RateLimiter(20, 60_000)
  const perAccount = new RateLimiter(10, 60_000)

  app.get('/auth/config', { config: { permission: 'public' } }, async () => ({ local: true, oidc: opts.oidc ? { name: opts.oidc.name } : null }))

  app.post<{ Body: LoginBody }>('/auth/login', { config: { permission: 'public' } }, async (req, reply) => {
    const username = typeof req.body?.username === 'string' ? req.body.username : ''
    const password = typeof req.body?.password === 'string' ? req.body.password : ''
    if (!username || !password) throw AuthErrors.badRequest('Give "username" and "password".')
    const wait = Math.max(perAddress.hit(req.ip), perAccount.hit(username.toLowerCase()))
    req.audit.recorded = true
    const audit = (outcome: 'success' | 'denied', status: number, reason?: string) =>
      app.auditLog.record({ actor: username.slice(0, 64), actorKind: 'user', action: 'auth.login', resource: '/api/auth/login', ip: req.ip, outcome, status, detail: reason ? { reason } : {} })
    if (wait) {
      await audit('denied', 429, 'rate limited')
      reply.header('Retry-After', String(wait))
      throw AuthErrors.rateLimited(wait)
    }
    let user: UserRow
    try {
      user = await authenticatePassword(db, username, password)
    } catch (e) {
      if (isKuraError(e)) await audit('denied', e.status, e.code)
      throw e
    }
    const csrfToken = await startSession(db, req, reply, user.id, opts.secure)
    await audit('success', 200)
    return { user: userView(user), csrfToken }
  })

  app.post('/auth/logout', { config: { permission: 'authenticated' } }, async (req, reply) => {
    const raw = req.cookies[SESSION_COOKIE]
    if (raw) await deleteSession(db, raw)
    app.principals.forget()
    reply.clearCookie(SESSION_COOKIE, { path: '/' })
    return reply.status(204).send()
  })

  app.get('/session', { config: { permission: 'authenticated' } }, async (req) => {
    const p = req.access.principal!
    const user = await getUser(db, p.userId)
    if (!user) throw AuthErrors.unauthenticated()
    return {
      user: userView(user),
      csrfToken: p.csrfToken,
      grants: (await listGrants(db, p.userId)).map((g) => ({ id: g.id, role: g.role, collection: g.collection, site: g.site })),
      permissions: req.access.permissions(),
      mustChangePassword: p.mustChangePassword,
      via: p.kind,
    }
  })

  app.post<{ Body: { current?: unknown; next?: unknown } }>('/session/password', { config: { permission: 'authenticated' } }, async (req, reply) => {
    const p = req.access.principal!
    if (p.kind !== 'session') throw AuthErrors.badRequest('Change passwords from a signed-in browser session, not with an API token.')
    if (typeof req.body?.current !== 'string' || typeof req.body?.next !== 'string') throw AuthErrors.badRequest('Give "current" and "next".')
    await changePassword(db, p.userId, req.body.current, req.body.next)
    app.principals.forget()
    return reply.status(204).send()
  })
}

/** Starts a browser session for a user who proved who they are (password or OIDC); returns its CSRF token. */
async function startSession(db: Kysely<Database>, req: FastifyRequest, reply: FastifyReply, userId: string, secure: boolean): Promise<string> {
  const s = await createSession(db, userId, req.ip)
  reply.setCookie(SESSION_COOKIE, s.cookie, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: SESSION_HOURS * 3600 })
  return s.csrfToken
}

/** Used by the OIDC callback: the linked (or new) user gets a session like a password sign-in. */
export function oidcSignIn(app: FastifyInstance, db: Kysely<Database>, secure: boolean) {
  return async (req: FastifyRequest, reply: FastifyReply, identity: OidcIdentityLike): Promise<void> => {
    const user = await userForOidc(db, identity)
    await startSession(db, req, reply, user.id, secure)
    await app.auditLog.record({ actor: user.username, actorKind: 'user', action: 'auth.oidc', resource: '/api/auth/oidc/callback', ip: req.ip, outcome: 'success', status: 302, detail: { issuer: identity.issuer } })
  }
}
