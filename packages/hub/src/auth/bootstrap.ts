/**
 * @module The first administrator: created on the first start of an empty hub (its one-time
 * password printed once), and the owner of admin tokens made on the hub's machine by
 * `kura token create --admin`.
 */
import type { Kysely } from 'kysely'
import type { Database } from '@kura/storage'
import { createToken } from './tokens.ts'
import { countUsers, createUser, type UserRow } from './users.ts'

type Db = Kysely<Database>

export const FIRST_ADMIN = 'admin'

/** Creates `admin` when there are no users at all; returns its one-time password, or null. */
export async function ensureFirstAdmin(db: Db): Promise<{ username: string; oneTimePassword: string } | null> {
  if ((await countUsers(db)) > 0) return null
  try {
    const { user, oneTimePassword } = await createUser(db, { username: FIRST_ADMIN, displayName: 'Administrator', isAdmin: true })
    return { username: user.username, oneTimePassword }
  } catch {
    // Another process created it first.
    return null
  }
}

/** An admin-role token owned by the oldest administrator (created first when none exists). */
export async function issueAdminToken(db: Db, name: string, expiresInDays?: number): Promise<{ token: string; firstAdmin: { username: string; oneTimePassword: string } | null; owner: string }> {
  const firstAdmin = await ensureFirstAdmin(db)
  const owner = (await db.selectFrom('user').selectAll().where('is_admin', '=', 1).where('disabled', '=', 0).orderBy('created_at').limit(1).executeTakeFirst()) as UserRow | undefined
  if (!owner) throw new Error('No enabled administrator exists; create one with `npx kura user add NAME --admin`.')
  const { token } = await createToken(db, { userId: owner.id, name, role: 'admin', expiresInDays })
  return { token, firstAdmin, owner: owner.username }
}
