/**
 * @module Who may take part in a task: a reader needs annotation:write and a reviewer annotation:review on the
 * task's collection, from their own grants (checked when the task is made, so a task never names someone who
 * could not do the work), and user names for the views.
 */
import type { Kysely } from 'kysely'
import type { Database } from '@kura/storage'
import { Access, scopesOfUser } from '../auth/access.ts'
import { userGrants } from '../auth/grants.ts'
import type { GrantedPermission } from '../auth/roles.ts'
import type { UserRef } from './model.ts'

type Db = Kysely<Database>

/** Whether the (enabled) user holds the permission on the collection through their grants. */
export async function userHolds(db: Db, userId: string, permission: GrantedPermission, collection: string): Promise<boolean> {
  const user = await db.selectFrom('user').select(['id', 'username', 'is_admin', 'disabled']).where('id', '=', userId).executeTakeFirst()
  if (!user || user.disabled === 1) return false
  const scopes = scopesOfUser(user.is_admin === 1, await userGrants(db, userId))
  const access = new Access({ kind: 'session', userId, username: user.username, isAdmin: user.is_admin === 1, tokenId: null, csrfToken: null, mustChangePassword: false, scopes })
  return access.can(permission, collection)
}

/** User names by id (unknown ids are left out). */
export async function userRefs(db: Db, ids: Iterable<string>): Promise<Map<string, UserRef>> {
  const list = [...new Set(ids)]
  const out = new Map<string, UserRef>()
  for (let i = 0; i < list.length; i += 500) {
    const rows = await db.selectFrom('user').select(['id', 'username']).where('id', 'in', list.slice(i, i + 500)).execute()
    for (const r of rows) out.set(r.id, { id: r.id, username: r.username })
  }
  return out
}
