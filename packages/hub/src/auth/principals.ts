/**
 * @module Principals: who a request comes from, found by its bearer token or session cookie.
 *
 * Every data request resolves its principal, so answers are cached per credential for a second:
 * a revoked token, a removed grant or a disabled user stop working within that second in every
 * process (and at once in the process that made the change, which calls `forget`).
 */
import type { Kysely } from 'kysely'
import { sha256Hex } from '@kura/core'
import type { Database } from '@kura/storage'
import { scopesOfToken, scopesOfUser, type Principal } from './access.ts'
import { userGrants } from './grants.ts'
import { isRole } from './roles.ts'
import { hashToken } from './tokens.ts'

type Db = Kysely<Database>

const TTL_MS = 1000
const MAX_ENTRIES = 10_000

export class PrincipalResolver {
  private readonly cache = new Map<string, { at: number; principal: Promise<Principal | null> }>()
  /** Last-used times are written at most once a minute per token. */
  private readonly lastUsedWritten = new Map<string, number>()

  constructor(private readonly db: Db) {}

  byToken(token: string): Promise<Principal | null> {
    return this.cached(`t:${hashToken(token)}`, () => this.loadToken(hashToken(token)))
  }

  bySession(cookie: string): Promise<Principal | null> {
    return this.cached(`s:${sha256Hex(cookie)}`, () => this.loadSession(sha256Hex(cookie)))
  }

  /** Drops every cached answer (after a change to users, grants, tokens or sessions). */
  forget(): void {
    this.cache.clear()
  }

  private cached(key: string, load: () => Promise<Principal | null>): Promise<Principal | null> {
    const now = Date.now()
    const hit = this.cache.get(key)
    if (hit && now - hit.at < TTL_MS) return hit.principal
    if (this.cache.size >= MAX_ENTRIES) this.cache.clear()
    const principal = load()
    this.cache.set(key, { at: now, principal })
    principal.catch(() => this.cache.delete(key))
    return principal
  }

  private async loadToken(tokenHash: string): Promise<Principal | null> {
    const row = await this.db
      .selectFrom('api_token as t')
      .innerJoin('user as u', 'u.id', 't.user_id')
      .leftJoin('collection as c', 'c.id', 't.collection_id')
      .leftJoin('site as si', 'si.id', 't.site_id')
      .select(['t.id', 't.role', 't.collection_id', 'c.name as collection', 'si.name as site', 't.expires_at', 't.revoked_at', 'u.id as user_id', 'u.username', 'u.is_admin', 'u.disabled'])
      .where('t.token_hash', '=', tokenHash)
      .executeTakeFirst()
    const now = new Date()
    if (!row || row.revoked_at || row.expires_at <= now.toISOString() || row.disabled === 1 || !isRole(row.role)) return null
    const owner = scopesOfUser(row.is_admin === 1, await userGrants(this.db, row.user_id))
    const last = this.lastUsedWritten.get(row.id) ?? 0
    if (now.getTime() - last > 60_000) {
      this.lastUsedWritten.set(row.id, now.getTime())
      await this.db.updateTable('api_token').set({ last_used_at: now.toISOString() }).where('id', '=', row.id).execute()
    }
    return {
      kind: 'token',
      userId: row.user_id,
      username: row.username,
      isAdmin: row.is_admin === 1 && row.role === 'admin' && row.collection_id === null,
      tokenId: row.id,
      csrfToken: null,
      mustChangePassword: false,
      scopes: scopesOfToken(owner, { role: row.role, collection: row.collection ?? null, site: row.site ?? null }),
    }
  }

  private async loadSession(idHash: string): Promise<Principal | null> {
    const row = await this.db
      .selectFrom('session as s')
      .innerJoin('user as u', 'u.id', 's.user_id')
      .select(['s.csrf_token', 's.expires_at', 'u.id as user_id', 'u.username', 'u.is_admin', 'u.disabled', 'u.must_change_password'])
      .where('s.id_hash', '=', idHash)
      .executeTakeFirst()
    if (!row || row.expires_at <= new Date().toISOString() || row.disabled === 1) return null
    const mustChange = row.must_change_password === 1
    return {
      kind: 'session',
      userId: row.user_id,
      username: row.username,
      isAdmin: row.is_admin === 1,
      tokenId: null,
      csrfToken: row.csrf_token,
      mustChangePassword: mustChange,
      // Until the one-time password is replaced, the session may do nothing but replace it.
      scopes: mustChange ? [] : scopesOfUser(row.is_admin === 1, await userGrants(this.db, row.user_id)),
    }
  }
}
