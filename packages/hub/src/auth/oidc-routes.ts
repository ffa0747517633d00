/**
 * @module OpenID Connect sign-in routes (registered under /api/auth/oidc): `GET /login` sends the
 * browser to the identity provider, `GET /callback` completes the sign-in and hands the identity
 * to the hub's `signIn`, which creates or links the user and sets the session cookie.
 *
 * Both are browser navigations, so every outcome is a redirect: failures go to
 * `/signin?error=CODE` (never with tokens or provider text in the URL) and the reason is logged.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type {} from '@fastify/cookie'
import { isKuraError } from '@kura/core'
import type { OidcCallbackQuery, OidcClient, OidcIdentity, OidcPending } from './oidc.ts'
import { OidcErrors } from './oidc-errors.ts'

export interface OidcRoutesOptions {
  client: OidcClient
  /** Send the pending cookie only over TLS (true whenever the hub is served over https). */
  secure: boolean
  signIn(req: FastifyRequest, reply: FastifyReply, identity: OidcIdentity): Promise<void>
}

/** Holds state, nonce and PKCE verifier between /login and /callback; signed, so it cannot be forged. */
export const PENDING_COOKIE = 'kura_oidc'
const PENDING_MAX_AGE_S = 600

function encodePending(p: OidcPending): string {
  return Buffer.from(JSON.stringify({ s: p.state, n: p.nonce, v: p.codeVerifier })).toString('base64url')
}

function decodePending(raw: string): OidcPending | null {
  try {
    const o = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Record<string, unknown>
    if (typeof o.s !== 'string' || typeof o.n !== 'string' || typeof o.v !== 'string') return null
    return { state: o.s, nonce: o.n, codeVerifier: o.v }
  } catch {
    return null
  }
}

/**
 * Query parameters as single strings. A repeated parameter (an array after parsing) is dropped,
 * so a doubled `state` or `code` fails the checks instead of being picked from.
 */
function singleValues(query: unknown): OidcCallbackQuery {
  const out: OidcCallbackQuery = {}
  for (const [k, v] of Object.entries((query ?? {}) as Record<string, unknown>)) if (typeof v === 'string') out[k] = v
  return out
}

export const oidcRoutes: FastifyPluginAsync<OidcRoutesOptions> = async (app, opts) => {
  if (!app.hasReplyDecorator('setCookie')) {
    throw new Error('oidcRoutes needs @fastify/cookie registered (with a secret) on the app before it.')
  }
  const cookiePath = app.prefix || '/'
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, path: cookiePath, secure: opts.secure }

  app.get('/login', { config: { permission: 'public' } }, async (_req, reply) => {
    const { url, pending } = opts.client.begin()
    reply.setCookie(PENDING_COOKIE, encodePending(pending), { ...cookieOptions, signed: true, maxAge: PENDING_MAX_AGE_S })
    return reply.header('cache-control', 'no-store').redirect(url, 302)
  })

  // logLevel warn: Fastify's per-request info lines log the URL, whose query holds the authorization code.
  app.get('/callback', { config: { permission: 'public' }, logLevel: 'warn' }, async (req, reply) => {
    reply.header('cache-control', 'no-store')
    // The pending values are single-use: cleared whatever the outcome.
    const raw = req.cookies[PENDING_COOKIE]
    reply.clearCookie(PENDING_COOKIE, cookieOptions)
    try {
      const unsigned = raw ? req.unsignCookie(raw) : null
      const pending = unsigned?.valid && unsigned.value ? decodePending(unsigned.value) : null
      if (!pending) throw OidcErrors.pendingMissing()
      const identity = await opts.client.finish(singleValues(req.query), pending)
      await opts.signIn(req, reply, identity)
      return reply.redirect('/', 302)
    } catch (e) {
      const code = isKuraError(e) ? e.code : 'OIDC_SIGNIN_FAILED'
      // Only messages, never the error objects: a jose claim error carries the token's claims.
      const cause = isKuraError(e) && e.cause instanceof Error ? e.cause.message : undefined
      if (isKuraError(e)) req.log.warn({ code, reason: e.message, cause }, 'OIDC sign-in failed')
      else req.log.error({ code, reason: (e as Error)?.message }, 'OIDC sign-in failed unexpectedly')
      return reply.redirect(`/signin?error=${encodeURIComponent(code)}`, 302)
    }
  })
}
