/**
 * @module Migration 000009: de-identified clinical records and their search index. A record is
 * kept whole as JSON text (`body`, the schema's shape, never identity); the columns beside it and
 * the two child tables exist only so search, linking and counting never parse the JSON: one row
 * per coded term (finding, diagnosis, ...) for search by code, and one per Study Instance UID the
 * record describes, to show records beside their images. `record_key` (SHA-256 of the record's
 * canonical JSON) makes receipt idempotent per collection. A record's identity is (collection,
 * site, source system, kind, pseudonymised record id, subject): a new version of it supersedes the
 * old one, which is kept (`superseded_by`) but no longer searched (see docs/upload-protocol.md).
 */
import { sql, type Kysely } from 'kysely'
import type { MigrationEnv } from './index.ts'

export async function up(db: Kysely<any>, env: MigrationEnv): Promise<void> {
  const t = sql.raw(env.byteOrderText)
  await db.schema
    .createTable('clinical_record')
    .addColumn('id', t, (c) => c.primaryKey())
    .addColumn('collection_id', t, (c) => c.notNull().references('collection.id'))
    // Null when a curator (no site) sent it; a site uploader's records always carry its site.
    .addColumn('site_id', t, (c) => c.references('site.id'))
    .addColumn('record_key', t, (c) => c.notNull())
    .addColumn('source_system', t, (c) => c.notNull())
    .addColumn('kind', t, (c) => c.notNull())
    .addColumn('source_record_id', t, (c) => c.notNull())
    .addColumn('superseded_by', t)
    .addColumn('schema', t, (c) => c.notNull())
    // The pseudonymous subject: equals subject.patient_id of the same collection's DICOM side.
    .addColumn('subject_id', t, (c) => c.notNull())
    .addColumn('performed_at', t, (c) => c.notNull())
    .addColumn('exam_type', t)
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('received_at', t, (c) => c.notNull())
    .addUniqueConstraint('clinical_record_collection_key', ['collection_id', 'record_key'])
    .execute()
  // Results are listed newest first by (performed_at, id), within a collection or across the visible ones.
  await db.schema.createIndex('clinical_record_order_idx').on('clinical_record').columns(['performed_at', 'id']).execute()
  await db.schema.createIndex('clinical_record_collection_order_idx').on('clinical_record').columns(['collection_id', 'performed_at', 'id']).execute()
  await db.schema.createIndex('clinical_record_kind_idx').on('clinical_record').columns(['collection_id', 'kind', 'performed_at']).execute()
  await db.schema.createIndex('clinical_record_exam_type_idx').on('clinical_record').columns(['collection_id', 'exam_type', 'performed_at']).execute()
  await db.schema.createIndex('clinical_record_subject_idx').on('clinical_record').columns(['collection_id', 'subject_id']).execute()
  // Receipt looks a batch's record ids up at once to find the versions they supersede.
  await db.schema.createIndex('clinical_record_identity_idx').on('clinical_record').columns(['collection_id', 'source_record_id']).execute()
  await db.schema.createIndex('clinical_record_site_idx').on('clinical_record').columns(['site_id', 'performed_at']).execute()

  await db.schema
    .createTable('clinical_record_code')
    .addColumn('record_id', t, (c) => c.notNull().references('clinical_record.id'))
    // 'finding' | 'diagnosis' | 'procedure' | 'adverse_event' | 'site' | 'indication'
    .addColumn('role', t, (c) => c.notNull())
    .addColumn('system', t, (c) => c.notNull())
    .addColumn('code', t, (c) => c.notNull())
    .addPrimaryKeyConstraint('clinical_record_code_pkey', ['record_id', 'role', 'system', 'code'])
    .execute()
  // Search asks "which records carry this code" (optionally in one role and system).
  await db.schema.createIndex('clinical_record_code_code_idx').on('clinical_record_code').columns(['code', 'system', 'role', 'record_id']).execute()

  await db.schema
    .createTable('clinical_record_study')
    .addColumn('record_id', t, (c) => c.notNull().references('clinical_record.id'))
    .addColumn('study_instance_uid', t, (c) => c.notNull())
    .addPrimaryKeyConstraint('clinical_record_study_pkey', ['record_id', 'study_instance_uid'])
    .execute()
  await db.schema.createIndex('clinical_record_study_uid_idx').on('clinical_record_study').columns(['study_instance_uid', 'record_id']).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['clinical_record_study', 'clinical_record_code', 'clinical_record']) await db.schema.dropTable(table).execute()
}
