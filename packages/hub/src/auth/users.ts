/**
 * @module Users: local accounts (scrypt passwords, lockout) and accounts linked to an OIDC identity.
 */
import type { Kysely, Selectable } from 'kysely'
import { newId } from '@kura/core'
import type { Database, UserTable } from '@kura/storage'
import { AuthErrors } from './errors.ts'
import { hashPassword, oneTimePassword, passwordProblem, verifyPassword } from './passwords.ts'

type Db = Kysely<Database>
export type UserRow = Selectable<UserTable>

/** Failed sign-ins in a row that lock an account, and for how long. */
export const LOCKOUT_FAILURES = 5
export const LOCKOUT_MS = 15 * 60_000

export interface UserView {
  id: string
  username: string
  displayName: string
  email: string
  isAdmin: boolean
  disabled: boolean
  lockedUntil: string | null
  oidc: boolean
  createdAt: string
}

export function userView(u: UserRow): UserView {
  return {
    id: u.id,
    username: u.username,
    displayName: u.display_name,
    email: u.email,
    isAdmin: u.is_admin === 1,
    disabled: u.disabled === 1,
    lockedUntil: u.locked_until && u.locked_until > new Date().toISOString() ? u.locked_until : null,
    oidc: u.oidc_subject !== null,
    createdAt: u.created_at,
  }
}

const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/

export interface NewUser {
  username: string
  displayName?: string
  email?: string
  isAdmin?: boolean
}

/** Creates a local user with a one-time password they must change at first sign-in. */
export async function createUser(db: Db, input: NewUser): Promise<{ user: UserRow; oneTimePassword: string }> {
  if (!USERNAME.test(input.username)) throw AuthErrors.badRequest(`User name "${input.username.slice(0, 80)}" is not valid: use 1–64 letters, digits, '.', '_', '@' or '-'.`)
  const existing = await findUserByName(db, input.username)
  if (existing) throw AuthErrors.conflict(`A user named "${input.username}" already exists.`)
  const password = oneTimePassword()
  const user: UserRow = {
    id: newId(),
    username: input.username,
    display_name: input.displayName ?? input.username,
    email: input.email ?? '',
    password_hash: await hashPassword(password),
    must_change_password: 1,
    oidc_issuer: null,
    oidc_subject: null,
    is_admin: input.isAdmin ? 1 : 0,
    disabled: 0,
    failed_logins: 0,
    locked_until: null,
    created_at: new Date().toISOString(),
  }
  await db.insertInto('user').values(user).execute()
  return { user, oneTimePassword: password }
}

export async function findUserByName(db: Db, username: string): Promise<UserRow | undefined> {
  return db.selectFrom('user').selectAll().where('username', '=', username).executeTakeFirst()
}

export async function getUser(db: Db, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('user').selectAll().where('id', '=', id).executeTakeFirst()
}

export async function listUsers(db: Db): Promise<UserRow[]> {
  return db.selectFrom('user').selectAll().orderBy('username').execute()
}

export async function countUsers(db: Db): Promise<number> {
  const r = await db.selectFrom('user').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  return Number(r.n)
}

/**
 * Checks a local sign-in. Failures count towards a lockout; the same error is given for an
 * unknown user and a wrong password, and the hash work is done either way so timing tells nothing.
 */
export async function authenticatePassword(db: Db, username: string, password: string): Promise<UserRow> {
  const user = await findUserByName(db, username)
  const now = new Date()
  if (!user || !user.password_hash) {
    await verifyPassword(password, DUMMY_HASH)
    throw AuthErrors.invalidCredentials()
  }
  if (user.locked_until && user.locked_until > now.toISOString()) throw AuthErrors.locked(user.locked_until)
  const ok = await verifyPassword(password, user.password_hash)
  if (!ok) {
    const failures = user.failed_logins + 1
    const lockedUntil = failures >= LOCKOUT_FAILURES ? new Date(now.getTime() + LOCKOUT_MS).toISOString() : null
    await db
      .updateTable('user')
      .set({ failed_logins: lockedUntil ? 0 : failures, locked_until: lockedUntil })
      .where('id', '=', user.id)
      .execute()
    if (lockedUntil) throw AuthErrors.locked(lockedUntil)
    throw AuthErrors.invalidCredentials()
  }
  if (user.disabled === 1) throw AuthErrors.disabled()
  if (user.failed_logins || user.locked_until) await db.updateTable('user').set({ failed_logins: 0, locked_until: null }).where('id', '=', user.id).execute()
  return user
}

// A real hash of a random password: verifying against it costs what a real check costs.
const DUMMY_HASH = 'scrypt$32768$8$1$wXvubqE_PxbIwrE4QQE4Aw$qo6fPC8cz3BMFNBj96pFnYwVTM_uJozbrZ8p57b2Xy0'

export async function changePassword(db: Db, userId: string, current: string | null, next: string): Promise<void> {
  const problem = passwordProblem(next)
  if (problem) throw AuthErrors.badRequest(`The new password is too weak. ${problem}`)
  const user = await getUser(db, userId)
  if (!user) throw AuthErrors.notFound('The user')
  if (current !== null && (!user.password_hash || !(await verifyPassword(current, user.password_hash)))) throw AuthErrors.invalidCredentials()
  await db.updateTable('user').set({ password_hash: await hashPassword(next), must_change_password: 0 }).where('id', '=', userId).execute()
}

export interface UserChanges {
  displayName?: string
  email?: string
  isAdmin?: boolean
  disabled?: boolean
  unlock?: boolean
}

export async function updateUser(db: Db, id: string, changes: UserChanges): Promise<UserRow> {
  const set: Partial<UserRow> = {}
  if (changes.displayName !== undefined) set.display_name = changes.displayName
  if (changes.email !== undefined) set.email = changes.email
  if (changes.isAdmin !== undefined) set.is_admin = changes.isAdmin ? 1 : 0
  if (changes.disabled !== undefined) set.disabled = changes.disabled ? 1 : 0
  if (changes.unlock) Object.assign(set, { locked_until: null, failed_logins: 0 })
  if (Object.keys(set).length) await db.updateTable('user').set(set).where('id', '=', id).execute()
  const user = await getUser(db, id)
  if (!user) throw AuthErrors.notFound('The user')
  return user
}

export interface OidcIdentityLike {
  issuer: string
  subject: string
  email?: string
  name?: string
  preferredUsername?: string
}

/**
 * The user linked to an OIDC identity, created on first sign-in with no grants (an administrator
 * then grants roles). Linking is by issuer + subject only, never by e-mail, which an identity
 * provider may let users change.
 */
export async function userForOidc(db: Db, id: OidcIdentityLike): Promise<UserRow> {
  const found = await db.selectFrom('user').selectAll().where('oidc_issuer', '=', id.issuer).where('oidc_subject', '=', id.subject).executeTakeFirst()
  if (found) {
    if (found.disabled === 1) throw AuthErrors.disabled()
    return found
  }
  const base = (id.preferredUsername ?? id.email?.split('@')[0] ?? `oidc-${id.subject}`).replace(/[^A-Za-z0-9._@-]/g, '_').slice(0, 56) || 'oidc-user'
  let username = base
  for (let i = 2; await findUserByName(db, username); i++) username = `${base}-${i}`
  const user: UserRow = {
    id: newId(),
    username,
    display_name: id.name ?? username,
    email: id.email ?? '',
    password_hash: null,
    must_change_password: 0,
    oidc_issuer: id.issuer,
    oidc_subject: id.subject,
    is_admin: 0,
    disabled: 0,
    failed_logins: 0,
    locked_until: null,
    created_at: new Date().toISOString(),
  }
  await db.insertInto('user').values(user).execute()
  return user
}
