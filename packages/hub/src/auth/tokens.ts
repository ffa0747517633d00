/**
 * @module API tokens for gateways and scripts: scoped to a role (and a collection, a site),
 * expiring, revocable, shown once and stored as their SHA-256.
 *
 * A token is `kura_` + 32 random bytes (base64url): with 256 bits of entropy a plain SHA-256 is
 * as safe to store as a slow hash, and lets every request find its token by one index lookup.
 */
import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { newId, sha256Hex } from '@kura/core'
import type { Database } from '@kura/storage'
import { AuthErrors } from './errors.ts'
import { collectionIdByName, siteIdByName } from './grants.ts'
import { isRole, ROLES, type Role } from './roles.ts'

type Db = Kysely<Database>

export const TOKEN_PREFIX = 'kura_'
export const DEFAULT_TOKEN_DAYS = 90
export const MAX_TOKEN_DAYS = 730

export interface TokenView {
  id: string
  name: string
  userId: string
  username: string
  role: Role
  collection: string | null
  site: string | null
  prefix: string
  createdAt: string
  expiresAt: string
  revokedAt: string | null
  lastUsedAt: string | null
}

export interface NewToken {
  userId: string
  name: string
  role: string
  collection?: string | null
  site?: string | null
  expiresInDays?: number
}

export function hashToken(token: string): string {
  return sha256Hex(token)
}

/** Issues a token; the caller checks that the issuer may give this role on this collection. */
export async function createToken(db: Db, input: NewToken): Promise<{ token: string; info: TokenView }> {
  if (!isRole(input.role)) throw AuthErrors.badRequest(`Unknown role "${String(input.role).slice(0, 40)}"; use one of ${ROLES.join(', ')}.`)
  const name = (input.name ?? '').trim()
  if (!name || name.length > 100) throw AuthErrors.badRequest('Give the token a name of 1–100 characters (what uses it, e.g. "gateway tokyo-1").')
  const days = input.expiresInDays ?? DEFAULT_TOKEN_DAYS
  if (!Number.isFinite(days) || days <= 0 || days > MAX_TOKEN_DAYS) throw AuthErrors.badRequest(`expiresInDays must be between 1 and ${MAX_TOKEN_DAYS}.`)
  const collectionId = input.collection ? await collectionIdByName(db, input.collection) : null
  const siteId = input.site ? await siteIdByName(db, input.site) : null
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url')
  const now = new Date()
  const id = newId()
  await db
    .insertInto('api_token')
    .values({
      id,
      user_id: input.userId,
      name,
      token_hash: hashToken(token),
      prefix: token.slice(0, 12),
      role: input.role,
      collection_id: collectionId,
      site_id: siteId,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + days * 86_400_000).toISOString(),
      revoked_at: null,
      last_used_at: null,
    })
    .execute()
  const [info] = await listTokens(db, { id })
  return { token, info: info! }
}

export async function listTokens(db: Db, filter: { userId?: string; id?: string } = {}): Promise<TokenView[]> {
  let q = db
    .selectFrom('api_token as t')
    .innerJoin('user as u', 'u.id', 't.user_id')
    .leftJoin('collection as c', 'c.id', 't.collection_id')
    .leftJoin('site as s', 's.id', 't.site_id')
    .select(['t.id', 't.name', 't.user_id', 'u.username', 't.role', 'c.name as collection', 's.name as site', 't.prefix', 't.created_at', 't.expires_at', 't.revoked_at', 't.last_used_at'])
    .orderBy('t.created_at', 'desc')
  if (filter.userId) q = q.where('t.user_id', '=', filter.userId)
  if (filter.id) q = q.where('t.id', '=', filter.id)
  return (await q.execute()).map((r) => ({
    id: r.id,
    name: r.name,
    userId: r.user_id,
    username: r.username,
    role: r.role as Role,
    collection: r.collection ?? null,
    site: r.site ?? null,
    prefix: r.prefix,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  }))
}

/** Revokes a token (a no-op on one already revoked); returns the token's owner. */
export async function revokeToken(db: Db, id: string): Promise<TokenView> {
  const [info] = await listTokens(db, { id })
  if (!info) throw AuthErrors.notFound('The token')
  if (!info.revokedAt) await db.updateTable('api_token').set({ revoked_at: new Date().toISOString() }).where('id', '=', id).execute()
  return (await listTokens(db, { id }))[0]!
}
