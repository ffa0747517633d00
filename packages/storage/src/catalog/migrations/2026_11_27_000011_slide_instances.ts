/**
 * @module Migration 000011: slides made of several objects. A DICOM WSI is a set of instances (one per pyramid
 * level, plus label/overview/thumbnail); each is stored content-addressed (`slides/<sha256>`) and listed here for
 * its slide. A slide from one file (SVS, NDPI, TIFF) has no rows here: its `slide.object_key` is the file.
 */
import { sql, type Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

export async function up(db: Kysely<any>, env: MigrationEnv): Promise<void> {
  const t = sql.raw(env.byteOrderText)
  await db.schema
    .createTable('slide_instance')
    .addColumn('slide_id', t, (c) => c.notNull().references('slide.id').onDelete('cascade'))
    .addColumn('sha256', t, (c) => c.notNull())
    .addColumn('object_key', t, (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('sop_instance_uid', t, (c) => c.notNull())
    // VOLUME, LABEL, OVERVIEW or THUMBNAIL (Image Type value 3).
    .addColumn('flavor', t, (c) => c.notNull())
    .addPrimaryKeyConstraint('slide_instance_pkey', ['slide_id', 'sha256'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('slide_instance').execute()
}
