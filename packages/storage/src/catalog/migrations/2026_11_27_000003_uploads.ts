/**
 * @module Migration 000003: resumable uploads (tus) from site gateways.
 *
 * One row per upload holds everything a hub process needs to continue it (offset, length,
 * metadata, owner, expiry, result), so any process of a PostgreSQL installation can answer
 * its HEAD or PATCH; the bytes themselves live in `<dataDir>/uploads/<id>.part`. A PATCH in
 * progress holds a lease (`lock_token`, `lock_expires_at`) so two requests never append at once,
 * and a crashed process's lease simply runs out.
 */
import { sql, type Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

export async function up(db: Kysely<any>, env: MigrationEnv): Promise<void> {
  const t = sql.raw(env.byteOrderText)
  await db.schema
    .createTable('upload')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('kind', t, (c) => c.notNull())
    .addColumn('collection', t, (c) => c.notNull())
    .addColumn('study_instance_uid', t, (c) => c.notNull())
    .addColumn('sha256', t, (c) => c.notNull())
    .addColumn('object_count', 'integer', (c) => c.notNull())
    .addColumn('upload_length', 'bigint', (c) => c.notNull())
    .addColumn('upload_offset', 'bigint', (c) => c.notNull())
    .addColumn('state', t, (c) => c.notNull())
    .addColumn('owner_user_id', t, (c) => c.notNull())
    .addColumn('owner_token_id', t)
    .addColumn('lock_token', t)
    .addColumn('lock_expires_at', t)
    .addColumn('result', 'text')
    .addColumn('created_at', t, (c) => c.notNull())
    .addColumn('updated_at', t, (c) => c.notNull())
    .addColumn('expires_at', t, (c) => c.notNull())
    .execute()
  await db.schema.createIndex('upload_expires_idx').on('upload').column('expires_at').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('upload').execute()
}
