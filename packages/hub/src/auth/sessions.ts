/**
 * @module Browser sessions: an opaque cookie (stored as its SHA-256) with a CSRF token.
 *
 * Sessions live in the catalog, so any hub process can serve any request. They end after
 * SESSION_HOURS whatever the activity (a shared hospital PC must not stay signed in for days).
 */
import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { sha256Hex } from '@kura/core'
import type { Database } from '@kura/storage'

type Db = Kysely<Database>

export const SESSION_COOKIE = 'kura_session'
export const SESSION_HOURS = 12

export async function createSession(db: Db, userId: string, ip: string): Promise<{ cookie: string; csrfToken: string; expiresAt: Date }> {
  const cookie = randomBytes(32).toString('base64url')
  const csrfToken = randomBytes(24).toString('base64url')
  const now = new Date()
  const expiresAt = new Date(now.getTime() + SESSION_HOURS * 3_600_000)
  await db.insertInto('session').values({ id_hash: sha256Hex(cookie), user_id: userId, csrf_token: csrfToken, created_at: now.toISOString(), expires_at: expiresAt.toISOString(), ip }).execute()
  // Expired sessions are swept on the way; cheap with few rows and keeps the table small.
  await db.deleteFrom('session').where('expires_at', '<', now.toISOString()).execute()
  return { cookie, csrfToken, expiresAt }
}

export async function deleteSession(db: Db, cookie: string): Promise<void> {
  await db.deleteFrom('session').where('id_hash', '=', sha256Hex(cookie)).execute()
}

export async function deleteSessionsOf(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('session').where('user_id', '=', userId).execute()
}
