/**
 * @module Migration 000004: collections that hold only de-identified data, and the hub's
 * quarantine for objects that failed the receipt check of such a collection.
 *
 * Quarantined objects are kept (under `quarantine/` in the object store) with the reasons, never
 * catalogued as instances and never served; curators see the list and discard or keep them.
 */
import { sql, type Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

export async function up(db: Kysely<any>, env: MigrationEnv): Promise<void> {
  const t = sql.raw(env.byteOrderText)
  await db.schema.alterTable('collection').addColumn('deidentified', 'integer', (c) => c.notNull().defaultTo(0)).execute()
  await db.schema
    .createTable('quarantine')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('collection_id', t, (c) => c.notNull().references('collection.id'))
    .addColumn('object_key', t, (c) => c.notNull())
    .addColumn('sha256', t, (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('sop_instance_uid', t, (c) => c.notNull())
    .addColumn('study_instance_uid', t, (c) => c.notNull())
    .addColumn('findings', 'text', (c) => c.notNull())
    .addColumn('received_at', t, (c) => c.notNull())
    .execute()
  await db.schema.createIndex('quarantine_collection_idx').on('quarantine').columns(['collection_id', 'received_at']).execute()
  await db.schema.createIndex('quarantine_sha256_idx').on('quarantine').column('sha256').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('quarantine').execute()
  await db.schema.alterTable('collection').dropColumn('deidentified').execute()
}
