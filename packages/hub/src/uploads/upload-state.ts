/**
 * @module Upload state in the catalog: create, look up, lease, advance, finish.
 *
 * Every change is a conditional UPDATE, so several hub processes on one PostgreSQL never
 * append to the same upload at once: a PATCH first takes the lease (only if the offset it
 * names is the stored one and nobody else holds an unexpired lease), and gives it back when
 * it has answered. The stored offset only ever counts fsync'd bytes.
 */
import type { Kysely, Selectable } from 'kysely'
import type { Database } from '@kura/storage'
import { newId } from '@kura/core'
import type { UploadMetadata } from './metadata.ts'

type Db = Kysely<Database>
export type UploadRow = Selectable<Database['upload']>
export type UploadState = 'receiving' | 'processing' | 'complete' | 'failed'

/** An upload expires this long after its creation or its last PATCH. */
export const UPLOAD_TTL_MS = 24 * 3600_000
/** A finished upload's row (its result) is kept this long after it finished. */
export const RESULT_TTL_MS = 7 * 24 * 3600_000
/** How long a lease lasts without renewal: a crashed process blocks its upload at most this long. */
export const LEASE_MS = 60_000

const iso = (ms: number) => new Date(ms).toISOString()

export async function createUpload(db: Db, meta: UploadMetadata, length: number, owner: { userId: string; tokenId: string | null }): Promise<UploadRow> {
  const now = Date.now()
  const row = {
    id: newId(),
    kind: meta.kind,
    collection: meta.collection,
    study_instance_uid: meta.study,
    sha256: meta.sha256,
    object_count: meta.count,
    upload_length: length,
    upload_offset: 0,
    state: 'receiving',
    owner_user_id: owner.userId,
    owner_token_id: owner.tokenId,
    lock_token: null,
    lock_expires_at: null,
    result: null,
    created_at: iso(now),
    updated_at: iso(now),
    expires_at: iso(now + UPLOAD_TTL_MS),
  }
  await db.insertInto('upload').values(row).execute()
  return row
}

export async function getUpload(db: Db, id: string): Promise<UploadRow | null> {
  return (await db.selectFrom('upload').selectAll().where('id', '=', id).executeTakeFirst()) ?? null
}

export function isExpired(row: UploadRow, now = Date.now()): boolean {
  return (row.state === 'receiving' || row.state === 'processing') && row.expires_at < iso(now) && !leaseLive(row, now)
}

export function leaseLive(row: UploadRow, now = Date.now()): boolean {
  return row.lock_token !== null && row.lock_expires_at !== null && row.lock_expires_at > iso(now)
}

/** Takes the upload's lease if `offset` is its offset and no live lease exists. Returns the lease token, or null. */
export async function acquireLease(db: Db, id: string, offset: number): Promise<string | null> {
  const token = newId()
  const now = Date.now()
  const r = await db
    .updateTable('upload')
    .set({ lock_token: token, lock_expires_at: iso(now + LEASE_MS) })
    .where('id', '=', id)
    .where('upload_offset', '=', offset)
    .where('state', 'in', ['receiving', 'processing'])
    .where((eb) => eb.or([eb('lock_token', 'is', null), eb('lock_expires_at', '<', iso(now))]))
    .executeTakeFirst()
  return Number(r.numUpdatedRows) === 1 ? token : null
}

export async function renewLease(db: Db, id: string, token: string): Promise<void> {
  await db.updateTable('upload').set({ lock_expires_at: iso(Date.now() + LEASE_MS) }).where('id', '=', id).where('lock_token', '=', token).execute()
}

/**
 * Records durably written bytes; the expiry moves 24 h past now. With `release`, the lease goes
 * in the same statement, before the response leaves: a client's next PATCH never finds it held.
 */
export async function advance(db: Db, id: string, token: string, offset: number, opts: { state?: UploadState; release?: boolean } = {}): Promise<string> {
  const now = Date.now()
  const expires = iso(now + UPLOAD_TTL_MS)
  const lease = opts.release ? { lock_token: null, lock_expires_at: null } : {}
  await db
    .updateTable('upload')
    .set({ upload_offset: offset, state: opts.state ?? 'receiving', updated_at: iso(now), expires_at: expires, ...lease })
    .where('id', '=', id)
    .where('lock_token', '=', token)
    .execute()
  return expires
}

export async function releaseLease(db: Db, id: string, token: string): Promise<void> {
  await db.updateTable('upload').set({ lock_token: null, lock_expires_at: null }).where('id', '=', id).where('lock_token', '=', token).execute()
}

/** Stores the outcome and frees the lease; the row is kept RESULT_TTL_MS for GET …/result. */
export async function finish(db: Db, id: string, token: string, state: 'complete' | 'failed', result: unknown): Promise<void> {
  const now = Date.now()
  await db
    .updateTable('upload')
    .set({ state, result: JSON.stringify(result), lock_token: null, lock_expires_at: null, updated_at: iso(now), expires_at: iso(now + RESULT_TTL_MS) })
    .where('id', '=', id)
    .where('lock_token', '=', token)
    .execute()
}

export async function deleteUpload(db: Db, id: string): Promise<void> {
  await db.deleteFrom('upload').where('id', '=', id).execute()
}

/** Uploads whose time is up: unfinished ones 24 h after their last PATCH, finished ones a week after. */
export async function listExpired(db: Db, now = Date.now()): Promise<UploadRow[]> {
  return db.selectFrom('upload').selectAll().where('expires_at', '<', iso(now)).limit(1000).execute()
}
