/**
 * @module Migration 000005: whole-slide images. One row per slide file stored in a collection;
 * the bytes live in the object store under `slides/<sha256>`, and the row keeps what the reader
 * found (levels, resolution, properties, associated images) so listings never open the file.
 */
import { sql, type Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

export async function up(db: Kysely<any>, env: MigrationEnv): Promise<void> {
  const t = sql.raw(env.byteOrderText)
  await db.schema
    .createTable('slide')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('collection_id', t, (c) => c.notNull().references('collection.id'))
    .addColumn('sha256', t, (c) => c.notNull())
    .addColumn('object_key', t, (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('format', t, (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('levels', 'text', (c) => c.notNull())
    .addColumn('mpp_x', 'double precision')
    .addColumn('mpp_y', 'double precision')
    .addColumn('objective_power', 'double precision')
    .addColumn('properties', 'text', (c) => c.notNull())
    .addColumn('associated', 'text', (c) => c.notNull())
    .addColumn('created_at', t, (c) => c.notNull())
    .addUniqueConstraint('slide_collection_sha256_key', ['collection_id', 'sha256'])
    .execute()
  await db.schema.createIndex('slide_collection_idx').on('slide').columns(['collection_id', 'created_at']).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('slide').execute()
}
