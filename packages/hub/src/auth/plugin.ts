/**
 * @module The access plugin: identifies every request's principal, enforces the route's declared
 * permission before anything else runs (so a refused STOW body is never read), records the
 * audit event before the response leaves, and sets the security headers.
 *
 * Credentials: `Authorization: Bearer kura_…` (programs) or the `kura_session` cookie
 * (browsers; unsafe methods must echo the session's CSRF token in `X-CSRF-Token`). A bad bearer
 * token is a 401 even on a public route, so a misconfigured gateway learns it at once.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import cookie from '@fastify/cookie'
import type { Kysely } from 'kysely'
import type { Database } from '@kura/storage'
import type { AuditEvent, AuditLog } from '../audit/log.ts'
import { Access, type Principal } from './access.ts'
import { AuthErrors } from './errors.ts'
import { RateLimiter } from './rate-limit.ts'
import { PrincipalResolver } from './principals.ts'
import { SESSION_COOKIE } from './sessions.ts'
import { TOKEN_PREFIX } from './tokens.ts'
import type { Permission } from './roles.ts'

/** What a handler adds to the request's audit event. */
export interface AuditContext {
  collection?: string
  detail?: Record<string, unknown>
  /** Overrides the outcome read off the status (e.g. a 404 that hides another collection's study). */
  outcome?: AuditEvent['outcome']
  /** The handler wrote its own event(s) (sign-in); skip the generic one. */
  recorded?: boolean
}

declare module 'fastify' {
  interface FastifyRequest {
    access: Access
    audit: AuditContext
  }
  interface FastifyInstance {
    principals: PrincipalResolver
    auditLog: AuditLog
  }
}

export interface AccessPluginOptions {
  db: Kysely<Database>
  auditLog: AuditLog
  /** Secret for signed cookies (OIDC sign-in state). */
  cookieSecret: string
  /** TLS is on: cookies are Secure and HSTS is sent. */
  secure: boolean
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const PASSWORD_CHANGE_ROUTES = new Set(['/api/session', '/api/session/password', '/api/auth/logout'])

const CSP = [
  "default-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

export const accessPlugin = fp<AccessPluginOptions>(
  async function access(app: FastifyInstance, opts) {
    await app.register(cookie, { secret: opts.cookieSecret })
    const principals = new PrincipalResolver(opts.db)
    app.decorate('principals', principals)
    app.decorate('auditLog', opts.auditLog)
    app.decorateRequest('access', null as unknown as Access)
    app.decorateRequest('audit', null as unknown as AuditContext)
    // Failed token lookups per client address: guessing a token is hopeless, but a flood of
    // them is worth stopping early.
    const badTokens = new RateLimiter(30, 60_000)

    app.addHook('onRequest', async (req: FastifyRequest) => {
      req.audit = {}
      req.access = new Access(null)
      const permission = req.routeOptions.config?.permission
      const principal = await identify(req, principals, badTokens)
      req.access = new Access(principal)
      if (!permission || permission === 'public') return
      if (!principal) throw AuthErrors.unauthenticated()
      if (principal.kind === 'session' && UNSAFE.has(req.method) && req.headers['x-csrf-token'] !== principal.csrfToken) throw AuthErrors.csrf()
      // A one-time password buys nothing but choosing a real one (and signing out).
      if (principal.mustChangePassword && !PASSWORD_CHANGE_ROUTES.has(req.routeOptions.url ?? '')) throw AuthErrors.passwordChangeRequired()
      if (permission === 'authenticated') return
      if (!req.access.holds(permission)) throw AuthErrors.forbidden(permission)
    })

    app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply) => {
      // A route may set a stricter policy of its own (the web application's index.html does).
      if (!reply.hasHeader('content-security-policy')) reply.header('Content-Security-Policy', CSP)
      reply.header('X-Content-Type-Options', 'nosniff')
      reply.header('X-Frame-Options', 'DENY')
      reply.header('Referrer-Policy', 'no-referrer')
      if (opts.secure) reply.header('Strict-Transport-Security', 'max-age=31536000; includeSubDomains')
      if (reply.statusCode === 401) reply.header('WWW-Authenticate', 'Bearer realm="kura"')
      const permission: Permission | undefined = req.routeOptions.config?.permission
      if (!permission || permission === 'public' || req.audit?.recorded) return
      await opts.auditLog.record(requestEvent(req, reply.statusCode))
    })
  },
  { name: 'kura-access', dependencies: ['kura-permissions'] },
)

async function identify(req: FastifyRequest, principals: PrincipalResolver, badTokens: RateLimiter): Promise<Principal | null> {
  const auth = req.headers.authorization
  if (auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth)
    if (!m || !m[1]!.startsWith(TOKEN_PREFIX)) {
      badTokens.hit(req.ip)
      throw AuthErrors.tokenInvalid()
    }
    const blocked = badTokens.waiting(req.ip)
    if (blocked) throw AuthErrors.rateLimited(blocked)
    const principal = await principals.byToken(m[1]!)
    if (principal) return principal
    badTokens.hit(req.ip)
    throw AuthErrors.tokenInvalid()
  }
  const raw = req.cookies?.[SESSION_COOKIE]
  return raw ? principals.bySession(raw) : null
}

/** The generic event of a request: who, which route, on what, with what outcome. */
export function requestEvent(req: FastifyRequest, status: number): AuditEvent {
  const p = req.access?.principal
  const route = req.routeOptions.url ?? req.url.split('?')[0]!
  const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : ''
  return {
    actor: p?.username ?? 'anonymous',
    actorKind: p ? (p.kind === 'token' ? 'token' : 'user') : 'anonymous',
    action: `${req.method} ${route}`,
    resource: req.url.split('?')[0]!,
    collection: req.audit?.collection,
    ip: req.ip,
    outcome: req.audit?.outcome ?? (status < 400 ? 'success' : status === 401 || status === 403 ? 'denied' : 'error'),
    status,
    detail: { ...(p?.tokenId ? { token: p.tokenId } : {}), ...(query ? { query: query.slice(0, 2000) } : {}), ...req.audit?.detail },
  }
}
