/**
 * @module Migration 000006: which site a study came from, when a site uploader sent it. A site
 * uploader may add to its own site's studies only. Keyed by Study Instance UID, not by the
 * catalog row, so the claim can be made before the study's first instance is catalogued (a
 * STOW request stores many instances of one new study at once).
 */
import { sql, type Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

export async function up(db: Kysely<any>, env: MigrationEnv): Promise<void> {
  const t = sql.raw(env.byteOrderText)
  await db.schema
    .createTable('study_site')
    .addColumn('study_instance_uid', t, (c) => c.primaryKey())
    .addColumn('site_id', t, (c) => c.notNull().references('site.id'))
    .addColumn('created_at', t, (c) => c.notNull())
    .execute()
  await db.schema.createIndex('study_site_site_idx').on('study_site').column('site_id').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('study_site').execute()
}
