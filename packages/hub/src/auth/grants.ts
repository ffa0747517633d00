/**
 * @module Grants, sites and collections as access-control data: who holds which role where.
 */
import type { Kysely } from 'kysely'
import { newId } from '@kura/core'
import type { Database } from '@kura/storage'
import { AuthErrors } from './errors.ts'
import { isRole, ROLES, type Role } from './roles.ts'
import type { GrantLike } from './access.ts'

type Db = Kysely<Database>

const NAME = /^[A-Za-z0-9._-]{1,64}$/

export interface GrantView {
  id: string
  userId: string
  username: string
  role: Role
  collection: string | null
  site: string | null
  createdAt: string
}

export async function userGrants(db: Db, userId: string): Promise<GrantLike[]> {
  const rows = await db
    .selectFrom('grant as g')
    .leftJoin('collection as c', 'c.id', 'g.collection_id')
    .leftJoin('site as s', 's.id', 'g.site_id')
    .select(['g.role', 'c.name as collection', 's.name as site'])
    .where('g.user_id', '=', userId)
    .execute()
  return rows.filter((r) => isRole(r.role)).map((r) => ({ role: r.role as Role, collection: r.collection ?? null, site: r.site ?? null }))
}

export async function listGrants(db: Db, userId?: string): Promise<GrantView[]> {
  let q = db
    .selectFrom('grant as g')
    .innerJoin('user as u', 'u.id', 'g.user_id')
    .leftJoin('collection as c', 'c.id', 'g.collection_id')
    .leftJoin('site as s', 's.id', 'g.site_id')
    .select(['g.id', 'g.user_id', 'u.username', 'g.role', 'c.name as collection', 's.name as site', 'g.created_at'])
    .orderBy('u.username')
    .orderBy('g.created_at')
  if (userId) q = q.where('g.user_id', '=', userId)
  const rows = await q.execute()
  return rows.map((r) => ({ id: r.id, userId: r.user_id, username: r.username, role: r.role as Role, collection: r.collection ?? null, site: r.site ?? null, createdAt: r.created_at }))
}

export interface NewGrant {
  userId: string
  role: string
  collection?: string | null
  site?: string | null
}

export async function addGrant(db: Db, input: NewGrant): Promise<GrantView> {
  if (!isRole(input.role)) throw AuthErrors.badRequest(`Unknown role "${String(input.role).slice(0, 40)}"; use one of ${ROLES.join(', ')}.`)
  const user = await db.selectFrom('user').select(['id']).where('id', '=', input.userId).executeTakeFirst()
  if (!user) throw AuthErrors.notFound('The user')
  const collectionId = input.collection ? await collectionIdByName(db, input.collection) : null
  const siteId = input.site ? await siteIdByName(db, input.site) : null
  if (input.role === 'site_uploader' && !siteId) throw AuthErrors.badRequest('A site_uploader grant needs a site: give "site" (create it first under Sites).')
  const id = newId()
  try {
    await db.insertInto('grant').values({ id, user_id: input.userId, role: input.role, collection_id: collectionId, site_id: siteId, created_at: new Date().toISOString() }).execute()
  } catch (e) {
    if (isUniqueViolation(e)) throw AuthErrors.conflict('That user already holds this role on this collection and site.')
    throw e
  }
  const [view] = (await listGrants(db, input.userId)).filter((g) => g.id === id)
  return view!
}

export async function removeGrant(db: Db, id: string): Promise<void> {
  const r = await db.deleteFrom('grant').where('id', '=', id).executeTakeFirst()
  if (!Number(r.numDeletedRows)) throw AuthErrors.notFound('The grant')
}

export async function collectionIdByName(db: Db, name: string): Promise<string> {
  const row = await db.selectFrom('collection').select('id').where('name', '=', name).executeTakeFirst()
  if (!row) throw AuthErrors.notFound(`Collection "${name.slice(0, 64)}"`)
  return row.id
}

export async function siteIdByName(db: Db, name: string): Promise<string> {
  const row = await db.selectFrom('site').select('id').where('name', '=', name).executeTakeFirst()
  if (!row) throw AuthErrors.notFound(`Site "${name.slice(0, 64)}"`)
  return row.id
}

export interface SiteView {
  id: string
  name: string
  createdAt: string
}

export async function listSites(db: Db): Promise<SiteView[]> {
  return (await db.selectFrom('site').selectAll().orderBy('name').execute()).map((s) => ({ id: s.id, name: s.name, createdAt: s.created_at }))
}

export async function createSite(db: Db, name: string): Promise<SiteView> {
  if (!NAME.test(name)) throw AuthErrors.badRequest(`Site name "${name.slice(0, 80)}" is not valid: use 1–64 letters, digits, '-', '_' or '.'.`)
  const site = { id: newId(), name, created_at: new Date().toISOString() }
  try {
    await db.insertInto('site').values(site).execute()
  } catch (e) {
    if (isUniqueViolation(e)) throw AuthErrors.conflict(`A site named "${name}" already exists.`)
    throw e
  }
  return { id: site.id, name, createdAt: site.created_at }
}

export interface CollectionView {
  id: string
  name: string
  /** Only de-identified objects are accepted (checked on receipt). */
  deidentified: boolean
  studies: number
  instances: number
  createdAt: string
}

/** Collections with their sizes; `names` 'all' or the visible ones. */
export async function listCollections(db: Db, names: 'all' | string[]): Promise<CollectionView[]> {
  if (names !== 'all' && !names.length) return []
  let q = db
    .selectFrom('collection as c')
    .leftJoin('study as st', 'st.collection_id', 'c.id')
    .select((eb) => ['c.id', 'c.name', 'c.created_at', 'c.deidentified', eb.fn.count<number>('st.id').as('studies'), eb.fn.coalesce(eb.fn.sum<number>('st.number_of_instances'), eb.lit(0)).as('instances')])
    .groupBy(['c.id', 'c.name', 'c.created_at', 'c.deidentified'])
    .orderBy('c.name')
  if (names !== 'all') q = q.where('c.name', 'in', names)
  const rows = await q.execute()
  return rows.map((r) => ({ id: r.id, name: r.name, deidentified: r.deidentified === 1, studies: Number(r.studies), instances: Number(r.instances), createdAt: r.created_at }))
}

export async function createCollection(db: Db, name: string, deidentified = false): Promise<CollectionView> {
  if (!NAME.test(name)) throw AuthErrors.badRequest(`Collection name "${name.slice(0, 80)}" is not valid: use 1–64 letters, digits, '-', '_' or '.'.`)
  const row = { id: newId(), name, created_at: new Date().toISOString(), deidentified: deidentified ? 1 : 0 }
  try {
    await db.insertInto('collection').values(row).execute()
  } catch (e) {
    if (isUniqueViolation(e)) throw AuthErrors.conflict(`A collection named "${name}" already exists.`)
    throw e
  }
  return { id: row.id, name, deidentified, studies: 0, instances: 0, createdAt: row.created_at }
}

export async function setCollectionDeidentified(db: Db, name: string, deidentified: boolean): Promise<void> {
  const r = await db.updateTable('collection').set({ deidentified: deidentified ? 1 : 0 }).where('name', '=', name).executeTakeFirst()
  if (!Number(r.numUpdatedRows)) throw AuthErrors.notFound(`Collection "${name.slice(0, 64)}"`)
}

export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}
